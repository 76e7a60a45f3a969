"""Platforms that answer 200 to a failed call: Altcraft's ``error``, Pushwoosh v1's
``status_code``. Pure logic over a fake transport; the HTTP part is tested elsewhere
against the real sandbox."""

from __future__ import annotations

import json

import httpx
import pytest

from workers.core.platform_settings import AltcraftConfig, PushwooshConfig
from workers.platforms import errors
from workers.platforms.altcraft import AltcraftClient
from workers.platforms.pushwoosh import PushwooshClient


def answering(body: dict, seen: list | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


def altcraft(body, seen=None) -> AltcraftClient:
    config = AltcraftConfig(base_url="http://altcraft", token="tok", list_id=20)
    return AltcraftClient(config, transport=answering(body, seen))


def pushwoosh(body, seen=None) -> PushwooshClient:
    config = PushwooshConfig(base_url="http://pw", api_token="tok", application="APP")
    return PushwooshClient(config, transport=answering(body, seen))


def test_altcraft_success_returns_data_and_sends_token_and_list():
    seen = []
    data = altcraft({"data": [{"action": "open"}], "error": 0, "error_text": "ok"}, seen).history(
        xxh="0eb51aefd919f90a", date_from="2017-01-01"
    )
    assert data == [{"action": "open"}]
    assert json.loads(seen[0].content) == {
        "token": "tok",
        "list_id": 20,
        "xxh": "0eb51aefd919f90a",
        "date_from": "2017-01-01",
    }
    assert seen[0].url.path == "/api/v1.1/subscribers/history_get"


@pytest.mark.parametrize("body", [{"error": 3, "error_text": "Profile not found"}, {"data": []}])
def test_altcraft_error_in_a_200_is_permanent(body):
    with pytest.raises(errors.Rejected) as caught:
        altcraft(body).history(xxh="x")
    assert caught.value.status == 200


def test_pushwoosh_v1_wraps_auth_and_unwraps_response():
    seen = []
    answer = {"status_code": 200, "status_message": "OK", "response": {"request_id": "r1"}}
    assert pushwoosh(answer, seen).v1("getMsgStats", message="M-1") == {"request_id": "r1"}
    assert json.loads(seen[0].content) == {"request": {"auth": "tok", "message": "M-1"}}
    assert seen[0].url.path == "/json/1.3/getMsgStats"


def test_pushwoosh_v2_sends_the_key_header():
    seen = []
    pushwoosh({"messages": []}, seen).v2("/api/v2/messages:list", {"page": 1})
    assert seen[0].headers["Authorization"] == "Key tok"


@pytest.mark.parametrize(
    ("code", "cls"), [(210, errors.Rejected), (500, errors.ServerError), (401, errors.Unauthorized)]
)
def test_pushwoosh_v1_status_code_in_a_200_is_classified(code, cls):
    with pytest.raises(cls):
        pushwoosh({"status_code": code, "status_message": "nope"}).v1("getMsgStats", message="M")

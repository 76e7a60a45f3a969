"""``/v1/campaigns/crm``: campaigns listed, read, created and rewritten on the platform
(the sandbox, which takes only what its documentation requires), hooks wired."""

from __future__ import annotations

import base64

import pytest

from webhook.app import create_app
from webhook.hub import EXTENSION

from ..conftest import make_settings
from .test_events import AUTH, queued
from .test_hooks import called

PUBLIC_URL = "https://relay.example.com"
MAILING = {"kind": "mailing", "message_type": "L", "message_id": 5, "source_type": "S"}


@pytest.fixture
def api(redis_url, clean_sandbox):
    settings = make_settings(
        redis_url,
        **clean_sandbox.platform_env(),
        HOOKRELAY_PUBLIC_URL=PUBLIC_URL,
        HOOKRELAY_HOOK_KEYS="k" * 32,
    )
    app = create_app(settings)
    yield app.test_client()
    app.extensions[EXTENSION].stop()


def create(api, body):
    return api.post("/v1/campaigns/crm", json=body, headers=AUTH)


def test_a_campaign_is_created_with_its_hooks_wired_to_this_receiver(api, clean_sandbox):
    answer = create(api, {**MAILING, "source_id": 3, "config": {"send_by_uid": True}})
    assert answer.status_code == 201, answer.json
    campaign_id = answer.json["id"]
    config = answer.json["config"]
    assert config["send_by_uid"] is True
    assert (config["hook_use_auth"], config["hook_pre_post"]) == (True, True)
    template = config["hook_url_template"]
    assert template.startswith(f"{PUBLIC_URL}/v1/hooks/crm?campaign_id={campaign_id}&kind=mailing")
    [created] = clean_sandbox.received("crm.campaign_create")
    assert "hook_url_template" not in created["body"].get("config", {}), "the id comes first"
    assert clean_sandbox.received("crm.campaign_rewrite")[0]["status"] == 200

    # The platform calls the template it was given, without Basic auth: accepted.
    assert api.post(called(template, stage="pre", email="a@example.com")).json == {"allow": True}

    shown = api.get(f"/v1/campaigns/crm/{campaign_id}?kind=mailing", headers=AUTH)
    assert shown.json["config"]["hook_url_template"] == template
    listed = api.get("/v1/campaigns/crm?kind=mailing", headers=AUTH).json
    assert [c["id"] for c in listed["campaigns"]] == [campaign_id]


def test_asked_to_start_at_once_it_starts_only_once_its_hooks_are_wired(
    api, clean_sandbox, redis_url
):
    answer = create(api, {**MAILING, "source_id": 3, "start_immediately": True})
    assert answer.status_code == 201 and answer.json["start"] == "queued"
    [created] = clean_sandbox.received("crm.campaign_create")
    assert created["body"]["start_immediately"] is False
    [start] = queued(redis_url, queue="campaigns")
    assert start.args[0]["campaign"] == {
        "platform": "crm",
        "kind": "mailing",
        "id": answer.json["id"],
    }


def test_a_file_is_sent_as_a_data_url(api, clean_sandbox):
    csv = "data:text/csv;base64," + base64.b64encode(b"email\na@example.com\n").decode()
    body = {
        **MAILING,
        "kind": "ab",
        "messages_type": "L",
        "source_type": "U",
        "source_uploaded_csv": csv,
    }
    del body["message_type"]
    assert create(api, body).status_code == 201
    assert clean_sandbox.received("crm.campaign_create")[0]["body"]["source_uploaded_csv"] == csv


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**MAILING, "source_id": "3"}, "source_id"),
        ({**MAILING}, "source_id"),
        ({**MAILING, "source_id": 3, "planned_at": "2026-12-07T10:00:00"}, "planned_at"),
        ({**MAILING, "kind": "automated", "source_id": 3, "crontab": "0 25 * * *"}, "crontab"),
        ({**MAILING, "source_id": 3, "config": {"hook_url_template": f"{PUBLIC_URL}/x"}}, "config"),
        ({**MAILING, "source_type": "U", "source_uploaded_csv": "a,b"}, "source_uploaded_csv"),
        ({**MAILING, "kind": "weekly"}, "kind"),
    ],
)
def test_a_bad_campaign_is_a_422_naming_the_field_and_nothing_is_sent(
    api, clean_sandbox, body, field
):
    answer = create(api, body)
    assert answer.status_code == 422
    assert field in answer.json["errors"]
    assert clean_sandbox.received() == []


def test_hooks_without_a_public_url_are_a_422_naming_it_and_nothing_is_sent(
    redis_url, clean_sandbox
):
    settings = make_settings(redis_url, **clean_sandbox.platform_env())
    api = create_app(settings).test_client()
    answer = create(api, {**MAILING, "source_id": 3})
    assert answer.status_code == 422
    assert "HOOKRELAY_PUBLIC_URL" in answer.json["message"]
    assert clean_sandbox.received() == []
    assert create(api, {**MAILING, "source_id": 3, "hooks": False}).status_code == 201


def test_a_rewrite_keeps_the_hooks_wired(api, clean_sandbox):
    campaign_id = create(api, {**MAILING, "source_id": 3}).json["id"]
    rewritten = api.put(
        f"/v1/campaigns/crm/{campaign_id}", json={**MAILING, "source_id": 4}, headers=AUTH
    )
    assert rewritten.status_code == 200
    assert rewritten.json["source_id"] == 4
    assert f"campaign_id={campaign_id}" in rewritten.json["config"]["hook_url_template"]


def test_a_busy_platform_is_retried_then_its_words_come_back(api, clean_sandbox):
    clean_sandbox.fault("crm.campaign_create", status=503, count=2)
    assert create(api, {**MAILING, "source_id": 3}).status_code == 201, "retried within 5 s"
    clean_sandbox.fault("crm.campaign_create", status=503, count=100)
    busy = create(api, {**MAILING, "source_id": 3})
    assert busy.status_code == 502
    assert "did not answer in time" in busy.json["message"]


def test_a_refusal_of_the_platform_is_a_422_with_its_words(api, clean_sandbox):
    answer = api.put("/v1/campaigns/crm/999", json={**MAILING, "source_id": 3}, headers=AUTH)
    assert answer.status_code == 404
    assert "Not found" in answer.json["platform_said"]
    clean_sandbox.fault("crm.campaign_create", status=400, count=1)
    refused = create(api, {**MAILING, "source_id": 3})
    assert refused.status_code == 422 and refused.json["message"] == "The platform refused it."


SEGMENT = {"name": "VIP", "tags": "vip", "condition": {"field": "level", "gte": 7}}


def test_a_segment_is_created_rewritten_edited_read_listed_and_generated(api, clean_sandbox):
    created = api.post("/v1/segments/crm", json=SEGMENT, headers=AUTH)
    assert created.status_code == 201, created.json
    segment_id = created.json["id"]
    assert created.json["condition"] == SEGMENT["condition"]
    path = f"/v1/segments/crm/{segment_id}"
    rewritten = api.put(path, json={**SEGMENT, "segment_limit": 1000}, headers=AUTH)
    assert rewritten.json["segment_limit"] == 1000
    edited = api.patch(path, json={"name": "VIP+"}, headers=AUTH)
    assert (edited.json["name"], edited.json["segment_limit"]) == ("VIP+", 1000)
    assert [r["method"] for r in clean_sandbox.received("crm.segment_change")] == ["PUT", "PATCH"]
    assert api.get(path, headers=AUTH).json["name"] == "VIP+"
    listed = api.get("/v1/segments/crm", headers=AUTH).json["segments"]
    assert [s["id"] for s in listed] == [segment_id]
    generating = api.post(f"{path}/generate", headers=AUTH)
    assert generating.status_code == 200 and generating.json["generating"] == segment_id
    assert clean_sandbox.received("crm.segment_generate")[0]["status"] == 200


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("post", {"name": "x"}, "condition"),
        ("post", {**SEGMENT, "condition": "level > 7"}, "condition"),
        ("post", {**SEGMENT, "segment_limit": 0}, "segment_limit"),
        ("put", {"condition": {}}, "name"),
        ("patch", {"colour": "red"}, "colour"),
    ],
)
def test_a_bad_segment_is_a_422_naming_the_field_and_nothing_is_sent(
    api, clean_sandbox, method, body, field
):
    path = "/v1/segments/crm" if method == "post" else "/v1/segments/crm/10001"
    answer = getattr(api, method)(path, json=body, headers=AUTH)
    assert answer.status_code == 422
    assert field in answer.json["errors"]
    assert clean_sandbox.received() == []


def test_an_unknown_segment_is_a_404_with_the_platform_s_words(api):
    answer = api.post("/v1/segments/crm/424242/generate", headers=AUTH)
    assert answer.status_code == 404 and "Not found" in answer.json["platform_said"]


@pytest.mark.parametrize("path", ["/v1/campaigns/crm", "/v1/segments/crm"])
def test_an_id_past_any_the_platform_gives_is_a_404_whatever_the_method(api, clean_sandbox, path):
    huge = f"{path}/{'9' * 25}"
    for method in ("get", "put"):
        answer = getattr(api, method)(
            f"{huge}?kind=mailing", json={**MAILING, "source_id": 3}, headers=AUTH
        )
        assert answer.status_code == 404, (method, answer.status_code)
    assert clean_sandbox.received() == []

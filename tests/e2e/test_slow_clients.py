"""Slow and malformed clients cannot take the receiver down, on the Procfile's ``web``:

- connections that trickle their head, their body (with or without ``Expect:
  100-continue``) or their chunks, without credentials, hold nothing the others need:
  authenticated events, hooks and ``/healthz`` are answered meanwhile, and each slow
  connection is closed once ``WEB_READ_TIMEOUT_S`` has passed;
- malformed framing gets one 4xx answer or a closed connection, never a 500 and never
  two answers, on every route that takes a body.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from bench.hostile import MALFORMED, SLOW, Trickler, exchange, malformed_request

from ..support import API_KEY, wait_for
from .stack import running_stack

HOOK_USER, HOOK_PASSWORD = "hooks", "hook-secret"
READ_TIMEOUT_S = 4


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("slow-clients"),
        workers=0,
        WEB_READ_TIMEOUT_S=str(READ_TIMEOUT_S),
        HOOKRELAY_HOOK_USER=HOOK_USER,
        HOOKRELAY_HOOK_PASSWORD=HOOK_PASSWORD,
    ) as running:
        yield running


@pytest.mark.parametrize(("kind", "count"), [("head", 200), *((k, 80) for k in list(SLOW)[1:])])
def test_slow_clients_hold_nothing_and_are_closed_in_bounded_time(stack, kind, count):
    port = int(stack.env["PORT"])
    trickler = Trickler(port, count, kind)
    started = time.monotonic()
    try:
        quick = httpx.Client(base_url=stack.http.base_url, timeout=3, headers=stack.http.headers)
        with quick:
            for _ in range(5):
                assert quick.post("/v1/events", json={"events": [event()]}).status_code == 202
                assert quick.get("/healthz").status_code == 200
                assert pre_hook(quick).status_code == 200
        if time.monotonic() - started < READ_TIMEOUT_S - 1:
            assert not trickler.closed_by_server, "closed before the read timeout"
        wait_for(trickler.all_closed, timeout_s=3 * READ_TIMEOUT_S)
    finally:
        trickler.stop()


def event() -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": "event",
        "timestamp": datetime.now(UTC).isoformat(),
        "user": {"uid": "u1"},
        "name": "purchase",
    }


def pre_hook(client: httpx.Client) -> httpx.Response:
    return client.post(
        "/v1/hooks/crm",
        params={"stage": "pre", "campaign_id": 1, "email": "a@example.com"},
        headers={"Authorization": f"Basic {HOOK_CREDENTIALS}"},
    )


HOOK_CREDENTIALS = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
#: Each route that takes a body, with the credentials it accepts (none for /v1/batch:
#: it is refused before its body matters, and must still be refused cleanly).
TARGETS = {
    "/v1/events": f"Bearer {API_KEY}",
    "/v1/batch": None,
    "/v1/suppressions": f"Bearer {API_KEY}",
    "/v1/dlq/replay": f"Bearer {API_KEY}",
    "/v1/hooks/crm?stage=pre&campaign_id=1&email=a@example.com": f"Basic {HOOK_CREDENTIALS}",
}


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("framing", list(MALFORMED))
def test_malformed_framing_gets_one_4xx_or_a_closed_connection(stack, target, framing):
    request = malformed_request(target, framing, TARGETS[target])
    statuses = exchange(int(stack.env["PORT"]), request)
    assert len(statuses) <= 1, f"{len(statuses)} answers to one request: {statuses}"
    assert all(400 <= status < 500 for status in statuses), statuses


def test_a_chunked_body_is_read_whole(stack):
    body = json.dumps({"events": [event(), event()]}).encode()
    chunks = (body[i : i + 100] for i in range(0, len(body), 100))
    response = stack.http.post(
        "/v1/events", content=chunks, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0}


def test_a_chunked_body_over_the_limit_is_refused_with_413(stack):
    chunks = (b"x" * 65536 for _ in range(6 * 16))  # 6 MiB, no Content-Length
    response = stack.http.post(
        "/v1/events", content=chunks, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text

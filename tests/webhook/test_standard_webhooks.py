"""Standard Webhooks signatures on the receiver, signed by the ``standardwebhooks``
package itself and by Svix's client: rotation, expiry, tampering, and the
``webhook-id`` as the idempotency key."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook
from svix.webhooks import Webhook as SvixWebhook

from webhook.app import create_app
from workers.core.settings import ConfigError, load_settings

from ..conftest import make_settings
from ..support import API_KEY
from .test_events import buffered, profile

OLD = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
NEW = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def client(redis_url):
    settings = make_settings(redis_url, HOOKRELAY_SIGNING_SECRET=f"{OLD},{NEW}")
    return create_app(settings).test_client()


def signed(secret: str, body: bytes, *, msg_id: str = "msg_1", at: datetime | None = None):
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def post(client, body: bytes, headers: dict):
    return client.post(
        "/v1/events", data=body, headers={**AUTH, **headers}, content_type="application/json"
    )


def body_of(event: dict) -> bytes:
    return json.dumps(event).encode()


@pytest.mark.parametrize("secret", [OLD, NEW], ids=["old", "new"])
def test_either_configured_secret_signs(client, secret):
    body = body_of(profile("sw-1"))
    assert post(client, body, signed(secret, body)).status_code == 202


def test_a_signature_made_by_svix_is_accepted(client):
    body = body_of(profile("svix-1"))
    at = datetime.now(UTC)
    signature = SvixWebhook(NEW).sign("msg_svix", at, body.decode())
    headers = {
        "webhook-id": "msg_svix",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    assert post(client, body, headers).status_code == 202


def test_several_signatures_one_of_them_valid_pass(client):
    body = body_of(profile("sw-2"))
    headers = signed(NEW, body)
    unknown = Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).sign(
        "msg_1", datetime.now(UTC), body.decode()
    )
    headers["webhook-signature"] = f"{unknown} {headers['webhook-signature']}"
    assert post(client, body, headers).status_code == 202


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda body, h: (body + b" ", h), "No matching signature"),
        (lambda body, h: (body, {**h, "webhook-id": "msg_other"}), "No matching signature"),
        (
            lambda body, h: (body, signed(NEW, body, at=datetime.now(UTC) - timedelta(minutes=6))),
            "too old",
        ),
        (
            lambda body, h: (body, signed(NEW, body, at=datetime.now(UTC) + timedelta(minutes=6))),
            "too new",
        ),
        (lambda body, h: (body, {**h, "webhook-signature": "v1"}), "Malformed"),
        (lambda body, h: (body, {**h, "webhook-signature": "v1,abc"}), "Malformed"),
        (lambda body, h: (body, {**h, "webhook-signature": "v1,\u00e9"}), "Malformed"),
        (lambda body, h: (body, {**h, "webhook-timestamp": "soon"}), "Invalid Signature Headers"),
        (lambda body, h: (body, {k: v for k, v in h.items() if k != "webhook-id"}), "Missing"),
    ],
    ids=[
        "tampered",
        "other-id",
        "old",
        "future",
        "no-comma",
        "bad-base64",
        "not-ascii",
        "bad-time",
        "no-id",
    ],
)
def test_a_signature_that_does_not_hold_is_a_401_saying_why(client, redis_url, change, said):
    body = body_of(profile("sw-bad"))
    body, headers = change(body, signed(NEW, body))
    answer = post(client, body, headers)
    assert answer.status_code == 401, answer.json
    assert said in answer.json["message"]
    assert buffered(redis_url) == []


def test_unsigned_is_refused_naming_the_headers_and_no_other_scheme_is_taken(client, redis_url):
    body = body_of(profile("sw-3"))
    unsigned = post(client, body, {})
    assert unsigned.status_code == 401
    assert "webhook-signature" in unsigned.json["message"]
    at = int(datetime.now(UTC).timestamp())
    older = {"X-Hookrelay-Signature": f"t={at},v1=" + "0" * 64}
    assert post(client, body, older).status_code == 401, "one signature scheme"
    assert buffered(redis_url) == []


def test_the_webhook_id_names_events_that_carry_no_id(client, redis_url):
    one = {k: v for k, v in profile("unused").items() if k != "id"}
    body = body_of(one)
    assert post(client, body, signed(NEW, body, msg_id="msg_single")).json == {
        "accepted": 1,
        "duplicates": 0,
    }
    again = post(client, body, signed(NEW, body, msg_id="msg_single"))
    assert again.json == {"accepted": 0, "duplicates": 1}, "a resent message is a duplicate"
    batch = body_of({"events": [one, one]})
    assert post(client, batch, signed(NEW, batch, msg_id="msg_batch")).status_code == 202
    ids = [update["id"] for update in buffered(redis_url)]
    assert ids == ["msg_single", "msg_batch.0", "msg_batch.1"]


def test_the_segment_routes_take_unsigned_sdks_but_check_a_signature_given(client):
    body = json.dumps({"batch": [{"type": "track", "userId": "u", "event": "E"}]}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    assert client.post("/v1/batch", data=body, headers=headers).status_code == 200
    forged = {**headers, **signed(NEW, b"something else")}
    refused = client.post("/v1/batch", data=body, headers=forged)
    assert refused.status_code == 401 and set(refused.json) == {"code", "message"}


@pytest.mark.parametrize("secret", ["whsec_short", "whsec_not*base64"])
def test_a_malformed_whsec_secret_stops_the_start(secret):
    with pytest.raises(ConfigError) as caught:
        load_settings({"HOOKRELAY_SIGNING_SECRET": secret})
    assert "HOOKRELAY_SIGNING_SECRET" in caught.value.problems

"""``/v1/hooks/<platform>`` and ``/v1/suppressions`` against a real Redis."""

from __future__ import annotations

import time

import pytest
import redis
from werkzeug.datastructures import Authorization

from webhook.app import create_app
from webhook.gate.gate import FREQUENCY_PREFIX
from webhook.hub import EXTENSION
from workers.campaigns.campaign import Campaign
from workers.campaigns.hook_urls import FILLED_IN, HookUrls
from workers.ops.devstack import SANDBOX_LOGIN, SANDBOX_SECRET

from ..conftest import make_settings
from .test_events import AUTH

HOOK_AUTH = {
    "Authorization": Authorization("basic", {"username": "crm", "password": "s3cret"}).to_header()
}


@pytest.fixture
def client(redis_url):
    settings = make_settings(
        redis_url, HOOKRELAY_HOOK_USER="crm", HOOKRELAY_HOOK_PASSWORD="s3cret", FREQUENCY_CAP="3"
    )
    app = create_app(settings)
    yield app.test_client()
    # Written now, before the next test empties Redis, not into that test's data.
    app.extensions[EXTENSION].stop()


def pre(client, query="stage=pre&campaign_id=9093&email=a@example.com", **kwargs):
    return client.post(f"/v1/hooks/crm?{query}", headers=HOOK_AUTH, **kwargs)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {
            "Authorization": Authorization(
                "basic", {"username": "crm", "password": "no"}
            ).to_header()
        },
        {
            "Authorization": Authorization(
                "basic", {"username": "x", "password": "s3cret"}
            ).to_header()
        },
        AUTH,
    ],
)
def test_wrong_or_missing_credentials_are_401(client, headers):
    response = client.post("/v1/hooks/crm?stage=pre&uid=1", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].lower().startswith("basic")


def test_hooks_are_refused_when_no_credentials_are_configured(redis_url):
    client = create_app(make_settings(redis_url)).test_client()
    response = client.post("/v1/hooks/pushwoosh?stage=pre&uid=1", headers=HOOK_AUTH)
    assert response.status_code == 401
    assert "set HOOKRELAY_HOOK_USER/PASSWORD" in response.json["message"]
    assert "HOOKRELAY_HOOK_KEYS" in response.json["message"]


def test_unknown_platform_is_404(client):
    assert client.post("/v1/hooks/mailchimp?stage=pre&uid=1", headers=HOOK_AUTH).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("stage=middle&uid=1", "stage"),
        ("stage=pre", "_schema"),
        ("stage=post&uid=1", "campaign_id"),
        ("stage=pre&uid=1&campaign_id=abc", "campaign_id"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, query, field):
    response = client.post(f"/v1/hooks/crm?{query}", headers=HOOK_AUTH)
    assert response.status_code == 422
    assert field in response.json["errors"]


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'{"stage": "pre",}'])
def test_a_body_that_is_not_a_json_object_is_400(client, body):
    response = pre(client, "", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json["message"]


def test_parameters_come_from_query_or_body(client):
    assert pre(client).json == {"allow": True}
    body = {"stage": "pre", "uid": "7", "campaign_id": 1, "platform_extra": "ignored"}
    assert client.post("/v1/hooks/crm", json=body, headers=HOOK_AUTH).json == {"allow": True}


def test_suppressed_recipients_are_refused_until_removed(client):
    added = client.post(
        "/v1/suppressions", json={"email": "a@example.com", "reason": "asked"}, headers=AUTH
    )
    assert added.status_code == 201
    assert added.json == {"id": "email:a@example.com"}
    assert pre(client).json == {"allow": False, "reason": "suppressed: email:a@example.com"}

    listed = client.get("/v1/suppressions", headers=AUTH).json
    assert listed["count"] == 1
    assert listed["suppressions"][0]["id"] == "email:a@example.com"
    assert listed["suppressions"][0]["reason"] == "asked"

    assert client.delete("/v1/suppressions/email:a@example.com", headers=AUTH).status_code == 204
    assert client.delete("/v1/suppressions/email:a@example.com", headers=AUTH).status_code == 404
    assert pre(client).json == {"allow": True}


def test_a_suppression_is_removed_by_its_bare_address(client):
    client.post("/v1/suppressions", json={"email": "a@example.com"}, headers=AUTH)
    assert client.delete("/v1/suppressions/A@example.com", headers=AUTH).status_code == 204
    assert pre(client).json == {"allow": True}


@pytest.mark.parametrize("named", ["42", "colour:red", "a@example.com"])
def test_an_unknown_suppression_says_what_ids_look_like(client, named):
    answer = client.delete(f"/v1/suppressions/{named}", headers=AUTH)
    assert answer.status_code == 404
    assert "email:a@example.com, phone:79160000001" in answer.json["message"]


@pytest.mark.parametrize("body", [{}, {"email": "a@example.com", "uid": "1"}, {"colour": "red"}])
def test_bad_suppressions_are_422(client, body):
    assert client.post("/v1/suppressions", json=body, headers=AUTH).status_code == 422


def test_suppressions_need_an_api_key(client):
    assert client.get("/v1/suppressions").status_code == 401
    assert client.post("/v1/suppressions", json={"uid": "1"}, headers=HOOK_AUTH).status_code == 401


def test_frequency_cap_at_its_boundary_counts_only_allowed_sends(client, redis_url):
    assert [pre(client).json["allow"] for _ in range(3)] == [True, True, True]
    refused = pre(client).json
    reason = "frequency cap: email:a@example.com had 3 sends in 24 h"
    assert refused == {"allow": False, "reason": reason}
    assert pre(client).json["allow"] is False
    key = f"{FREQUENCY_PREFIX}email:a@example.com"
    sends = redis.Redis.from_url(redis_url)
    assert sends.zcard(key) == 3, "refused sends are not counted"

    oldest = sends.zrange(key, 0, 0)[0]
    sends.zadd(key, {oldest: (time.time() - 24 * 3600 - 1) * 1000})
    assert pre(client).json == {"allow": True}, "a send older than 24 h no longer counts"
    assert pre(client).json["allow"] is False


def test_a_send_counts_against_every_identifier_given(client):
    for _ in range(3):
        pre(client, "stage=pre&uid=42&email=b@example.com")
    assert pre(client, "stage=pre&uid=42").json["allow"] is False
    assert pre(client, "stage=pre&email=b@example.com").json["allow"] is False
    assert pre(client, "stage=pre&uid=43").json["allow"] is True


def test_post_hooks_count_sends_per_campaign(client):
    for expected in (1, 2, 3):
        response = client.post("/v1/hooks/crm?stage=post&campaign_id=9093&uid=1", headers=HOOK_AUTH)
        assert response.json == {"recorded": True, "sends": expected}


def test_a_profile_event_that_unsubscribes_suppresses_every_identifier(client):
    event = {
        "id": "u-1",
        "type": "profile",
        "timestamp": "2026-11-23T10:00:00Z",
        "user": {"uid": "9", "email": "c@example.com"},
        "unsubscribe": True,
    }
    assert client.post("/v1/events", json=event, headers=AUTH).status_code == 202
    assert pre(client, "stage=pre&uid=9").json == {"allow": False, "reason": "suppressed: uid:9"}
    refused = pre(client, "stage=pre&email=c@example.com").json
    assert refused == {"allow": False, "reason": "suppressed: email:c@example.com"}
    ids = {
        entry["id"] for entry in client.get("/v1/suppressions", headers=AUTH).json["suppressions"]
    }
    assert ids == {"uid:9", "email:c@example.com"}


def test_unsubscribe_must_be_a_boolean(client):
    event = {
        "id": "u-2",
        "type": "profile",
        "timestamp": "2026-11-23T10:00:00Z",
        "user": {"uid": "9"},
        "unsubscribe": "yes",
    }
    response = client.post("/v1/events", json=event, headers=AUTH)
    assert response.status_code == 422
    assert "unsubscribe" in response.json["errors"]["0"]


def test_emails_and_phones_are_compared_in_one_normal_form(client):
    first = client.post("/v1/suppressions", json={"email": "a@example.com"}, headers=AUTH)
    again = client.post("/v1/suppressions", json={"email": " A@Example.COM"}, headers=AUTH)
    assert first.json == again.json == {"id": "email:a@example.com"}
    assert client.get("/v1/suppressions", headers=AUTH).json["count"] == 1
    refused = pre(client, "stage=pre&email=A@EXAMPLE.com").json
    assert refused == {"allow": False, "reason": "suppressed: email:a@example.com"}

    client.post("/v1/suppressions", json={"phone": "+7 916 000-00-01"}, headers=AUTH)
    assert pre(client, "stage=pre&phone=79160000001").json["allow"] is False
    assert client.delete("/v1/suppressions/email:A@Example.com", headers=AUTH).status_code == 204
    assert pre(client, "stage=pre&email=a@example.com").json == {"allow": True}


#: One mailbox, spelled as mail systems deliver it: composed and decomposed accents,
#: an IDNA domain in either form, a trailing dot, full-width letters and at sign, a
#: zero-width space.
CAFE = [
    "café@bücher.example",
    "cafe\u0301@bücher.example",
    "CAFÉ@xn--bcher-kva.example",
    "café@bücher.example.",
    "\uff43\uff41\uff46é\uff20bücher.example",
    "caf\u200bé@bücher.example",
]


def hook(client, **recipient):
    """A pre-send hook for ``recipient``, its values encoded as a platform would."""
    query = {"stage": "pre", "campaign_id": 1, **recipient}
    return client.post("/v1/hooks/crm", query_string=query, headers=HOOK_AUTH)


@pytest.mark.parametrize("suppressed", [CAFE[0], CAFE[1], CAFE[2]])
def test_a_suppression_holds_for_every_spelling_of_the_mailbox(client, suppressed):
    client.post("/v1/suppressions", json={"email": suppressed}, headers=AUTH)
    for spelling in CAFE:
        decision = hook(client, email=spelling)
        assert decision.json["allow"] is False, spelling


def test_the_frequency_cap_counts_every_spelling_of_a_mailbox_as_one(client):
    allowed = [hook(client, email=spelling).json["allow"] for spelling in CAFE]
    assert allowed == [True, True, True, False, False, False]  # FREQUENCY_CAP=3


def test_a_phone_in_any_digits_is_one_number(client):
    client.post("/v1/suppressions", json={"phone": "+7 916 000-00-01"}, headers=AUTH)
    full_width = "+" + "".join(chr(0xFF10 + int(d)) for d in "79160000001")
    for spelling in (full_width, "+٧٩١٦٠٠٠٠٠٠١", "7\u200b9160000001"):
        decision = hook(client, phone=spelling)
        assert decision.json["allow"] is False, spelling


def test_the_frequency_cap_counts_one_address_in_any_case(client):
    for email in ("a@example.com", "A@example.com", "a@EXAMPLE.COM"):
        assert pre(client, f"stage=pre&email={email}").json["allow"] is True
    assert pre(client, "stage=pre&email=%20a@example.com%20").json["allow"] is False


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("stage=pre&email={email}", "email"),
        ("stage=pre&email=%257Bemail%257D", "email"),
        ("stage=pre&uid={{uid}}", "uid"),
        ("stage=pre&uid=42&phone=${phone}", "phone"),
    ],
)
def test_an_unfilled_placeholder_is_422_naming_the_field(client, query, field):
    response = pre(client, query)
    assert response.status_code == 422
    assert "placeholder" in response.json["errors"][field][0]


def test_an_empty_identifier_beside_a_valid_one_is_ignored(client):
    assert pre(client, "stage=pre&email=&uid=5").json == {"allow": True}
    assert pre(client, "stage=pre&email=%20").status_code == 422, "but one is needed"


def test_hooks_answer_get_as_well(client):
    response = client.get("/v1/hooks/crm?stage=pre&uid=8", headers=HOOK_AUTH)
    assert response.json == {"allow": True}


KEY, OLD_KEY = "k" * 32, "o" * 32


@pytest.fixture
def token_client(redis_url):
    settings = make_settings(redis_url, HOOKRELAY_HOOK_KEYS=f"{KEY},{OLD_KEY}")
    app = create_app(settings)
    yield app.test_client()
    app.extensions[EXTENSION].stop()


def called(template: str, **recipient: str) -> str:
    """The template as the platform calls it: each placeholder filled (empty where the
    recipient has no such identifier), the receiver's own part of the URL kept."""
    for name in FILLED_IN:
        template = template.replace(f"{{{name}}}", recipient.get(name, ""))
    return template.removeprefix("https://relay.example.com")


def template(campaign: Campaign, key: str = KEY) -> str:
    return HookUrls("https://relay.example.com", (key,)).template(campaign)


def test_a_hook_url_hookrelay_writes_works_without_basic_auth(token_client):
    url = template(Campaign("crm", 9093, "ab"))
    assert url.startswith("https://relay.example.com/v1/hooks/crm?campaign_id=9093&kind=ab&token=")
    pre = token_client.post(called(url, stage="pre", email="a@example.com"))
    assert pre.status_code == 200 and pre.json == {"allow": True}
    post = token_client.get(called(url, stage="post", email="a@example.com"))
    assert post.json == {"recorded": True, "sends": 1}


@pytest.mark.parametrize(
    "changed",
    [
        lambda url: url.replace("campaign_id=9093", "campaign_id=9094"),
        lambda url: url.replace("kind=ab", "kind=mailing"),
        lambda url: url.replace("/v1/hooks/crm", "/v1/hooks/pushwoosh"),
        lambda url: url.replace("token=", "token=x"),
        lambda url: url.replace("campaign_id=9093&", ""),
    ],
)
def test_a_token_opens_the_hooks_of_its_own_campaign_only(token_client, changed):
    url = called(template(Campaign("crm", 9093, "ab")), stage="pre", uid="1")
    assert token_client.post(url).status_code == 200
    refused = token_client.post(changed(url))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].lower().startswith("basic")


def test_a_key_rotated_out_of_first_place_still_verifies(token_client):
    url = called(template(Campaign("crm", 7), key=OLD_KEY), stage="pre", uid="1")
    assert token_client.post(url).json == {"allow": True}
    stranger = called(template(Campaign("crm", 7), key="s" * 32), stage="pre", uid="1")
    assert token_client.post(stranger).status_code == 401


def test_the_s2s_platform_s_own_credentials_open_its_hooks_only(redis_url):
    client = create_app(make_settings(redis_url)).test_client()
    own = Authorization("basic", {"username": SANDBOX_LOGIN, "password": SANDBOX_SECRET})
    headers = {"Authorization": own.to_header()}
    assert client.post("/v1/hooks/crm?stage=pre&uid=1", headers=headers).json == {"allow": True}
    assert client.post("/v1/hooks/pushwoosh?stage=pre&uid=1", headers=headers).status_code == 401


def test_a_hook_that_names_no_stage_is_answered_as_a_pre_hook_and_counts_no_send(client):
    assert pre(client, "campaign_id=9093&uid=1").json == {"allow": True}
    post = client.post("/v1/hooks/crm?stage=post&campaign_id=9093&uid=1", headers=HOOK_AUTH)
    assert post.json == {"recorded": True, "sends": 1}, "the stage-less call recorded nothing"


def test_the_placeholder_syntax_is_a_setting():
    urls = HookUrls("https://relay.example.com/", ("k" * 32,), placeholder="{{name}}")
    url = urls.template(Campaign("crm", 1))
    assert url.startswith("https://relay.example.com/v1/hooks/crm?")
    assert url.endswith(
        "&stage={{stage}}&uid={{uid}}&email={{email}}&phone={{phone}}&wp_token={{wp_token}}"
    )

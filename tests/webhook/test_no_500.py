"""Whatever a client sends, the receiver answers it: never a 5xx (a property test over
the inbound bodies and headers of every path a client can reach without a key, and of
those behind one)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import EVENT_TYPES, IDENTIFIERS
from webhook.app import create_app
from workers.campaigns.schema import migrate

from ..conftest import make_settings
from ..support import API_KEY

#: Header values as HTTP carries them: latin-1 text.
HEADER_TEXT = st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n\x00"))
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(["2026-11-23T10:00:00Z", "9999-12-31T23:00:00-05:00", "\ud800"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
USERS = st.dictionaries(st.sampled_from([*IDENTIFIERS, "other"]), JSON, max_size=4)
EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON,
        "type": st.sampled_from([*EVENT_TYPES, "nope"]) | JSON,
        "timestamp": JSON,
        "user": USERS | JSON,
        "fields": JSON,
        "payload": JSON,
        "name": JSON,
        "campaign": JSON,
        "unsubscribe": JSON,
    },
)
BODIES = EVENTS | st.fixed_dictionaries({"events": st.lists(EVENTS, max_size=3)}) | JSON


def encode(body) -> bytes:
    """JSON as a client may write it: lone surrogates and huge numbers included."""
    return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def receiver(redis_server, tmp_path_factory):
    database_url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'stats.db'}"
    migrate(database_url)
    env = {"HOOKRELAY_HOOK_USER": "crm", "HOOKRELAY_HOOK_PASSWORD": "pw"}
    settings = make_settings(redis_server.url, DATABASE_URL=database_url, **env)
    return create_app(settings).test_client()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("latin-1")).decode()


AUTHORIZATION = st.one_of(
    st.just(f"Bearer {API_KEY}"),
    st.just(basic("crm", "pw")),
    HEADER_TEXT.map(lambda text: f"Basic {text}"),
    st.tuples(HEADER_TEXT, HEADER_TEXT).map(lambda pair: basic(*pair)),
    HEADER_TEXT,
)
PATHS = st.sampled_from(
    ["/v1/events", "/v1/hooks/crm", "/v1/suppressions", "/v1/campaigns/crm/1/pause"]
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=PATHS,
    body=BODIES,
    raw=st.none() | st.binary(max_size=64),
    authorization=AUTHORIZATION,
    signature=st.none() | HEADER_TEXT,
    query=st.dictionaries(st.sampled_from(["stage", "email", "campaign_id", "uid"]), st.text()),
)
def test_no_client_input_gets_a_5xx(receiver, path, body, raw, authorization, signature, query):
    headers = {"Authorization": authorization}
    if signature is not None:
        headers["webhook-signature"] = signature
    response = receiver.post(
        path,
        data=raw if raw is not None else encode(body),
        headers=headers,
        query_string=query,
        content_type="application/json",
    )
    assert response.status_code < 500, (response.status_code, response.get_data()[:300])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(authorization=AUTHORIZATION, refresh=st.text(max_size=12))
def test_the_status_page_answers_any_credentials(receiver, authorization, refresh):
    response = receiver.get(
        "/status", headers={"Authorization": authorization}, query_string={"refresh": refresh}
    )
    assert response.status_code < 500

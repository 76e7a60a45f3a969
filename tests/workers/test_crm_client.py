"""The CRM client against the real sandbox: success codes, auth, and every error class."""

from __future__ import annotations

import httpx
import pytest

from workers.core.platform_settings import CrmConfig
from workers.platforms import errors
from workers.platforms.crm import CrmClient

from ..support import free_port, wait_for


def crm(sandbox, *, secret="sandbox-secret", base_url=None, timeout=None) -> CrmClient:
    config = CrmConfig(base_url=base_url or f"{sandbox.url}/crm", login="sandbox", secret=secret)
    return CrmClient(config, **({"timeout": timeout} if timeout else {}))


def test_batch_upsert_and_event_reach_the_platform_with_basic_auth(clean_sandbox):
    client = crm(clean_sandbox)
    echo = client.upsert_profiles([{"uid": "1", "fields": {"a": 1}}])
    assert echo == [{"uid": "1", "fields": {"a": 1}}]
    assert client.post_event({"name": "login", "payload": {"uid": "1"}})["name"] == "login"
    [batch] = clean_sandbox.received("crm.users_batch")
    assert batch["authorized"] and batch["status"] == 202
    assert clean_sandbox.received("crm.events")[0]["status"] == 201


def test_wrong_credentials_are_permanent_and_the_allow_list_is_named(clean_sandbox):
    with pytest.raises(errors.Unauthorized) as caught:
        crm(clean_sandbox, secret="wrong").post_event({"name": "x"})
    assert caught.value.status == 401
    assert isinstance(caught.value, errors.PermanentError)
    # What the dead letter says: the platform also refuses an address off its list.
    assert "IP address is not on the project's allow-list" in str(caught.value)


def test_invalid_body_is_rejected_with_the_platforms_reason(clean_sandbox):
    twins = [{"uid": "1"}, {"uid": "1", "email": "a@example.com"}]
    with pytest.raises(errors.Rejected) as caught:
        crm(clean_sandbox).upsert_profiles(twins)
    assert caught.value.status == 400
    assert "appears in two hashmaps" in caught.value.body


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (500, errors.ServerError),
        (503, errors.ServerError),
        (408, errors.ServerError),
        (404, errors.NotFound),
    ],
)
def test_fault_statuses_map_to_their_class(clean_sandbox, status, cls):
    clean_sandbox.fault("crm.events", status=status, count=1)
    with pytest.raises(cls) as caught:
        crm(clean_sandbox).post_event({"name": "x"})
    assert caught.value.status == status
    assert caught.value.url.endswith("/crm/api/v1/events/")


def test_429_carries_retry_after(clean_sandbox):
    clean_sandbox.fault("crm.events", status=429, retry_after=7, count=1)
    with pytest.raises(errors.RateLimited) as caught:
        crm(clean_sandbox).post_event({"name": "x"})
    assert caught.value.retry_after == 7.0


def test_slow_answer_is_a_timeout(clean_sandbox):
    clean_sandbox.fault("crm.events", delay_s=1.0, count=1)
    client = crm(clean_sandbox, timeout=httpx.Timeout(0.2))
    with pytest.raises(errors.Timeout):
        client.post_event({"name": "x"})
    # The sandbox records the request once its delay is over: wait for it here, or it
    # lands in a later test's record.
    wait_for(lambda: clean_sandbox.received("crm.events"), timeout_s=10)


def test_refused_connection_is_retryable(sandbox):
    client = crm(sandbox, base_url=f"http://127.0.0.1:{free_port()}/crm")
    with pytest.raises(errors.ConnectionFailed) as caught:
        client.post_event({"name": "x"})
    assert isinstance(caught.value, errors.RetryableError)


def test_dropped_connection_is_retryable_and_recorded(clean_sandbox):
    clean_sandbox.fault("crm.events", drop=True, count=1)
    with pytest.raises(errors.ConnectionFailed):
        crm(clean_sandbox).post_event({"name": "x"})
    assert [r["status"] for r in clean_sandbox.received("crm.events")] == [0]
    assert crm(clean_sandbox).post_event({"name": "x"})["name"] == "x"


def test_platform_rate_limit_answers_429_and_counts_violations(clean_sandbox):
    clean_sandbox.http.put("/_sandbox/limits/crm", json={"per_second": 3}).raise_for_status()
    client = crm(clean_sandbox)
    try:
        for _ in range(3):
            client.post_event({"name": "x"})
        with pytest.raises(errors.RateLimited) as caught:
            client.post_event({"name": "x"})
        assert caught.value.retry_after == 1.0
        limits = clean_sandbox.http.get("/_sandbox/limits").json()
        assert limits["crm"] == {"per_second": 3, "requests": 4, "violations": 1}
    finally:
        clean_sandbox.http.delete("/_sandbox/limits")

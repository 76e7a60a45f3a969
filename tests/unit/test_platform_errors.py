"""Error classification: every status family maps to exactly one class."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from workers.platforms import errors


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None),
        (201, None),
        (202, None),
        (304, None),
        (400, errors.Rejected),
        (401, errors.Unauthorized),
        (403, errors.Unauthorized),
        (404, errors.NotFound),
        (408, errors.ServerError),
        (409, errors.Rejected),
        (422, errors.Rejected),
        (425, errors.ServerError),
        (429, errors.RateLimited),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (599, errors.ServerError),
    ],
)
def test_status_classes(status, expected):
    assert errors.error_class_for_status(status) is expected


@pytest.mark.parametrize("status", range(400, 600))
def test_every_error_status_is_retryable_xor_permanent(status):
    cls = errors.error_class_for_status(status)
    assert issubclass(cls, errors.RetryableError) != issubclass(cls, errors.PermanentError)
    retryable = status in (408, 425, 429) or status >= 500
    assert issubclass(cls, errors.RetryableError) == retryable


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    assert errors.parse_retry_after("7") == 7.0
    assert errors.parse_retry_after("Mon, 23 Nov 2026 10:00:30 GMT", now=now) == 30.0
    assert errors.parse_retry_after("Mon, 23 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert errors.parse_retry_after("soon") is None
    assert errors.parse_retry_after(None) is None


def test_errors_carry_context_truncate_body_and_survive_pickling():
    error = errors.RateLimited(
        "slow down",
        platform="crm",
        method="POST",
        url="http://x/api/v1/events/",
        status=429,
        body="x" * 5000,
        retry_after=3.0,
    )
    assert len(error.body) == errors.BODY_LIMIT
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.RateLimited
    assert (copy.status, copy.retry_after, copy.platform) == (429, 3.0, "crm")
    assert "crm POST http://x/api/v1/events/ -> 429" in str(copy)


def test_str_leaves_the_body_out():
    error = errors.Rejected(
        "refused",
        platform="crm",
        method="POST",
        url="http://x/",
        status=400,
        body='{"email": "a@example.com"}',
    )
    assert "a@example.com" not in str(error)
    assert "a@example.com" in error.body

"""Errors raised by the platform clients; each class tells the caller what to do.

::

    PlatformError
    ├── RetryableError          try again later (backoff, honour retry_after)
    │   ├── Timeout             connect or read timed out
    │   ├── ConnectionFailed    refused, reset, DNS, TLS ...
    │   ├── RateLimited         429 (retry_after from Retry-After)
    │   ├── ServerError         5xx, 408, 425
    │   └── AnswerTooLarge      an answer over PLATFORM_MAX_ANSWER_BYTES
    ├── PermanentError          retrying cannot help: dead-letter it
    │   ├── Unauthorized        401, 403
    │   ├── NotFound            404
    │   ├── Rejected            any other 4xx, or an error stated in a 2xx body
    │   ├── Unsendable          the request could not be built: nothing was sent
    │   └── NotConfigured       the platform is off here: nothing was sent
    ├── CircuitOpen             the platform fails persistently: nothing was sent;
    │                           wait for the probe (``wait_ms``), never give up for it
    └── Crowded                 the platform holds its share of this worker's threads:
                                nothing was sent; try again shortly, counting no attempt

Classification happens once, here, from a status code or a transport exception; the
actors only look at the class.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypedDict

BODY_LIMIT = 500


class CallSite(TypedDict):
    """Where a failed call went: the keyword arguments every :class:`PlatformError` takes."""

    platform: str
    method: str
    url: str


class PlatformError(Exception):
    """A platform call failed. Carries where it went and what came back."""

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        method: str,
        url: str,
        status: int | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.platform = platform
        self.method = method
        self.url = url
        self.status = status
        self.body = body[:BODY_LIMIT]
        self.retry_after = retry_after

    def __str__(self) -> str:
        """Where it went and what status came back; never the body, which may hold
        the profile the platform echoed (emails, phones) and belongs in the DLQ only."""
        status = f" -> {self.status}" if self.status is not None else ""
        return f"{self.platform} {self.method} {self.url}{status} {self.args[0]}"

    def __reduce__(self) -> tuple[Callable[..., PlatformError], tuple[Any, ...]]:
        return (_rebuild, (type(self), self.args[0], self.__dict__))


def _rebuild(cls: type[PlatformError], message: str, attributes: dict[str, Any]) -> PlatformError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(attributes)
    return error


class RetryableError(PlatformError):
    """Worth trying again after a pause."""


class Timeout(RetryableError):
    """The platform did not answer in time."""


class ConnectionFailed(RetryableError):
    """No connection, or it broke before an answer came."""


class RateLimited(RetryableError):
    """The platform answered 429; ``retry_after`` says how long it asked us to wait."""


class ServerError(RetryableError):
    """5xx, 408 or 425: the platform's trouble, not the request's."""


class AnswerTooLarge(RetryableError):
    """The answer went on past the most read of one: the call may have been applied
    (as after a timeout), and what came back cannot be read."""


class PermanentError(PlatformError):
    """The same request will fail the same way; it belongs in the dead-letter queue."""


class Unauthorized(PermanentError):
    """Credentials refused (401/403)."""


class NotFound(PermanentError):
    """The path or the object does not exist (404)."""


class Rejected(PermanentError):
    """The platform refused the request itself (other 4xx, or an error in the body)."""


class Unsendable(PermanentError):
    """The request could not be built (a value no HTTP client can encode, such as an
    infinite number or a lone surrogate): nothing was sent, and retrying cannot help."""


class NotConfigured(PermanentError):
    """The platform is off in this deployment (its settings are not set): nothing was
    sent, and the message waits in the dead-letter queue until it is configured."""

    def __str__(self) -> str:
        return self.args[0]


class CircuitOpen(PlatformError):
    """The platform's circuit is open (workers/health/circuit.py): nothing was sent.
    The next probe may go in ``wait_ms``; the delivery waits, counting no attempt."""

    def __init__(
        self, *, platform: str, method: str, url: str, wait_ms: int, probe_ms: int
    ) -> None:
        super().__init__(
            f"circuit open, next probe in {wait_ms / 1000:.1f} s",
            platform=platform,
            method=method,
            url=url,
        )
        self.wait_ms = wait_ms
        #: The probe interval, which paused deliveries spread their return over.
        self.probe_ms = probe_ms


class Crowded(PlatformError):
    """The platform already holds its share of this worker's threads (waiting for its
    rate limit or in calls): nothing was sent, and the delivery waits ``delay_ms``,
    counting no attempt, so that a slow platform leaves the others their threads."""

    def __init__(self, *, platform: str, method: str, url: str, delay_ms: int) -> None:
        super().__init__(
            f"{platform} holds its share of this worker's threads",
            platform=platform,
            method=method,
            url=url,
        )
        self.delay_ms = delay_ms


_RETRYABLE_4XX = {408: ServerError, 425: ServerError, 429: RateLimited}
_PERMANENT_4XX = {401: Unauthorized, 403: Unauthorized, 404: NotFound}


def error_class_for_status(status: int) -> type[PlatformError] | None:
    """The error class for an HTTP status, or ``None`` when it is a success."""
    if status < 400:
        return None
    if status in _RETRYABLE_4XX:
        return _RETRYABLE_4XX[status]
    if status >= 500:
        return ServerError
    return _PERMANENT_4XX.get(status, Rejected)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())

"""The shared base of every platform client: one pooled HTTP session, auth, timeouts
and the mapping of transport failures and status codes onto :mod:`.errors`.

A platform is input too, so every call is bounded (:class:`CallLimits`, from the
``PLATFORM_*`` settings): its answer is read as a stream, at most
``max_answer_bytes`` of it (past that the call fails with
:class:`~.errors.AnswerTooLarge`), and the whole call, from sending to the answer's
last byte, must end within ``deadline_s`` (else :class:`~.errors.Timeout`): each read
waits at most the read timeout (10 s), so a platform trickling its answer is cut off
at most that long after the deadline. And a bulkhead: one platform holds at most
``max_threads`` of a worker process's threads at once, waiting for its rate limit or
in a call; a delivery that would take one more waits a second for one, then is
:class:`~.errors.Crowded` and comes back shortly, so a slow platform never holds the
threads the others need for more than that second.

A platform module subclasses :class:`PlatformClient`, names its paths as constants
beside a pointer into docs/platforms.md, and writes domain methods of a few lines on top of
:meth:`PlatformClient.request`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from workers.core.platform_settings import DEFAULT_CALL_LIMITS, CallLimits
from workers.health.circuit import CircuitBreaker
from workers.metrics.counters import PLATFORM_CALLS
from workers.platforms import errors
from workers.platforms.guards import CallGuards
from workers.ratelimit.limiter import SharedRateLimiter

logger = logging.getLogger(__name__)

#: The HTTP status of the platform call each thread made last, and how long its calls
#: waited for the rate limit, for the log line and trace of the delivery it made them
#: for (workers/queue/retry.py).
_last_call = threading.local()


def last_status() -> int | None:
    """The status of this thread's last platform call since :func:`forget_status`."""
    return getattr(_last_call, "status", None)


def rate_limit_waited_ms() -> int:
    """How long this thread's calls waited for their rate limit since
    :func:`forget_status`, in milliseconds."""
    return round(getattr(_last_call, "waited_s", 0.0) * 1000)


def forget_status() -> None:
    _last_call.status = None
    _last_call.waited_s = 0.0


#: Connect fast, give the platform a while to answer, never wait forever.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16)
#: How long a call waits for one of its platform's threads, and how long a delivery
#: crowded out then waits before it is tried again: a thread crowded out costs the
#: other platforms a second at most, and a requeue, not a busy loop.
CROWDED_WAIT_MS = 1000
#: What a whole answer no longer is, once read: not compressed, not of a given length.
_STREAM_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


class PlatformClient:
    """Owns the HTTP session for one platform.

    Parameters:
      base_url: the platform's root; paths are joined onto it.
      auth: an httpx auth (Basic, a header scheme ...), applied to every call.
      timeout: an :class:`httpx.Timeout`; bounded by default.
      limiter: the platform's shared rate limit; every call waits for a slot, and a
        429 slows the shared rate down.
      circuit: the platform's shared circuit breaker; a call waits (raises
        :class:`~.errors.CircuitOpen`) while it is open, and every answer is recorded.
      limits: the bounds of one call and the platform's share of threads.
      transport: for unit tests only; the real thing is used otherwise.
    """

    #: The name errors and logs carry, e.g. ``"crm"``.
    platform = "platform"
    #: What a 401 or 403 says, in the dead letter and in ``doctor``: what to check.
    refused_access = "credentials refused"

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limiter: SharedRateLimiter | None = None,
        circuit: CircuitBreaker | None = None,
        limits: CallLimits = DEFAULT_CALL_LIMITS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._limiter = limiter
        self._guards = CallGuards(self.platform, limiter, circuit)
        self._limits = limits
        self._threads = threading.BoundedSemaphore(limits.max_threads)
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            timeout=timeout,
            limits=DEFAULT_LIMITS,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def probe(self) -> None:
        """A harmless authenticated read, for ``hookrelay doctor``: each platform's own."""
        raise NotImplementedError

    def request(self, method: str, path: str, *, expect: tuple[int, ...], **kwargs: Any) -> Any:
        """Send one request and return the decoded JSON body (or ``None`` if empty).

        Raises a :class:`~.errors.PlatformError` subclass for a failed call, an
        error status, or a success status other than those in ``expect``.
        """
        request = self._build(method, path, **kwargs)
        url = str(request.url)
        if not self._threads.acquire(timeout=CROWDED_WAIT_MS / 1000):
            raise errors.Crowded(
                platform=self.platform, method=method, url=url, delay_ms=CROWDED_WAIT_MS
            )
        try:
            response = self._call(method, url, request)
        finally:
            self._threads.release()
        _last_call.status = response.status_code
        PLATFORM_CALLS.labels(self.platform, str(response.status_code)).inc()
        if response.status_code == 429 and self._limiter is not None:
            rate = self._limiter.slow_down()
            logger.warning("%s answered 429; shared rate now %.1f/s.", self.platform, rate)
        self._raise_for_status(method, url, response, expect)
        body = self._decode(method, url, response)
        problem = self._body_error(body)
        if problem is not None:
            error_class, message = problem
            raise error_class(
                message,
                platform=self.platform,
                method=method,
                url=url,
                status=response.status_code,
                body=response.text,
            )
        return body

    def _call(self, method: str, url: str, request: httpx.Request) -> httpx.Response:
        """The call, once the circuit and the rate limit let it go, its answer read
        whole within the deadline; the circuit hears whether the platform answered (any
        status but a 5xx, 408 or 425 means it works)."""
        grant = self._guards.enter(method, url)
        if grant is not None:
            _last_call.waited_s = getattr(_last_call, "waited_s", 0.0) + grant.waited_s
        failure: str | None = None
        try:
            with self._mapped_transport_errors(method, url):
                deadline = time.monotonic() + self._limits.deadline_s
                streamed = self._http.send(request, stream=True)
                try:
                    body = self._read(streamed, method, url, deadline)
                finally:
                    streamed.close()
            if errors.error_class_for_status(streamed.status_code) is errors.ServerError:
                failure = f"{method} {url} -> {streamed.status_code}"
        except Exception as error:
            failure = str(error) or type(error).__name__
            raise
        finally:
            self._guards.leave(grant, failure)
        headers = [(k, v) for k, v in streamed.headers.items() if k not in _STREAM_HEADERS]
        return httpx.Response(streamed.status_code, headers=headers, content=body, request=request)

    def _read(self, response: httpx.Response, method: str, url: str, deadline: float) -> bytes:
        """The answer's bytes (decompressed), failing the call past the most read of an
        answer or past its deadline."""
        body = bytearray()
        context = errors.CallSite(platform=self.platform, method=method, url=url)
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > self._limits.max_answer_bytes:
                limit = self._limits.max_answer_bytes
                message = f"answer over {limit:,} bytes (PLATFORM_MAX_ANSWER_BYTES): not read"
                raise errors.AnswerTooLarge(message, status=response.status_code, **context)
            if time.monotonic() > deadline:
                message = (
                    f"answer not read whole within {self._limits.deadline_s:g} s "
                    f"(PLATFORM_CALL_DEADLINE_S; {len(body):,} bytes so far)"
                )
                raise errors.Timeout(message, status=response.status_code, **context)
        return bytes(body)

    def _build(self, method: str, path: str, **kwargs: Any) -> httpx.Request:
        """The request; a value that cannot be encoded is :class:`~.errors.Unsendable`
        (``ValueError`` covers infinite numbers and ``UnicodeEncodeError``)."""
        try:
            return self._http.build_request(method, path, **kwargs)
        except (ValueError, TypeError) as error:
            raise errors.Unsendable(
                f"cannot build the request: {type(error).__name__}: {error}",
                platform=self.platform,
                method=method,
                url=path,
            ) from error

    def _body_error(self, body: Any) -> tuple[type[errors.PlatformError], str] | None:
        """An error a platform states inside an accepted answer, as (class, message).

        Subclasses override this for platforms that answer 200 to a failed call.
        """
        return None

    @contextlib.contextmanager
    def _mapped_transport_errors(self, method: str, url: str) -> Iterator[None]:
        context = errors.CallSite(platform=self.platform, method=method, url=url)
        try:
            yield
        except httpx.TimeoutException as exc:
            PLATFORM_CALLS.labels(self.platform, "timeout").inc()
            raise errors.Timeout(f"timed out ({type(exc).__name__})", **context) from exc
        except httpx.TransportError as exc:
            PLATFORM_CALLS.labels(self.platform, "connection_failed").inc()
            raise errors.ConnectionFailed(f"connection failed: {exc}", **context) from exc

    def _raise_for_status(
        self, method: str, url: str, response: httpx.Response, expect: tuple[int, ...]
    ) -> None:
        status = response.status_code
        error_class = errors.error_class_for_status(status)
        if error_class is None and status in expect:
            return
        refused = error_class is errors.Unauthorized
        raise (error_class or errors.Rejected)(
            self.refused_access if refused else f"unexpected answer (expected {_statuses(expect)})",
            platform=self.platform,
            method=method,
            url=url,
            status=status,
            body=response.text,
            retry_after=errors.parse_retry_after(response.headers.get("Retry-After")),
        )

    def _decode(self, method: str, url: str, response: httpx.Response) -> Any:
        """The JSON body of an accepted call; a body that is not JSON is still a success."""
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            logger.warning(
                "%s %s %s answered %d with a non-JSON body.",
                self.platform,
                method,
                url,
                response.status_code,
            )
            return None


#: Any success: for calls whose documentation names no status.
ANY_SUCCESS = tuple(range(200, 300))


def _statuses(expect: tuple[int, ...]) -> str:
    return "a 2xx" if expect == ANY_SUCCESS else ", ".join(map(str, expect))

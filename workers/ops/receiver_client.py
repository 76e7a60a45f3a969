"""What ``hookrelay send`` does: read events, post them in batches, retry what may be retried.

Events keep their ids across retries, so a batch re-sent after a timeout whose first
try did land is answered as duplicates, not delivered twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx

from schemas.events import MAX_BATCH
from workers.core.signing import sign

#: Keep each request well under the receiver's 5 MiB limit.
MAX_BATCH_BYTES = 4 * 1024 * 1024
#: Answers after which the same batch is tried again.
RETRY_STATUSES = (429, 502, 503, 504)
RETRY_DELAYS_S = (0.5, 1, 2, 4, 8)


class PostError(Exception):
    """The receiver could not be used at all (unreachable, wrong key)."""


@dataclass
class Tally:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    #: One line per refused batch: which events and why.
    problems: list[str] = field(default_factory=list)


def read_events(stream: TextIO) -> list[dict[str, Any]]:
    """Events from a JSON array, a ``{"events": [...]}`` object, one object, or JSON lines."""
    text = stream.read()
    try:
        document = json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        return document["events"]
    return document if isinstance(document, list) else [document]


def sample_events(now: datetime | None = None) -> list[dict[str, Any]]:
    """A profile and an event for one made-up user; never a campaign start."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = uuid.uuid4().hex[:12]
    user = {"uid": f"sample-{run}", "email": f"sample-{run}@example.com"}
    return [
        {
            "id": f"sample-{run}-profile",
            "type": "profile",
            "timestamp": stamp,
            "user": user,
            "fields": {"source": "hookrelay send"},
        },
        {
            "id": f"sample-{run}-event",
            "type": "event",
            "timestamp": stamp,
            "user": user,
            "name": "hookrelay_sample",
            "payload": {"source": "hookrelay send"},
        },
    ]


def batches(events: Iterable[dict[str, Any]], size: int) -> Iterator[tuple[list, bytes]]:
    """(events, encoded body) of at most ``size`` events and :data:`MAX_BATCH_BYTES`."""
    size = min(size, MAX_BATCH)
    batch: list[dict[str, Any]] = []
    encoded: list[bytes] = []
    length = 0
    for event in events:
        item = json.dumps(event, separators=(",", ":")).encode()
        if batch and (len(batch) >= size or length + len(item) > MAX_BATCH_BYTES):
            yield batch, _body(encoded)
            batch, encoded, length = [], [], 0
        batch.append(event)
        encoded.append(item)
        length += len(item) + 1
    if batch:
        yield batch, _body(encoded)


def _body(items: list[bytes]) -> bytes:
    return b'{"events":[' + b",".join(items) + b"]}"


class ReceiverClient:
    """Posts batches to one receiver.

    Parameters:
      url: the receiver's root, e.g. ``http://127.0.0.1:8000``.
      api_key: sent as ``Authorization: Bearer``.
      signing_secret: when set, each body is signed as the receiver expects.
      sleep: how to wait between retries (tests pass a no-op).
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        signing_secret: str | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            timeout=httpx.Timeout(timeout_s, connect=5.0),
        )
        self._secret = signing_secret
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def post(self, events: list[dict[str, Any]], body: bytes, tally: Tally) -> None:
        """Post one batch, retrying while the receiver is busy or unreachable."""
        response = self._post_with_retries(body)
        if response.status_code == 202:
            answer = response.json()
            tally.accepted += answer["accepted"]
            tally.duplicates += answer["duplicates"]
        elif response.status_code == 401:
            raise PostError(f"the receiver refused the key: {_detail(response)}")
        else:
            tally.rejected += len(events)
            first, last = events[0].get("id"), events[-1].get("id")
            tally.problems.append(
                f"events {first}…{last} refused ({response.status_code}): {_detail(response)}"
            )

    def _post_with_retries(self, body: bytes) -> httpx.Response:
        for delay in RETRY_DELAYS_S:
            response = self._try(body, last=False)
            if response is not None and response.status_code not in RETRY_STATUSES:
                return response
            self._sleep(delay)
        return self._try(body, last=True)

    def _try(self, body: bytes, *, last: bool) -> httpx.Response | None:
        """One post; ``None`` when the receiver could not be reached and may be retried."""
        try:
            return self._http.post("/v1/events", content=body, headers=self._sign(body))
        except httpx.TransportError as error:
            if last:
                raise PostError(f"cannot reach {self._http.base_url}: {error}") from None
            return None

    def _sign(self, body: bytes) -> dict[str, str]:
        if not self._secret:
            return {}
        return {"X-Hookrelay-Signature": sign(self._secret, body, int(time.time()))}


def _detail(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(answer, dict) and "errors" in answer:
        return json.dumps(answer["errors"])[:300]
    if isinstance(answer, dict):
        return str(answer.get("message") or answer.get("error"))[:300]
    return str(answer)[:300]

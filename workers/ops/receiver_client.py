"""What ``hookrelay send`` does: read events, post them in batches, retry what may be retried.

Events keep their ids across retries, so a batch re-sent after a timeout whose first
try did land is answered as duplicates, not delivered twice.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx
from standardwebhooks.webhooks import Webhook

from schemas.errors import one_line
from schemas.events import MAX_BATCH

#: Keep each request well under the receiver's 5 MiB limit.
MAX_BATCH_BYTES = 4 * 1024 * 1024
#: Answers after which the same batch is tried again.
RETRY_STATUSES = (429, 502, 503, 504)
RETRY_DELAYS_S = (0.5, 1, 2, 4, 8)


class PostError(Exception):
    """The receiver could not be used at all (unreachable, wrong key)."""


@dataclass(frozen=True)
class Item:
    """One event read from a file, where it was (``line 12``), and why it cannot be
    sent, if it cannot (a line that is not JSON)."""

    where: str
    event: Any
    problem: str | None = None


@dataclass
class Tally:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    #: One line per refused event (or batch): where it was and why.
    problems: list[str] = field(default_factory=list)

    def refuse(self, items: list[Item], why: str) -> None:
        self.rejected += len(items)
        for item in items:
            self.problems.append(f"{item.where}{_named(item.event)}: {why}")


def read_events(stream: TextIO) -> list[Item]:
    """Events from a JSON array, a ``{"events": [...]}`` object, one object, or JSON
    lines, each with where it was in the file. Raises :class:`ValueError` when the file
    is none of those."""
    text = stream.read()
    if text.lstrip().startswith("["):
        return _array_items(text)
    try:
        document = json.loads(text)
    except ValueError:
        return _json_lines(text)
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        return [Item(f"events[{i}]", event) for i, event in enumerate(document["events"])]
    return [Item("line 1", document)]


def _array_items(text: str) -> list[Item]:
    """A JSON array's items, each with the line it starts on."""
    json.loads(text)
    decoder = json.JSONDecoder()
    items: list[Item] = []
    index, line, counted = text.index("[") + 1, 1, 0
    while True:
        while text[index] in " \t\r\n,":
            index += 1
        if text[index] == "]":
            return items
        line, counted = line + text.count("\n", counted, index), index
        value, index = decoder.raw_decode(text, index)
        items.append(Item(f"line {line}", value))


def _json_lines(text: str) -> list[Item]:
    """One event per line; a line that is not JSON is kept as a problem, unless none
    of them is JSON (then the file is something else)."""
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(Item(f"line {number}", json.loads(line)))
        except ValueError as error:
            items.append(Item(f"line {number}", None, f"not JSON ({error})"))
    if items and all(item.problem for item in items):
        raise ValueError(items[0].problem)
    return items


def sample_events(now: datetime | None = None) -> list[Item]:
    """A profile and an event for one made-up user; never a campaign start."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = uuid.uuid4().hex[:12]
    user = {"uid": f"sample-{run}", "email": f"sample-{run}@example.com"}
    events = [
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
    return [Item("sample", event) for event in events]


def batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Runs of at most ``size`` events and :data:`MAX_BATCH_BYTES` encoded."""
    size = min(size, MAX_BATCH)
    batch: list[Item] = []
    length = 0
    for item in items:
        encoded = len(_encoded(item.event))
        if batch and (len(batch) >= size or length + encoded > MAX_BATCH_BYTES):
            yield batch
            batch, length = [], 0
        batch.append(item)
        length += encoded + 1
    if batch:
        yield batch


def _encoded(event: Any) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def _body(items: list[Item]) -> bytes:
    return b'{"events":[' + b",".join(_encoded(item.event) for item in items) + b"]}"


class ReceiverClient:
    """Posts batches to one receiver.

    Parameters:
      url: the receiver's root, e.g. ``http://127.0.0.1:8000``.
      api_key: sent as ``Authorization: Bearer``.
      signing_secret: a ``whsec_`` secret each body is signed with, the Standard
        Webhooks way.
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

    def post(self, items: list[Item], tally: Tally) -> None:
        """Post one batch, retrying while the receiver is busy or unreachable. Events
        the receiver refuses are counted with their place in the file, and the rest of
        the batch is posted again without them (same ids: nothing lands twice)."""
        for item in items:
            if item.problem:
                tally.refuse([item], item.problem)
        items = [item for item in items if not item.problem]
        while items:
            response = self._post_with_retries(_body(items))
            if response.status_code == 202:
                answer = response.json()
                tally.accepted += answer["accepted"]
                tally.duplicates += answer["duplicates"]
                return
            if response.status_code == 401:
                raise PostError(f"the receiver refused the key: {_detail(response)}")
            refused = _refused_indexes(response, len(items))
            if not refused:
                tally.refuse(items, f"refused ({response.status_code}): {_detail(response)}")
                return
            errors = response.json()["errors"]
            for index in sorted(refused):
                tally.refuse([items[index]], one_line(errors[str(index)]))
            items = [item for index, item in enumerate(items) if index not in refused]

    def _post_with_retries(self, body: bytes) -> httpx.Response:
        for delay in RETRY_DELAYS_S:
            response = self._try(body, last=False)
            if response is not None and response.status_code not in RETRY_STATUSES:
                return response
            self._sleep(delay)
        response = self._try(body, last=True)
        assert response is not None, "the last try raises instead"
        return response

    def _try(self, body: bytes, *, last: bool) -> httpx.Response | None:
        """One post; ``None`` when the receiver could not be reached and may be retried."""
        try:
            return self._http.post("/v1/events", content=body, headers=self._sign(body))
        except httpx.TransportError as error:
            if last:
                raise PostError(f"cannot reach {self._http.base_url}: {error}") from None
            return None

    def _sign(self, body: bytes) -> dict[str, str]:
        """The Standard Webhooks headers (the id stays the same for the same body, so a
        retry is the same message)."""
        if not self._secret:
            return {}
        message_id = "msg_" + hashlib.sha256(body).hexdigest()[:32]
        now = datetime.now(UTC)
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(self._secret).sign(message_id, now, body.decode()),
        }


def _refused_indexes(response: httpx.Response, count: int) -> set[int]:
    """The batch positions a 422 names; empty when it refused the body as a whole."""
    if response.status_code != 422:
        return set()
    try:
        errors = response.json()["errors"]
    except (ValueError, KeyError, TypeError):
        return set()
    indexes = {int(key) for key in errors if key.isdigit() and int(key) < count}
    return indexes if len(indexes) == len(errors) else set()


def _named(event: Any) -> str:
    event_id = event.get("id") if isinstance(event, dict) else None
    return f" ({event_id})" if isinstance(event_id, str) else ""


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

"""Drain benchmark: a Redis that filled up while the platform was down empties itself at
the rate limit once the platform answers, side by side with a Redis with room to spare.

    python -m bench.drain [--events 3000]

For each row, runs the real stack (embedded Redis, the sandbox, the Procfile's web and
two workers of 8 threads) with ``CRM_RATE_LIMIT=50``, makes the platform answer every
event with 503, and posts batches of 100 until the receiver refuses (its high-water
mark) or ``--events`` are accepted. Then the platform answers again, and the row times
how long every accepted event takes to arrive. Rows:

- full Redis: ``maxmemory`` set just about what those events need, ``noeviction``, as
  ``hookrelay doctor`` asks; the receiver stops at ``REDIS_HIGH_WATER_PERCENT`` (90);
- roomy Redis: no ``maxmemory``; the same number of events (the reference).

Columns: how full Redis was when the platform came back, events accepted, lost
(accepted, never delivered), delivered twice, the drain rate and its share of the
limit; then how many worker writes Redis refused for want of memory.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from tests.e2e.stack import running_stack
from tests.e2e.test_procfile_stack import event_seqs, track_event
from tests.support import wait_for

LIMIT = 50
#: Room per wanted event above what Redis uses at the start: a queued event takes
#: ~660 B (bench/footprint.py), so the high-water mark (90 %) refuses some before
#: ``--events`` are in.
ROOM_PER_EVENT = 700


@dataclass(frozen=True)
class Drain:
    accepted: int
    lost: int
    twice: int
    seconds: float
    oom_lines: int
    #: Redis's used memory over its maxmemory when the platform came back (0: none set).
    fill: float

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def fill(stack, wanted: int) -> int:
    """Post batches of 100 until ``wanted`` are accepted or the receiver refuses."""
    accepted = 0
    while accepted < wanted:
        events = [track_event(n, "drain") for n in range(accepted, accepted + 100)]
        try:
            response = stack.http.post("/v1/events", json={"events": events})
        except httpx.TransportError:
            break
        if response.status_code != 202:
            break
        accepted += response.json()["accepted"]
    return accepted


def run(wanted: int, *, full: bool) -> Drain:
    with (
        tempfile.TemporaryDirectory(prefix="hr-bench-") as logs,
        running_stack(Path(logs), workers=2, CRM_RATE_LIMIT=str(LIMIT)) as stack,
    ):
        client = redis.Redis.from_url(stack.redis.url)
        if full:
            used = client.info("memory")["used_memory"]
            client.config_set("maxmemory", used + wanted * ROOM_PER_EVENT)
            client.config_set("maxmemory-policy", "noeviction")
        stack.sandbox.fault("crm.events", status=503)
        accepted = fill(stack, wanted)
        time.sleep(5)  # the workers retry against the dead platform meanwhile
        memory = client.info("memory")
        fill_share = memory["used_memory"] / memory["maxmemory"] if memory["maxmemory"] else 0.0
        stack.sandbox.faults("crm.events")
        started = time.monotonic()
        delivered = lambda: len(event_seqs(stack.sandbox))  # noqa: E731
        with contextlib.suppress(AssertionError):
            wait_for(lambda: delivered() >= accepted, timeout_s=accepted / LIMIT * 4 + 60)
        seconds = time.monotonic() - started
        seqs = event_seqs(stack.sandbox)
        oom = sum(w.log().count("used memory > 'maxmemory'") for w in stack.workers)
        return Drain(
            accepted=accepted,
            lost=accepted - len(set(seqs) & set(range(accepted))),
            twice=sum(count - 1 for count in seqs.values()),
            seconds=seconds,
            oom_lines=oom,
            fill=fill_share,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events to fill with")
    args = parser.parse_args()
    full = run(args.events, full=True)
    roomy = run(full.accepted, full=False)
    print(f"\ndrain, 2 worker processes x 8 threads, CRM_RATE_LIMIT {LIMIT}\n")
    print("| Redis | used / maxmemory | accepted | lost | twice | drain events/s | vs limit |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in (("full (maxmemory, noeviction)", full), ("roomy (reference)", roomy)):
        print(
            f"| {name} | {f'{row.fill:.0%}' if row.fill else '-'} | {row.accepted:,} | "
            f"{row.lost} | {row.twice} | {row.rate:.1f} | {row.rate / LIMIT:.0%} |"
        )
    print(f"\nworker writes Redis refused for want of memory (full run): {full.oom_lines}")


if __name__ == "__main__":
    main()

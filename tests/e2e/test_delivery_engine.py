"""The delivery engine under a platform that limits, fails and drops, with two workers."""

from __future__ import annotations

import redis

from ..support import wait_for
from .stack import running_stack
from .test_procfile_stack import event_seqs, track_event


def test_2000_events_through_a_50_per_second_limit_with_5xx_and_drops(tmp_path):
    with running_stack(tmp_path, workers=2, CRM_RATE_LIMIT="50", WORKER_THREADS="8") as stack:
        stack.sandbox.limit("crm", 50)
        stack.sandbox.faults(
            "crm.events", {"status": 503, "ratio": 0.2}, {"drop": True, "ratio": 0.03}
        )
        total = 2000
        for start in range(0, total, 100):
            stack.post([track_event(i, "limited") for i in range(start, start + 100)])

        wait_for(lambda: len(event_seqs(stack.sandbox)) == total, timeout_s=180, interval_s=1)

        received = stack.sandbox.received("crm.events")
        statuses = [r["status"] for r in received]
        assert stack.sandbox.violations("crm") == 0, "never over the platform's limit"
        assert 429 not in statuses
        assert statuses.count(503) > 0 and statuses.count(0) > 0, "the faults were in force"
        assert redis.Redis.from_url(stack.redis.url).zcard("hookrelay:dlq:index") == 0
        assert set(event_seqs(stack.sandbox)) == set(range(total))
        span = received[-1]["at"] - received[0]["at"]
        print(
            f"\n{len(received)} requests in {span:.1f} s: {(len(received) - 1) / span:.1f}/s "
            f"against a limit of 50/s; {statuses.count(503)} 503s, {statuses.count(0)} drops"
        )

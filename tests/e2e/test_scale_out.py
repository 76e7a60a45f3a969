"""Scale-out as the README describes it: two ``web`` and three ``worker`` processes of the
Procfile on one Redis. Every event posted to both receivers at once is accepted by
exactly one of them, delivered exactly once, and the workers share the work."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from ..support import API_KEY, ProcfileProcess, free_port, wait_for
from .stack import is_ready, post_events, running_stack
from .test_operations import samples, total
from .test_procfile_stack import event_seqs, track_event

EVENTS = 600
BATCH = 20
WORKERS = 3


def test_two_web_and_three_workers_on_one_redis_deliver_each_event_once(tmp_path):
    with running_stack(tmp_path, workers=0, METRICS_PORT="0", LOG_FORMAT="json") as stack:
        port = free_port()
        second = ProcfileProcess("web", {**stack.env, "PORT": str(port)}, tmp_path)
        receivers = [
            stack.http,
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                timeout=30,
                headers={"Authorization": f"Bearer {API_KEY}"},
            ),
        ]
        try:
            wait_for(lambda: is_ready(receivers[1]), timeout_s=30)
            stack.sandbox.fault("crm.events", delay_s=0.02)
            stack.workers += [stack.start_worker() for _ in range(WORKERS)]

            events = [track_event(seq, "scale") for seq in range(EVENTS)]
            batches = [events[start : start + BATCH] for start in range(0, EVENTS, BATCH)]
            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(
                    pool.map(
                        lambda job: post_events(*job),
                        [(receiver, batch) for batch in batches for receiver in receivers],
                    )
                )
            assert sum(answer["accepted"] for answer in answers) == EVENTS
            assert sum(answer["duplicates"] for answer in answers) == EVENTS

            wait_for(lambda: len(event_seqs(stack.sandbox)) == EVENTS, timeout_s=120)
            wait_for(lambda: not queued(receivers[0]), timeout_s=30)
            assert event_seqs(stack.sandbox) == Counter(range(EVENTS)), "each exactly once"
            shares = [delivered_lines(worker.log()) for worker in stack.workers]
            assert sum(shares) == EVENTS
            assert all(shares), f"every worker delivered some: {shares}"
        finally:
            receivers[1].close()
            second.stop()


def queued(receiver: httpx.Client) -> float:
    return total(samples(receiver.get("/metrics").text), "hookrelay_queue_depth")


def delivered_lines(log: str) -> int:
    count = 0
    for line in log.splitlines():
        if line.startswith("{") and json.loads(line).get("outcome") == "delivered":
            count += 1
    return count

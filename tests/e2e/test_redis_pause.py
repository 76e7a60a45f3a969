"""A Redis that stops answering for longer than every timeout, then comes back: every
consumer thread of a live worker consumes again, and what they held is not stranded."""

from __future__ import annotations

import signal
import time

from ..support import wait_for
from .stack import running_stack
from .test_campaigns import start_event
from .test_procfile_stack import event_seqs, track_event

#: Longer than two of the clients' 5 s socket timeouts: a fetch times out, then the
#: requeue its consumer thread tries before restarting.
PAUSE_S = 12
#: The follow-up's second step is still held, delayed, by the worker during the pause.
SCHEDULE = "1,25"


def test_after_a_redis_pause_every_consumer_consumes_and_nothing_is_stranded(tmp_path):
    with running_stack(tmp_path, FOLLOWUP_SCHEDULE=SCHEDULE) as stack:
        start = start_event("pause-start", campaign_id=4242)
        del start["campaign"]["pushwoosh_message_code"]
        stack.post([start, track_event(0, "pause")])
        reports = lambda: stack.sandbox.accepted("crm.reports")  # noqa: E731
        wait_for(lambda: reports() and event_seqs(stack.sandbox), timeout_s=30)

        stack.redis.process.send_signal(signal.SIGSTOP)
        try:
            time.sleep(PAUSE_S)
        finally:
            stack.redis.process.send_signal(signal.SIGCONT)

        stack.sandbox.fault("crm.events", status=503, count=3)  # their retries are delayed
        stack.post_until_accepted([track_event(n, "pause") for n in range(1, 6)])
        wait_for(lambda: set(event_seqs(stack.sandbox)) == set(range(6)), timeout_s=60)
        # The follow-up step the worker held, delayed, through the pause is fetched too.
        wait_for(lambda: len(reports()) >= 2, timeout_s=60)
        log = stack.workers[0].log()
        assert "Consumer encountered an unexpected error" not in log
        print(f"\nconnection-error lines in the worker's log: {log.count('connection error')}")
        assert log.count("Consumer encountered a connection error") == 1, "one line per outage"

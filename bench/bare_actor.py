"""The worker users would write instead of hookrelay's: a bare Dramatiq actor posting each
event to the S2S platform with httpx (Basic auth, a timeout, Dramatiq's own retries),
one process of 8 threads on a Redis broker.

With ``guarded`` it is the floor of a delivery that keeps hookrelay's guarantees: the
least Redis work they need, done the cheapest way, on the same actor. One script before
the call admits it (the shared limit as GCRA, the breaker's state, the order check, the
trace's ``taken`` entry), one after it settles it (the breaker's record, the outcome's
trace entry, the per-minute count), and a JSON log line per attempt: two round trips
and one line per delivery besides Dramatiq's fetch and ack. hookrelay's worker makes
two as well (the order check, the admission), its acknowledgement carrying the writes
after the call (docs/development.md, "Where a delivery's CPU goes").

It runs from a throwaway virtual environment of its own (made on first use under the
system's temporary directory, then reused), so that it is Dramatiq and httpx as a user
installs them, none of hookrelay's code or pins. :func:`drain_cpu` measures it the way
bench/delivery.py measures hookrelay's worker: the CPU of its whole process tree, from
``/proc``, while it drains a backlog.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .serve import cpu_seconds, process_tree, rss_mib, throwaway_venv

VENV = Path(tempfile.gettempdir()) / "hookrelay-bench-bare-actor"
REQUIREMENTS = ("dramatiq[redis]>=2.2,<3", "httpx>=0.27,<1")

APP = """
import os

import dramatiq
import httpx
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=os.environ["BARE_REDIS_URL"])
dramatiq.set_broker(broker)
client = httpx.Client(
    base_url=os.environ["BARE_CRM_URL"],
    auth=(os.environ["BARE_CRM_LOGIN"], os.environ["BARE_CRM_SECRET"]),
    timeout=10,
)


@dramatiq.actor(queue_name="crm", max_retries=20)
def post_event(event):
    body = {"name": event["name"], "payload": {**event.get("payload", {}), **event["user"]}}
    if GUARDED:
        guarded_post(event["id"], body)
    else:
        client.post("/api/v1/events/", json=body).raise_for_status()


GUARDED = os.environ.get("BARE_GUARDED") == "1"
ADMIT = '''
local clock = redis.call("TIME")
local now = clock[1] * 1000 + clock[2] / 1000
if tonumber(redis.call("HGET", KEYS[2], "open_until") or "0") > now then return -1 end
if redis.call("EXISTS", KEYS[3]) == 1 then return -2 end
local tat = math.max(tonumber(redis.call("GET", KEYS[1]) or "0"), now)
if tat - now > tonumber(ARGV[2]) then return math.ceil(tat - now) end
redis.call("SET", KEYS[1], tostring(tat + ARGV[1]), "PX", 60000)
redis.call("RPUSH", KEYS[4], ARGV[3])
redis.call("EXPIRE", KEYS[4], 604800)
return 0
'''
SETTLE = '''
redis.call("HINCRBY", KEYS[1], ARGV[1], 1)
redis.call("RPUSH", KEYS[2], ARGV[2])
redis.call("EXPIRE", KEYS[2], 604800)
redis.call("INCR", KEYS[3])
redis.call("EXPIRE", KEYS[3], 120)
'''
if GUARDED:
    import json
    import logging
    import time

    import redis

    guards = redis.Redis.from_url(os.environ["BARE_REDIS_URL"])
    admit = guards.register_script(ADMIT)
    settle = guards.register_script(SETTLE)
    log = logging.getLogger("delivery")
    LIMIT_INTERVAL_MS, LIMIT_BURST_MS = 0.01, 100


def guarded_post(event_id, body):
    trace = "trace:" + event_id
    taken = json.dumps({"at": time.time(), "do": "taken"})
    while True:
        verdict = admit(
            ["limit:crm", "circuit:crm", "after:" + event_id, trace],
            [LIMIT_INTERVAL_MS, LIMIT_BURST_MS, taken],
        )
        if verdict == 0:
            break
        if verdict < 0:
            raise RuntimeError("circuit open" if verdict == -1 else "waits for its profile")
        time.sleep(verdict / 1000)
    started = time.monotonic()
    response = client.post("/api/v1/events/", json=body)
    outcome = "delivered" if response.is_success else "failed"
    ms = round((time.monotonic() - started) * 1000, 1)
    entry = json.dumps({"at": time.time(), "do": outcome, "status": response.status_code})
    minute = "count:crm:" + str(int(time.time() // 60))
    settle(["circuit:crm", trace, minute], ["ok" if response.is_success else "failed", entry])
    fields = {"event_id": event_id, "platform": "crm", "outcome": outcome, "ms": ms}
    log.info(json.dumps(fields))
    response.raise_for_status()
"""

ENQUEUE = """
import json, sys
import bare_app
for line in sys.stdin:
    bare_app.post_event.send(json.loads(line))
"""


def ensure_venv() -> Path:
    """The bare actor's environment, made (under a minute, from PyPI) if it is not there."""
    return throwaway_venv(VENV, REQUIREMENTS, {"bare_app.py": APP, "bare_enqueue.py": ENQUEUE})


@dataclass
class Drain:
    """One drain: events delivered, its wall time, the worker tree's CPU and RSS."""

    events: int
    seconds: float
    cpu_s: float
    rss_mib: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.events / self.cpu_s


def drain_cpu(
    pid: int,
    enqueue: Callable[[], None],
    delivered: Callable[[], int],
    count: int,
    *,
    settled: Callable[[], bool] = lambda: True,
):
    """Enqueue ``count`` events with ``enqueue`` once the worker ``pid`` idles, then
    wait until ``delivered()`` reaches ``count`` (the drain's time), and until
    ``settled()`` (work the worker does after, such as moving traces to SQL); the worker
    tree's CPU over both."""
    time.sleep(2)  # past its start-up, which is not the drain's
    processes = process_tree(pid)
    before = cpu_seconds(processes)
    started = time.monotonic()
    enqueue()
    while delivered() < count:
        time.sleep(0.2)
    seconds = time.monotonic() - started
    while not settled():
        time.sleep(0.2)
    return Drain(count, seconds, cpu_seconds(processes) - before, rss_mib(processes))


@contextmanager
def bare_worker(redis_url: str, crm_url: str, login: str, secret: str, *, guarded: bool = False):
    """The bare actor's worker, 1 process of 8 threads (``guarded``: with the floor of
    hookrelay's guarantees, above); yields its pid and a function that enqueues events
    (as JSON lines) through its own ``send``."""
    venv = ensure_venv()
    env = {
        **os.environ,
        "BARE_REDIS_URL": redis_url,
        "BARE_CRM_URL": crm_url,
        "BARE_CRM_LOGIN": login,
        "BARE_CRM_SECRET": secret,
        "BARE_GUARDED": "1" if guarded else "0",
        "PYTHONPATH": str(venv),
    }
    command = [str(venv / "bin" / "dramatiq"), "bare_app", "--processes", "1", "--threads", "8"]
    process = subprocess.Popen(command, cwd=venv, env=env, stderr=subprocess.DEVNULL)

    def enqueue(lines: str) -> None:
        python = str(venv / "bin" / "python")
        script = str(venv / "bare_enqueue.py")
        subprocess.run([python, script], input=lines, text=True, env=env, check=True)

    try:
        yield process.pid, enqueue
    finally:
        process.terminate()
        process.wait(20)

"""The worker users would write instead of hookrelay's: a bare Dramatiq actor posting each
event to the S2S platform with httpx (Basic auth, a timeout, Dramatiq's own retries),
one process of 8 threads on a Redis broker.

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
REQUIREMENTS = ("dramatiq[redis]>=1.17,<2", "httpx>=0.27,<1")

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
    client.post("/api/v1/events/", json=body).raise_for_status()
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
def bare_worker(redis_url: str, crm_url: str, login: str, secret: str):
    """The bare actor's worker, 1 process of 8 threads; yields its pid and a function
    that enqueues events (as JSON lines) through its own ``send``."""
    venv = ensure_venv()
    env = {
        **os.environ,
        "BARE_REDIS_URL": redis_url,
        "BARE_CRM_URL": crm_url,
        "BARE_CRM_LOGIN": login,
        "BARE_CRM_SECRET": secret,
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

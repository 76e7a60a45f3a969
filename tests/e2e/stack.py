"""A running hookrelay for end-to-end tests: Redis, the sandbox, the Procfile's ``web``
and any number of ``worker`` processes, each started from the Procfile's command line."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx

from workers.ops.embedded_redis import EmbeddedRedis

from ..support import (
    API_KEY,
    BIN_DIR,
    ProcfileProcess,
    Sandbox,
    free_port,
    run_release,
    temporary_redis,
    wait_for,
)

#: What Dramatiq logs once a worker process consumes.
WORKER_READY = "Worker process is ready for action."


@contextlib.contextmanager
def running_stack(log_dir: Path, *, workers: int = 1, **env: str) -> Iterator[Stack]:
    """A stack on its own Redis, stopped (and its Redis removed) afterwards."""
    with temporary_redis("hr-e2e-") as redis_server:
        stack = Stack(log_dir, redis_server, workers=workers, **env)
        try:
            yield stack
        finally:
            stack.stop()


def is_ready(receiver: httpx.Client) -> bool:
    """Whether a ``web`` answers ``/readyz`` with 200 (not yet up counts as no)."""
    try:
        return receiver.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def post_events(receiver: httpx.Client, events: list[dict]) -> dict:
    """Post one batch to a ``web``; it must be accepted (202). Returns the answer."""
    response = receiver.post("/v1/events", json={"events": events})
    assert response.status_code == 202, response.text
    return response.json()


class Stack:
    """Settings suit tests: fast dead-worker detection and short backoff; ``env``
    overrides them."""

    def __init__(
        self, log_dir: Path, redis_server: EmbeddedRedis | None, *, workers: int, **env: str
    ):
        """Without ``redis_server``, ``env`` says where Redis is (``REDIS_SENTINELS``).
        ``{port}`` in a value of ``env`` is the receiver's port, chosen here, after the
        sandbox took its own (one chosen before could be the sandbox's)."""
        self.log_dir = log_dir
        self.redis = redis_server
        self.sandbox = Sandbox()
        port = free_port()
        self.env = {
            **({"REDIS_URL": redis_server.url} if redis_server else {}),
            "HOOKRELAY_API_KEYS": API_KEY,
            "PORT": str(port),
            "WEB_CONCURRENCY": "2",
            "WORKER_PROCESSES": "1",
            "WORKER_THREADS": "8",
            "HOOKRELAY_HEARTBEAT_TIMEOUT_S": "5",
            "HOOKRELAY_SWEEP_INTERVAL_S": "1",
            "RETRY_MIN_BACKOFF_MS": "100",
            "RETRY_MAX_BACKOFF_MS": "2000",
            "CRM_RATE_LIMIT": "500",
            "PUSHWOOSH_RATE_LIMIT": "500",
            "ALTCRAFT_RATE_LIMIT": "500",
            "DATABASE_URL": f"sqlite:///{log_dir / 'stats.db'}",
            **self.sandbox.platform_env(),
            **{name: value.replace("{port}", str(port)) for name, value in env.items()},
        }
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=30,
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        run_release(self.env)
        self.web = ProcfileProcess("web", self.env, log_dir)
        wait_for(self._ready, timeout_s=30)
        self.workers = [self.start_worker() for _ in range(workers)]

    def _ready(self) -> bool:
        return is_ready(self.http)

    def wait_for_workers(self, timeout_s: float = 60) -> None:
        """Until every worker process consumes: a test whose clock starts at its posts
        (``RETRY_MAX_AGE_S``) must not count a worker's slow start."""
        wait_for(
            lambda: all(WORKER_READY in worker.log() for worker in self.workers),
            timeout_s=timeout_s,
        )

    def start_worker(self) -> ProcfileProcess:
        return ProcfileProcess("worker", self.env, self.log_dir)

    def hookrelay(self, *args: str) -> str:
        """Run the ``hookrelay`` command against this stack; return what it printed
        (failing with what it printed, if it exits with an error)."""
        done = subprocess.run(
            [str(BIN_DIR / "hookrelay"), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, (
            f"hookrelay {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
        return done.stdout

    def post(self, events: list[dict]) -> dict:
        return post_events(self.http, events)

    def post_until_accepted(self, events: list[dict], timeout_s: float = 60) -> dict:
        """Post as a well-behaved client does: retry on 503 and on connection errors."""

        def attempt():
            try:
                response = self.http.post("/v1/events", json={"events": events})
            except httpx.TransportError:
                return None
            return response.json() if response.status_code == 202 else None

        return wait_for(attempt, timeout_s=timeout_s, interval_s=0.5)

    def stop(self) -> None:
        self.http.close()
        for worker in self.workers:
            worker.stop()
        self.web.stop()
        self.sandbox.stop()

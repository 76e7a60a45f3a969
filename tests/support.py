"""Helpers for tests that run real processes: the sandbox and the Procfile's processes."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from werkzeug.serving import make_server

from workers.ops.devstack import sandbox_env
from workers.ops.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
API_KEY = "test-key-0123456789"


@contextlib.contextmanager
def temporary_redis(prefix: str = "hr-redis-") -> Iterator[EmbeddedRedis]:
    """A real server in a short temporary directory (unix socket paths are limited)."""
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix=prefix)))
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(server.directory, ignore_errors=True)


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Serve a WSGI app over real HTTP on loopback from a thread; yield its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


#: Test ports come from below the kernel's ephemeral range (32768 and up by default), a
#: block of :data:`PORT_BLOCK` per test process (see :func:`free_port`).
FIRST_PORT, PORT_BLOCK = 10000, 1000
_next_port = itertools.count()


def free_port() -> int:
    """A free port that no other test process will be handed before its server binds it.

    A port the kernel picks (``bind`` to port 0) comes from its ephemeral range, where
    every outgoing connection and every other test process's pick also draw from: in
    the seconds until the process it is for starts and binds it, something else may
    take it, and the test then talks to a stranger. So each test process takes ports
    in turn from a block of its own below that range (pytest-xdist's worker number
    picks the block, up to 16 of them; a process outside xdist, one of the six others
    by its pid), skipping any that is in use.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    block = int(worker[2:]) % 16 if worker.startswith("gw") else 16 + os.getpid() % 6
    for _ in range(PORT_BLOCK):
        port = FIRST_PORT + block * PORT_BLOCK + next(_next_port) % PORT_BLOCK
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in test block {block}")


def wait_for(predicate: Callable[[], Any], *, timeout_s: float, interval_s: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy; return it, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


class Sandbox:
    """The sandbox as a subprocess, with its admin API as methods."""

    def __init__(self, *extra_args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", "0", *extra_args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.url = self.process.stdout.readline().strip().rpartition(" ")[2]
        assert self.url.startswith("http://"), "the sandbox did not start"
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def platform_env(self) -> dict[str, str]:
        """Every platform's settings pointing here, as ``make run`` gives them."""
        return sandbox_env(self.url)

    def received(self, route: str | None = None) -> list[dict]:
        params = {"route": route} if route else {}
        return self.http.get("/_sandbox/received", params=params).json()

    def accepted(self, route: str) -> list[dict]:
        """Requests of ``route`` that the platform accepted (2xx)."""
        return [r for r in self.received(route) if 200 <= r["status"] < 300]

    def profiles(self) -> list[dict]:
        return self.http.get("/_sandbox/profiles").json()

    def reset(self) -> None:
        for what in ("received", "faults", "limits", "stats"):
            self.http.delete(f"/_sandbox/{what}").raise_for_status()
        self.profile_order("stamp")

    def profile_order(self, order: str) -> None:
        """Apply profile updates by their stamp, or in arrival order ignoring it."""
        self.http.put("/_sandbox/profiles/order", json={"order": order}).raise_for_status()

    def campaigns(self) -> list[dict]:
        """Each campaign's status as the platform holds it."""
        return self.http.get("/_sandbox/campaigns").json()

    def early_events(self) -> list[dict]:
        """The events that reached the platform before any profile of their user."""
        return self.http.get("/_sandbox/events/early").json()

    def limit(self, platform: str, per_second: int) -> None:
        self.http.put(f"/_sandbox/limits/{platform}", json={"per_second": per_second})

    def violations(self, platform: str) -> int:
        return self.http.get("/_sandbox/limits").json()[platform]["violations"]

    def fault(self, route: str, **spec: Any) -> None:
        self.http.put(f"/_sandbox/faults/{route}", json=spec).raise_for_status()

    def faults(self, route: str, *specs: dict[str, Any]) -> None:
        self.http.put(f"/_sandbox/faults/{route}", json=list(specs)).raise_for_status()

    def knobs(self, **values: int) -> None:
        """Set statistics knobs (sandbox/stats.py ``Knobs``)."""
        self.http.put("/_sandbox/stats", json=values).raise_for_status()

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(10)


def procfile_command(name: str) -> str:
    """The command line the Procfile gives for process type ``name``."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == name:
            return command.strip()
    raise KeyError(name)


def run_release(env: dict[str, str]) -> str:
    """Run the Procfile's one-off ``release`` step as a platform does before starting a
    release's processes; return what it printed (it must succeed)."""
    path = f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        ["/bin/sh", "-c", f"exec {procfile_command('release')}"],
        cwd=ROOT,
        env={**os.environ, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class ProcfileProcess:
    """One Procfile process type, run through a shell as a Procfile runner does.

    It gets its own process group, so :meth:`kill` takes down the whole tree at once
    (a Dramatiq worker is a parent process and its forked children), as a crash would.
    """

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        path = f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {procfile_command(name)}"],
            cwd=ROOT,
            env={**os.environ, **env, "PATH": path},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """``kill -9`` the whole process group."""
        self._send(signal.SIGKILL)
        self.process.wait(30)
        self._log.close()

    def stop(self, timeout_s: float = 20) -> None:
        """Graceful stop (SIGTERM to the group), then SIGKILL if it lingers."""
        self._send(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._send(signal.SIGKILL)
            self.process.wait(30)
        self._log.close()

    def _send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

"""Serving an app the way the receiver is served, for the benchmarks: the Procfile's
gunicorn configuration on a free loopback port, with its own SQLite store."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from workers.campaigns.schema import migrate

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Served:
    """A gunicorn serving on ``port``; ``pid`` is its master's."""

    port: int
    pid: int


def process_tree(pid: int) -> list[psutil.Process]:
    """A served process and every process it started (gunicorn's master and workers)."""
    master = psutil.Process(pid)
    return [master, *master.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """The user and system CPU time the processes have taken so far."""
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def rss_mib(processes: list[psutil.Process]) -> float:
    """The processes' resident memory, together."""
    return sum(process.memory_info().rss for process in processes) / 2**20


def throwaway_venv(path: Path, requirements: tuple[str, ...], files: dict[str, str]) -> Path:
    """A virtual environment at ``path`` for a bench's peer, none of hookrelay's: made
    (a minute or so, from PyPI) with ``requirements`` if it is not there yet or was
    made with others, then ``files`` (name: text) written into it."""
    stamp = path / ".installed"
    wanted = "\n".join(requirements)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        pip = [str(path / "bin" / "pip"), "install", "--quiet"]
        subprocess.run([*pip, *requirements], check=True)
        stamp.write_text(wanted)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


@dataclass
class Cpu:
    """The server's CPU time over one variant's measured runs, ``web`` (gunicorn's
    processes) and ``redis``, and the load generator's: per event, a measure a busier
    minute of a shared machine moves far less than a rate."""

    events: int = 0
    web_s: float = 0.0
    redis_s: float = 0.0
    load_s: float = 0.0

    def per_event_us(self, seconds: float) -> float:
        return seconds / max(self.events, 1) * 1e6


def measure_cpu(into: Cpu, web_pid: int, redis_pid: int, events_per_request: int, run: Callable):
    """``run()`` (a load run, returning its result), its CPU time added to ``into``."""
    web, store = process_tree(web_pid), [psutil.Process(redis_pid)]
    before = cpu_seconds(web), cpu_seconds(store), load_cpu_seconds()
    result = run()
    into.events += result.requests * events_per_request
    into.web_s += cpu_seconds(web) - before[0]
    into.redis_s += cpu_seconds(store) - before[1]
    into.load_s += load_cpu_seconds() - before[2]
    return result


def load_cpu_seconds() -> float:
    """The CPU time the load generator's processes took, once they have ended (the
    servers, still running, are not counted until they exit)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


@contextmanager
def gunicorn(app_spec: str, redis_url: str, **settings: str):
    """The receiver's gunicorn settings (see the Procfile) serving ``app_spec``."""
    port = free_port()
    env = {**store_env(port, redis_url), **settings}
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config",
        "python:webhook.gunicorn_conf",
        app_spec,
    ]
    with serving(command, port, cwd=ROOT, env=env) as served:
        yield served


def store_env(port: int, redis_url: str) -> dict[str, str]:
    """The environment of a receiver on ``port``: this one's, with the bench's key,
    ``redis_url`` and a migrated SQLite store of its own (in a temporary folder)."""
    store_dir = tempfile.mkdtemp(prefix="hookrelay-bench-")
    env = {
        **os.environ,
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "HOOKRELAY_API_KEYS": API_KEY,
        "DATABASE_URL": f"sqlite:///{store_dir}/stats.db",
    }
    migrate(env["DATABASE_URL"])
    return env


@contextmanager
def serving(command: list[str], port: int, *, cwd: Path, env: dict[str, str]):
    """Run ``command`` until the block ends, once something listens on ``port``."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield Served(port, process.pid)
    finally:
        process.terminate()
        process.wait(20)


def wait_for_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")

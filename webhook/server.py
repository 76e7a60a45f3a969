"""The ``web`` process's gunicorn worker: gthread, except that a request is read whole
before a thread takes it.

gunicorn's gthread worker hands a connection to a thread as soon as it has a first byte,
and the thread then reads the headers and body with blocking calls. A client that trickles
its headers (slowloris) therefore holds a thread for as long as it likes: 40 such
connections without any credentials were enough to make ``/healthz`` time out. Here the
worker's event loop reads each request without blocking, as a buffering proxy in front
would, and submits it to the thread pool only once its headers and body have all arrived.
A connection that has not sent its whole request within ``WEB_READ_TIMEOUT_S`` is closed
without an answer. Threads then only ever wait on Redis, never on a client.

Trade-offs: a body is held in memory up to :data:`BUFFER_LIMIT` (the largest accepted
body plus room for the head) before a thread takes over, which it would be anyway once
Flask reads it; a larger body is handed over at that point and refused by the app (413).
TLS connections (gunicorn's own ``certfile``) are served the gthread way: the bytes on the
wire are encrypted, so nothing can be read ahead here (terminate TLS in front instead).
"""

from __future__ import annotations

import errno
import selectors
import time
from collections import deque
from functools import partial

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import TConn, ThreadWorker

from webhook import MAX_BODY_BYTES
from webhook.arrival import RequestArrival
from workers.core.settings import load_settings

#: What is read ahead at most: the largest accepted body plus 64 KiB of head.
BUFFER_LIMIT = MAX_BODY_BYTES + 64 * 1024
_RECV_BYTES = 256 * 1024


class BufferingThreadWorker(ThreadWorker):
    """A gthread worker whose event loop reads each request before a thread serves it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: Connections still sending their request, oldest deadline first.
        self.arriving_conns: deque[TConn] = deque()
        self.read_timeout_s = 10.0

    def init_process(self):
        self.read_timeout_s = load_settings().web_read_timeout_s
        super().init_process()

    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._await_request(TConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection has sent something: read the whole request first."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn)

    def handle(self, conn):
        """Serve a request, giving the parser the bytes the event loop read for it."""
        arrived, conn.arrived = getattr(conn, "arrived", b""), b""
        if arrived:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(arrived)
        return super().handle(conn)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        while self.arriving_conns and self.arriving_conns[0].timeout <= now:
            conn = self.arriving_conns.popleft()
            self.poller.unregister(conn.sock)
            self.log.debug("Closing %s: no whole request in %ss", conn.client, self.read_timeout_s)
            self._drop(conn)

    def _await_request(self, conn: TConn) -> None:
        if self.cfg.is_ssl:
            self.enqueue_req(conn)
            return
        conn.sock.setblocking(False)
        conn.arrival = RequestArrival(BUFFER_LIMIT)
        conn.timeout = time.monotonic() + self.read_timeout_s
        if self._read_available(conn) is _WAITING:
            self.arriving_conns.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_arriving, conn))
        else:
            self._settle(conn)

    def _on_arriving(self, conn: TConn, client) -> None:
        if self._read_available(conn) is not _WAITING:
            self.poller.unregister(client)
            self.arriving_conns.remove(conn)
            self._settle(conn)

    def _read_available(self, conn: TConn) -> object:
        """Read what the socket holds without blocking: :data:`_WAITING` for more,
        :data:`_ARRIVED` once the request is whole, :data:`_GONE` if the client left."""
        try:
            while not conn.arrival.complete:
                chunk = conn.sock.recv(_RECV_BYTES)
                if not chunk:
                    return _GONE
                conn.arrival.feed(chunk)
        except (BlockingIOError, InterruptedError):
            return _WAITING
        except OSError:
            return _GONE
        return _ARRIVED

    def _settle(self, conn: TConn) -> None:
        """Submit a connection whose request has arrived; close one whose client left."""
        if not conn.arrival.complete:
            self._drop(conn)
            return
        conn.arrived = conn.arrival.take()
        conn.data_ready = True
        self.enqueue_req(conn)

    def _drop(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()


_WAITING, _ARRIVED, _GONE = object(), object(), object()


class AccessLogOff(Logger):
    """gunicorn's logger, minus an access line per request that goes nowhere: gunicorn
    formats one whenever a logging configuration is given, and ours drops
    ``gunicorn.access`` (workers/core/logs.py). An access log file, if one is set
    (``--access-logfile``), still gets its lines."""

    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)

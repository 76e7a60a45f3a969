"""The ``web`` process's server: gunicorn's gevent worker, and each body read whole
before the app runs.

gunicorn parses every request line and head, strictly: a malformed one (a bad
``Content-Length``, two of them, one beside ``Transfer-Encoding``, a head over its
limits) is answered by gunicorn with a 4xx, and the connection closed. Each connection
is a greenlet, not a thread, so a client that sends slowly holds nothing the others
need, and gunicorn gives a head ``WEB_READ_TIMEOUT_S`` to arrive (its keep-alive,
set in webhook/gunicorn_conf.py) before it closes the connection.

gunicorn hands the app the body as a stream, read as the app reads it. Left at that,
a bad chunk size would surface inside a view (a 500), and a route that answers
without reading the body (the pre-send hook) would leave it to be parsed as the next
request (a second answer). So :class:`WholeBody`, around the app, reads every body
before the app runs:

- within ``WEB_READ_TIMEOUT_S``: a client that has not sent its whole body by then is
  disconnected without an answer (and a line says so);
- up to the largest accepted body and one byte more: the app answers a larger one
  ``413`` (one that says it is larger is not read at all);
- a framing error met on the way (a bad chunk size, a chunk without its end) is
  gunicorn's to answer: a ``400``, and the connection closed.

The app then reads the body from memory, as one with its ``Content-Length`` given.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from gunicorn.glogging import Logger
from gunicorn.http.errors import NoMoreData

logger = logging.getLogger(__name__)

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class WholeBody:
    """WSGI middleware: the request body read whole, in bounded time, before ``app``.

    Parameters:
      app: the WSGI app to hand the request to.
      limit: the largest body ``app`` accepts; one byte more is read, for it to refuse.
      timeout_s: how long the whole body may take to arrive.
    """

    def __init__(self, app: WsgiApp, *, limit: int, timeout_s: float) -> None:
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self._to_read(environ):
            body = self._read(environ)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            # Read whole, the body is no longer chunked for the app (Werkzeug reads no
            # body at all of a chunked request the server does not say it ended).
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _to_read(self, environ: dict) -> bool:
        """Whether the request has a body to read here: a chunked one, or one whose
        length is given, not zero and within the limit."""
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return True
        length = environ.get("CONTENT_LENGTH") or "0"
        return length.isdigit() and 0 < int(length) <= self.limit

    def _read(self, environ: dict) -> bytes:
        try:
            with gevent.Timeout(self.timeout_s):
                return environ["wsgi.input"].read(self.limit + 1)
        except gevent.Timeout:
            logger.info(
                "Closed a connection from %s: its body had not arrived after %g s.",
                environ.get("REMOTE_ADDR", "?"),
                self.timeout_s,
            )
            # gunicorn closes the connection without an answer, as for a client gone.
            raise NoMoreData() from None


class AccessLogOff(Logger):
    """gunicorn's logger, minus an access line per request that goes nowhere: gunicorn
    formats one whenever a logging configuration is given, and ours drops
    ``gunicorn.access`` (workers/core/logs.py). An access log file, if one is set
    (``--access-logfile``), still gets its lines."""

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)

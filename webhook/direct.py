"""A Lua script run on a connection the calling thread keeps, for the receiver's hottest
calls (the enqueue of every request, the pre-send hook's decision).

redis-py's client checks a connection out of its pool for every command: a lock, a
poll of the socket for unread data, then its retry and bookkeeping layers. For one
script call per request that costs more of the web process's CPU than the round trip
(bench/hooks.py, bench/ingest.py). :class:`DirectScript` sends ``EVALSHA``, packed by
hiredis in one call (redis-py's packer first walks every argument in Python), straight
to a connection made with the pool's own settings, one per thread, and still does what
those layers are for here: it reconnects and retries once after a broken connection
(a restarted Redis), loads the script again where Redis has lost it (a restart, a
failover), and drops a connection after any other error, so that a late answer is
never read as the next call's.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import hiredis
import redis
from redis.connection import AbstractConnection
from redis.exceptions import NoScriptError


class DirectScript:
    """Parameters:
    client: its pool's settings make the connections (Sentinel's included).
    source: the script.
    retry_timeouts: retry once after a timeout too, not only after a broken
      connection; only for a script whose second run does no harm.
    """

    def __init__(self, client: redis.Redis, source: str, *, retry_timeouts: bool) -> None:
        self._client = client
        self._source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._local = threading.local()
        self._retried: tuple[type[Exception], ...] = (redis.ConnectionError,)
        if retry_timeouts:
            self._retried += (redis.TimeoutError,)

    def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        command = ("EVALSHA", self.sha, len(keys), *keys, *args)
        connection = self._connection()
        try:
            return self._call(connection, command)
        except self._retried:
            connection.disconnect()
        except Exception:
            connection.disconnect()
            raise
        try:
            return self._call(connection, command)
        except Exception:
            connection.disconnect()
            raise

    def load(self) -> None:
        """Load the script into Redis (where a pipeline is to run it by its digest)."""
        self._client.script_load(self._source)

    def _call(self, connection: AbstractConnection, command: tuple) -> Any:
        # Connect the way the pool does: through Sentinel, only ``connect()`` asks where
        # the primary is (a first send alone would go to the connection's default host).
        connection.connect()
        packed = [hiredis.pack_command(command)]
        try:
            connection.send_packed_command(packed)
            return connection.read_response()
        except NoScriptError:
            self.load()
            connection.send_packed_command(packed)
            return connection.read_response()

    def _connection(self) -> AbstractConnection:
        """This thread's connection, made with the pool's settings; closed with the thread."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            pool = self._client.connection_pool
            connection = self._local.connection = pool.connection_class(**pool.connection_kwargs)
        return connection

"""Forget requests: durable, idempotent, carried out by a worker.

A request lives in one Redis hash, ``hookrelay:forget:<id>``, written in the same
atomic step as the :data:`FORGET` message that carries it out, and confirmed by
``REDIS_MIN_REPLICAS`` replicas (so a request answered ``202`` is carried out even if
every process restarts, or the primary is lost). Its id is a keyed hash of the
person's identifiers and ``suppress`` (workers/core/door.py): asking again while one is
pending answers the same id and changes nothing; asking again once it is done carries it
out again (data may have come since). The identifiers stay in the hash only until the
request is done; what is kept then (for :data:`KEPT_S`) is the outcome: what was erased,
where it had gone, and when.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from workers.core import lua
from workers.core.door import Door
from workers.core.replication import Replication
from workers.queue.layout import ENQUEUE_LUA, NAMESPACE, redis_message
from workers.queue.routes import FORGET

PREFIX = "hookrelay:forget:"
NO_REPLICAS = Replication()
#: How long a done request's outcome is kept.
KEPT_S = 30 * 86400

_SUBMIT = (
    ENQUEUE_LUA
    + """
-- KEYS = [request]; ARGV = [namespace, queue, message id, message, keys, suppress, now]
if redis.call("hget", KEYS[1], "state") == "pending" then
    return 0
end
redis.call("del", KEYS[1])
redis.call("hset", KEYS[1], "state", "pending", "keys", ARGV[5], "suppress", ARGV[6],
    "requested_at", ARGV[7])
enqueue_message(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
"""
)


class ForgetRequests:
    """Parameters: the deployment's Redis, its door, and the replicas that must
    confirm a request before it is answered (``REDIS_MIN_REPLICAS``)."""

    def __init__(
        self, client: redis.Redis, door: Door, replication: Replication = NO_REPLICAS
    ) -> None:
        self._client = client
        self._door = door
        self._replication = replication
        self._submit = client.register_script(lua.draining(_SUBMIT))

    def submit(self, keys: list[str], *, suppress: bool) -> str:
        """Ask for the person of identity ``keys`` (normal form) to be forgotten; its id."""
        request_id = self._door.hashes(["forget " + " ".join(sorted(keys)) + f" {suppress}"])[0]
        message_id, data = redis_message(FORGET, (request_id,))
        self._submit(
            keys=[PREFIX + request_id],
            args=[
                NAMESPACE,
                FORGET.queue_name,
                message_id,
                data,
                json.dumps(sorted(keys)),
                int(suppress),
                time.time(),
            ],
        )
        self._replication.confirm(self._client)
        return request_id

    def read(self, request_id: str) -> dict[str, Any] | None:
        """The request as the API answers it (no identifier), or ``None``."""
        fields = {
            k.decode(): v.decode() for k, v in self._client.hgetall(PREFIX + request_id).items()
        }
        if not fields:
            return None
        return {
            "id": request_id,
            "state": fields["state"],
            "suppress": fields.get("suppress") == "1",
            "requested_at": float(fields["requested_at"]),
            "done_at": float(fields["done_at"]) if "done_at" in fields else None,
            "erased": json.loads(fields.get("erased", "{}")),
            "platforms": json.loads(fields.get("platforms", "[]")),
        }

    def pending(self, request_id: str) -> tuple[list[str], bool] | None:
        """A pending request's identity keys and ``suppress``; ``None`` if it is not
        pending."""
        state, keys, suppress = self._client.hmget(PREFIX + request_id, "state", "keys", "suppress")
        if state != b"pending" or keys is None:
            return None
        return json.loads(keys), suppress == b"1"

    def finish(
        self, request_id: str, keys: list[str], erased: dict[str, int], platforms: list[dict]
    ) -> None:
        """Record the outcome, and the keyed hashes of the person's ``keys`` (for
        :meth:`reopen`), in place of the identifiers."""
        key = PREFIX + request_id
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(key, "keys")
            pipe.hset(
                key,
                mapping={
                    "state": "done",
                    "done_at": time.time(),
                    "erased": json.dumps(erased),
                    "platforms": json.dumps(platforms),
                    "hashes": json.dumps(self._door.hashes(keys)),
                },
            )
            pipe.expire(key, KEPT_S)
            pipe.execute()

    def reopen(self, request_id: str) -> bool:
        """Delete the suppression a done request left; whether there was one."""
        key = PREFIX + request_id
        state, suppress, hashes = self._client.hmget(key, "state", "suppress", "hashes")
        if state != b"done" or suppress != b"1" or hashes is None:
            return False
        self._door.reopen(json.loads(hashes))
        self._client.hset(key, "suppress", 0)
        return True

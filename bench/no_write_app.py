"""Diagnostic only: the receiver with its Redis write replaced.

- :func:`create_app`: by a no-op. Shows what authentication, parsing, validation and
  building the script's arguments cost on their own, so the benchmark can say how much
  of the gap to the empty endpoint is the durable write.
- :func:`create_floor_write_app`: by the floor's write (bench/floor_app.py): each id's
  dedup key and the accepted events pushed once, as one value, in one script call. The
  most a receiver that checks what hookrelay checks reaches with the least write: the
  ceiling of any shape that queues a batch as one message and fans it out in the
  worker. It still builds the per-event arguments such a shape would not, a few µs per
  event.
"""

import dataclasses

import redis
from flask import Flask

from webhook.app import create_app as create_receiver
from webhook.direct import DirectScript
from webhook.hub import EXTENSION
from webhook.intake.queue import EventQueue

#: The enqueue script's arguments: two, then seven per event (webhook/intake/enqueue.lua).
FIXED, PER_EVENT = 2, 7
#: Where an event's id and its data sit among its seven.
ID, DATA = 0, 6
#: ARGV = [events, id, ...]: one flag per id (1 new, 0 seen), then the events pushed once.
FLOOR_WRITE = """
local flags = {}
for i = 2, #ARGV do
    flags[i - 1] = redis.call("set", "floor:seen:" .. ARGV[i], 1, "NX", "EX", 86400) and 1 or 0
end
redis.call("rpush", "floor:bodies", ARGV[1])
return flags
"""


class _NoWrite(EventQueue):
    def _enqueue(self, args: list) -> list:
        return [1] * ((len(args) - FIXED) // PER_EVENT)


class _FloorWrite(EventQueue):
    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client)
        self._floor = DirectScript(client, FLOOR_WRITE, retry_timeouts=False)

    def _enqueue(self, args: list) -> list:
        ids = args[FIXED + ID :: PER_EVENT]
        events = b"\n".join(args[FIXED + DATA :: PER_EVENT])
        return self._floor([], [events, *ids])


def create_app() -> Flask:
    return _with_queue(_NoWrite)


def create_floor_write_app() -> Flask:
    return _with_queue(_FloorWrite)


def _with_queue(queue: type[EventQueue]) -> Flask:
    app = create_receiver()
    hub = app.extensions[EXTENSION]
    app.extensions[EXTENSION] = dataclasses.replace(hub, queue=queue(hub.redis))
    return app

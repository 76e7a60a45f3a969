"""The floors: the empty endpoints plus what each route cannot do without, and nothing
else (no auth, no validation).

- ``POST /v1/events`` reads each event's id (a parse that decodes nothing else),
  then in one script call sets each id's dedup key (``SET NX EX``, 24 h) and pushes
  the body, once, onto a list. On a Redis with ``appendfsync always`` the answer waits
  for its fsync, as a ``202`` that means "durably stored" must. Per-id dedup is what
  makes a retried batch safe, so any receiver that keeps that promise does this much.
- ``POST /v1/hooks/<platform>`` runs one read-only script (a ``GET`` of one key by
  ``EVALSHA``), as a decision that shares its state across processes must.

Whatever a receiver does on top of these can only make it slower, so the ratio of this
row to the empty endpoint is the most any such receiver reaches on the machine the
benchmark runs on.
"""

import os

import msgspec
import redis
from flask import Flask, request

DECIDE = "return redis.call('GET', KEYS[1])"
#: ARGV = [body, id, ...]: each new id's dedup key, then the body once.
ACCEPT = """
local new = 0
for i = 2, #ARGV do
    if redis.call("set", "floor:seen:" .. ARGV[i], 1, "NX", "EX", 86400) then
        new = new + 1
    end
end
redis.call("rpush", "floor:bodies", ARGV[1])
return new
"""


class _Event(msgspec.Struct):
    id: str


class _Body(msgspec.Struct):
    """One event (its ``id``) or a batch (``events``), as ``POST /v1/events`` takes."""

    id: str | None = None
    events: list[_Event] | None = None


_BODY = msgspec.json.Decoder(_Body)


def create_app() -> Flask:
    app = Flask(__name__)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    decide = client.register_script(DECIDE)
    enqueue = client.register_script(ACCEPT)

    @app.post("/v1/events")
    def accept():
        body = request.get_data()
        parsed = _BODY.decode(body)
        ids = [event.id for event in parsed.events or []] or [parsed.id]
        new = enqueue(args=[body, *ids])
        return {"accepted": new, "duplicates": len(ids) - new}, 202

    @app.post("/v1/hooks/<platform>")
    def allow(platform: str):
        decide(keys=[f"floor:cap:{request.args.get('uid', '')}"])
        return {"allow": True}

    return app

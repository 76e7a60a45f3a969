"""Diagnostic only: the empty endpoints plus the one Redis call each route cannot do
without, and nothing else (no auth, no parsing, no validation).

- ``POST /v1/events`` stores the body under a fresh key with one ``SET``. On a Redis
  with ``appendfsync always`` the answer waits for its fsync, as a ``202`` that means
  "durably stored" must.
- ``POST /v1/hooks/<platform>`` runs one read-only script (a ``GET`` of one key by
  ``EVALSHA``), as a decision that shares its state across processes must.

Whatever a receiver does on top of these can only make it slower, so the ratio of this
row to the empty endpoint is the most any such receiver reaches on the machine the
benchmark runs on.
"""

import os
import uuid

import redis
from flask import Flask, request

DECIDE = "return redis.call('GET', KEYS[1])"


def create_app() -> Flask:
    app = Flask(__name__)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    decide = client.register_script(DECIDE)

    @app.post("/v1/events")
    def accept():
        client.set(f"floor:{uuid.uuid4().hex}", request.get_data())
        return {"accepted": 1, "duplicates": 0}, 202

    @app.post("/v1/hooks/<platform>")
    def allow(platform: str):
        decide(keys=[f"floor:cap:{request.args.get('uid', '')}"])
        return {"allow": True}

    return app

"""The receiver users would write instead of hookrelay: Flask, a marshmallow schema of
the same event, and Celery's ``send_task`` onto a Redis broker, one task per event.

It runs from a throwaway virtual environment of its own (Celery is no dependency of
hookrelay's), made on first use under the system's temporary directory and reused
after: :func:`peer_gunicorn` serves it like the receiver, 2 processes of 16 threads
(gunicorn's plain ``gthread``: the peer has no worker class of its own).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from .serve import free_port, serving, throwaway_venv

VENV = Path(tempfile.gettempdir()) / "hookrelay-bench-celery-peer"
REQUIREMENTS = ("celery[redis]>=5.4,<6", "flask>=3.1,<4", "marshmallow>=3.20,<5", "gunicorn>=23")

APP = """
import os

from celery import Celery
from flask import Flask, request
from marshmallow import Schema, ValidationError, fields, validate

celery = Celery(broker=os.environ["PEER_BROKER_URL"])


class User(Schema):
    uid = fields.String(validate=validate.Length(min=1, max=256))
    email = fields.Email()


class Event(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(required=True, validate=validate.OneOf(["profile", "event"]))
    timestamp = fields.AwareDateTime(required=True)
    user = fields.Nested(User, required=True)
    fields_ = fields.Dict(data_key="fields")


EVENTS = Event(many=True)


def create_app():
    app = Flask(__name__)

    @app.post("/v1/events")
    def accept():
        body = request.get_json()
        events = body["events"] if isinstance(body, dict) and "events" in body else [body]
        try:
            EVENTS.load(events)
        except ValidationError as error:
            return {"errors": error.messages}, 422
        for event in events:
            celery.send_task("deliver", args=[event], queue="events")
        return {"accepted": len(events)}, 202

    return app
"""


def ensure_venv() -> Path:
    """The peer's environment, made (about a minute, from PyPI) if it is not there yet."""
    return throwaway_venv(VENV, REQUIREMENTS, {"peer_app.py": APP})


def broker_url(redis_url: str) -> str:
    """kombu's spelling of a Redis URL (``redis+socket://`` for a unix socket)."""
    parts = urlsplit(redis_url)
    return f"redis+socket://{parts.path}" if parts.scheme == "unix" else redis_url


@contextmanager
def peer_gunicorn(redis_url: str):
    venv = ensure_venv()
    port = free_port()
    command = [
        str(venv / "bin" / "gunicorn"),
        "--workers=2",
        "--threads=16",
        "--worker-class=gthread",
        "--keep-alive=30",
        f"--bind=127.0.0.1:{port}",
        "peer_app:create_app()",
    ]
    env = {**os.environ, "PEER_BROKER_URL": broker_url(redis_url)}
    with serving(command, port, cwd=venv, env=env) as served:
        yield served

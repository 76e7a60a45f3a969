"""The receiver: validates, authenticates, deduplicates and enqueues. It never calls
a platform. ``create_app()`` is the WSGI factory gunicorn loads (see the Procfile).

It reads the stats store but does not migrate it: the gunicorn master and the workers
do that at start-up.
"""

from __future__ import annotations

from flask import Flask

from schemas.events import PLATFORMS
from workers.broker import redis_client
from workers.deadletters import DeadLetterQueue
from workers.enqueue import EventQueue
from workers.followup import FollowupScheduler, SendLog
from workers.gate import SendGate
from workers.metrics import BacklogCollector, RabbitmqDepths
from workers.ratelimit import platform_limiter
from workers.routes import QUEUES
from workers.settings import Settings, load_settings
from workers.store import Store
from workers.throughput import DeliveryRate

from . import campaigns, dlq, errors, events, health, hooks, metrics, openapi, status, suppressions
from .services import EXTENSION, Services

#: Largest accepted body (DESIGN.md: 5 MiB).
MAX_BODY_BYTES = 5 * 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Build the receiver; settings are read from the environment unless given."""
    settings = settings or load_settings()
    settings.require_api_keys()
    client = redis_client(settings.redis_url)
    scheduler = FollowupScheduler(
        client, schedule_s=settings.followup_schedule, time_scale=settings.followup_time_scale
    )

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[EXTENSION] = Services(
        settings,
        client,
        EventQueue(client),
        DeadLetterQueue(client),
        SendGate(client, cap=settings.frequency_cap),
        SendLog(client, scheduler),
        Store(settings.database_url),
        BacklogCollector(
            client,
            queues=QUEUES,
            limiters=[platform_limiter(client, settings, name) for name in PLATFORMS],
            broker=RabbitmqDepths(settings.broker_url) if settings.rabbitmq else None,
        ),
        DeliveryRate(client),
    )
    errors.register(app)
    app.register_blueprint(events.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(dlq.bp)
    app.register_blueprint(hooks.bp)
    app.register_blueprint(suppressions.bp)
    app.register_blueprint(campaigns.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(status.bp)
    return app

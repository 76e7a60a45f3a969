"""The receiver's app factory: ``create_app()``, the WSGI app ``hookrelay web`` serves.

It reads the stats store but does not migrate it: ``hookrelay migrate``, the
Procfile's release step, does; the gunicorn master checks the schema is current.
Building the app starts no thread: :meth:`Hub.start` does (webhook/gunicorn_conf.py).
"""

from __future__ import annotations

from flask import Flask, Response

from schemas.events import PLATFORMS
from webhook import errors, tracecontext
from webhook.api import (
    campaigns,
    dlq,
    events,
    forget,
    health,
    hooks,
    metrics,
    openapi,
    segment,
    segments,
    status,
    suppressions,
    traces,
)
from webhook.gate.gate import PreSendGate
from webhook.hub import EXTENSION, Hub
from webhook.intake.headroom import Headroom
from webhook.intake.queue import EventQueue
from webhook.posthook.recorder import PostHookRecorder
from workers.campaigns.schedule import FollowupScheduler
from workers.campaigns.store import Store
from workers.core.connections import redis_client
from workers.core.door import Door
from workers.core.replication import Replication
from workers.core.settings import Settings, load_settings
from workers.core.spans import NO_SPANS, Spans, spans_from
from workers.erasure.requests import ForgetRequests
from workers.metrics.backlog import BacklogCollector, DepthReader
from workers.metrics.counters import HTTP_RESPONSES
from workers.metrics.deployment import DeploymentCollector
from workers.metrics.throughput import DeliveryRate
from workers.profiles.dropped import DroppedFields
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.layout import MessageWriter
from workers.queue.routes import DEDUP_PREFIX, DEDUP_TTL_S, QUEUES
from workers.ratelimit.limiter import platform_limiter
from workers.trace.archive import TraceArchive
from workers.trace.reader import TraceReader

#: Largest accepted body (5 MiB; README, "Sending events").
MAX_BODY_BYTES = 5 * 1024 * 1024

BLUEPRINTS = (
    events,
    traces,
    health,
    dlq,
    hooks,
    forget,
    suppressions,
    campaigns,
    segments,
    metrics,
    openapi,
    status,
)


def create_app(settings: Settings | None = None, *, spans: Spans | None = None) -> Flask:
    """Build the receiver; settings are read from the environment unless given, and
    spans exported as they say (OTEL_EXPORTER_OTLP_ENDPOINT) unless ``spans`` are."""
    settings = settings or load_settings()
    settings.require_api_keys()
    app = Flask(__name__, static_folder=None)
    # A path with "//" is no other route's: Werkzeug would otherwise answer a 308 to
    # the path with one slash, which a client follows with the same POST.
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    spans = spans or spans_from(settings.otel)
    app.extensions[EXTENSION] = build_hub(settings, spans)
    if spans is not NO_SPANS:
        tracecontext.trace_requests(app, spans)
    errors.register(app)
    app.after_request(_security_headers)
    app.after_request(_counted)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    segment.register(app, settings.segment_prefix)
    return app


def _security_headers(response: Response) -> Response:
    """What every answer says to a browser: take the content type as given, never frame
    it, send no referrer from it (the status pages add their Content-Security-Policy)."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _counted(response: Response) -> Response:
    """Each answer counted by its status, for the 5xx alert (ops/prometheus)."""
    HTTP_RESPONSES.labels(str(response.status_code)).inc()
    return response


def build_hub(settings: Settings, spans: Spans = NO_SPANS) -> Hub:
    client = redis_client(settings)
    scheduler = FollowupScheduler.from_settings(client, settings)
    dead_letters = DeadLetterQueue.from_settings(client, settings)
    door = Door(client, settings.suppression_key)
    store = Store(settings.database_url)
    archive = TraceArchive(store.engine, settings.trace_retention_s)
    return Hub(
        settings=settings,
        redis=client,
        queue=EventQueue(
            client,
            events_after_profiles=settings.events_after_profiles,
            replication=Replication.from_settings(settings),
            trace_retention_s=settings.trace_retention_s,
            spans=spans,
            door=door,
        ),
        spans=spans,
        headroom=Headroom(client, high_water_percent=settings.redis_high_water_percent),
        messages=MessageWriter(client),
        dead_letters=dead_letters,
        gate=PreSendGate(client, cap=settings.frequency_cap, door=door),
        door=door,
        forget_requests=ForgetRequests(client, door, Replication.from_settings(settings)),
        post_hooks=PostHookRecorder(client, scheduler, door=door),
        store=store,
        backlog=BacklogCollector(
            client,
            queues=QUEUES,
            limiters=[platform_limiter(client, settings, name) for name in PLATFORMS],
            broker=_rabbitmq_depths(settings),
            dead_letters=dead_letters,
        ),
        deployment=DeploymentCollector(
            client,
            min_replicas=settings.redis_min_replicas,
            heartbeat_timeout_s=settings.worker.heartbeat_timeout_s,
        ),
        throughput=DeliveryRate(client),
        dropped_fields=DroppedFields(client),
        traces=TraceReader(client, archive, dedup_prefix=DEDUP_PREFIX, dedup_ttl_s=DEDUP_TTL_S),
    )


def _rabbitmq_depths(settings: Settings) -> DepthReader | None:
    """RabbitMQ's depths when it is the broker; pika is imported only then."""
    if not settings.rabbitmq:
        return None
    from workers.metrics.rabbitmq import RabbitmqDepths

    return RabbitmqDepths(settings.broker_url)

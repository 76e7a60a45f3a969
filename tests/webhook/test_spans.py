"""hookrelay's own spans with OpenTelemetry's SDK and its in-memory exporter: receive and
enqueue in the receiver, each delivery attempt in the worker, all in the caller's
trace; and nothing of OpenTelemetry imported when it is off."""

from __future__ import annotations

import subprocess
import sys

import pytest

from webhook.app import create_app
from workers.core.spans import NO_SPANS, OtelSpans, spans_from
from workers.queue.spans import DeliverySpans

from ..conftest import make_settings
from ..workers.test_trace import Broker
from .test_events import AUTH, post, queued, track

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk not installed")
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def exported():
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelSpans(provider), exporter


def test_receive_enqueue_and_delivery_are_children_of_the_callers_trace(redis_url, exported):
    spans, exporter = exported
    client = create_app(make_settings(redis_url), spans=spans).test_client()
    assert post(client, track("t1"), headers={**AUTH, "traceparent": CALLER}).status_code == 202
    [message] = queued(redis_url)
    worker = DeliverySpans(spans)
    worker.before_process_message(Broker(), message)
    worker.after_process_message(Broker(), message)

    found = {span.name: span for span in exporter.get_finished_spans()}
    receive, enqueue, deliver = (found[f"hookrelay.{n}"] for n in ("receive", "enqueue", "deliver"))
    assert {f"{s.context.trace_id:032x}" for s in found.values()} == {CALLER_TRACE}
    assert f"{receive.parent.span_id:016x}" == "00f067aa0ba902b7", "the caller's child"
    assert enqueue.parent.span_id == receive.context.span_id
    assert deliver.parent.span_id == enqueue.context.span_id
    assert message.options["traceparent"].split("-")[2] == f"{enqueue.context.span_id:016x}"
    assert receive.attributes["http.response.status_code"] == 202
    assert enqueue.attributes["accepted"] == 1
    assert deliver.attributes["hookrelay.event_id"] == "t1"


def test_without_a_caller_the_spans_start_a_trace_of_their_own(redis_url, exported):
    spans, exporter = exported
    client = create_app(make_settings(redis_url), spans=spans).test_client()
    post(client, track("t2"))
    [message] = queued(redis_url)
    trace_id = message.options["traceparent"].split("-")[1]
    assert {f"{s.context.trace_id:032x}" for s in exporter.get_finished_spans()} == {trace_id}


def test_off_no_tracer_or_exporter_is_imported():
    """(redis-py imports OpenTelemetry's metrics API by itself when it is installed.)"""
    assert spans_from(False) is NO_SPANS
    ours = "('opentelemetry.sdk.trace', 'opentelemetry.exporter')"
    code = (
        "import sys; from webhook.app import create_app; import workers.queue.broker; "
        f"print(sorted(m for m in sys.modules if m.startswith({ours})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_workers_broker_spans_attempts_only_when_exported(redis_url):
    from workers.queue.broker import build_broker

    def spanned(**env: str) -> bool:
        broker = build_broker(make_settings(redis_url, **env))
        return any(isinstance(m, DeliverySpans) for m in broker.middleware)

    assert not spanned()
    assert spanned(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318")

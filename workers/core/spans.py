"""hookrelay's own spans, exported with OpenTelemetry: receive and enqueue in ``web``,
each delivery attempt in a worker, all in the caller's trace when it sent a
``traceparent``.

They exist only with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set and the optional
``opentelemetry`` extra installed (``pip install 'hookrelay[opentelemetry]'``); the
exporter reads the other ``OTEL_*`` variables itself. Otherwise :data:`NO_SPANS` is used and
nothing of OpenTelemetry is imported: a span then costs one call that does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

logger = logging.getLogger(__name__)

SERVICE_NAME = "hookrelay"


class Span(Protocol):
    #: The span as a ``traceparent``, for what it hands on (``None``: no span).
    traceparent: str | None

    def end(self, **attributes: Any) -> None: ...


class Spans(Protocol):
    def start(self, name: str, parent: str | None, **attributes: Any) -> Span:
        """A span named ``name``, the child of the ``parent`` traceparent if any."""
        ...


class _NoSpan:
    traceparent: str | None = None

    def end(self, **attributes: Any) -> None:
        return None


class NoSpans:
    """What is used without OpenTelemetry: every span is the same one, doing nothing."""

    _span = _NoSpan()

    def start(self, name: str, parent: str | None, **attributes: Any) -> Span:
        return self._span


NO_SPANS = NoSpans()


class _OtelSpan:
    def __init__(self, span: Any, traceparent: str | None) -> None:
        self._span = span
        self.traceparent = traceparent

    def end(self, **attributes: Any) -> None:
        self._span.set_attributes(_plain(attributes))
        self._span.end()


class OtelSpans:
    """Spans of an OpenTelemetry ``provider`` (a ``TracerProvider``), propagated as W3C
    Trace Context."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self._tracer = provider.get_tracer(SERVICE_NAME)
        self._propagator = TraceContextTextMapPropagator()

    def start(self, name: str, parent: str | None, **attributes: Any) -> Span:
        context = self._propagator.extract({"traceparent": parent}) if parent else None
        span = self._tracer.start_span(name, context=context, attributes=_plain(attributes))
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=self._trace.set_span_in_context(span))
        return _OtelSpan(span, carrier.get("traceparent"))


def spans_from(exported: bool) -> Spans:
    """OpenTelemetry's spans, exported over OTLP, when ``exported``
    (``OTEL_EXPORTER_OTLP_ENDPOINT`` is set) and the extra installed; :data:`NO_SPANS`
    otherwise."""
    if not exported:
        return NO_SPANS
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed "
            "(pip install 'hookrelay[opentelemetry]'): no spans are exported."
        )
        return NO_SPANS
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return OtelSpans(provider)


def _plain(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes OpenTelemetry takes: ``None`` left out."""
    return {name: value for name, value in attributes.items() if value is not None}

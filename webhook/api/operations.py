"""The API as an OpenAPI 3 document, generated from the marshmallow schemas in
``schemas/`` (served by webhook/api/openapi.py).

:data:`OPERATIONS` is the one list of what each endpoint answers; a test checks that it
names every route the app has, and schemathesis checks live answers against it.
"""

from __future__ import annotations

import functools
from importlib.metadata import version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from schemas import api
from schemas.events import (
    EVENT_TYPES,
    MAX_BATCH,
    PLATFORMS,
    STARTABLE_PLATFORMS,
    CampaignStartEventSchema,
    ProfileEventSchema,
    TrackEventSchema,
)
from schemas.hooks import HookSchema, SuppressionSchema
from schemas.segment import MESSAGE_TYPES, MessageSchema
from webhook.api.answers import (
    BASIC,
    BEARER,
    CAMPAIGN_ID,
    EVENT_ID,
    HOOK_QUERY,
    LETTER_ID,
    LIMIT,
    PLATFORM,
    WRITE_KEY,
    answer,
    errors,
    invalid,
    json_body,
    path_parameter,
    query,
    segment_errors,
)
from workers.trace.tail import OUTCOMES as TAIL_OUTCOMES

EVENT_SCHEMAS = {
    "ProfileEvent": ProfileEventSchema,
    "TrackEvent": TrackEventSchema,
    "CampaignStartEvent": CampaignStartEventSchema,
}
ONE_EVENT = {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in EVENT_SCHEMAS]}
EVENT_LIST = {"type": "array", "items": ONE_EVENT, "minItems": 1, "maxItems": MAX_BATCH}
EVENTS_BODY = {
    "oneOf": [
        ONE_EVENT,
        {
            "type": "object",
            "properties": {"events": EVENT_LIST},
            "required": ["events"],
            "additionalProperties": False,
        },
        EVENT_LIST,
    ]
}
#: What "Try it out" starts from: valid as shown (a repeated id is a duplicate, 202).
PROFILE_EXAMPLE = {
    "id": "evt-123",
    "type": "profile",
    "timestamp": "2026-11-23T10:00:00Z",
    "user": {"uid": "42", "email": "a@example.com"},
    "fields": {"level": 7},
}
TRACK_EXAMPLE = {
    "id": "evt-124",
    "type": "event",
    "timestamp": "2026-11-23T10:00:01Z",
    "user": {"uid": "42"},
    "name": "login_user",
    "payload": {"source": "ios"},
}
CAMPAIGN_EXAMPLE = {
    "id": "start-9093",
    "type": "campaign_start",
    "timestamp": "2026-11-23T10:00:00Z",
    "campaign": {"platform": "crm", "kind": "mailing", "id": 9093},
}
EVENT_EXAMPLES = {
    "batch": {
        "summary": "A profile update and an event, in one batch",
        "value": {"events": [PROFILE_EXAMPLE, TRACK_EXAMPLE]},
    },
    "profile": {"summary": "One profile update", "value": PROFILE_EXAMPLE},
    "event": {"summary": "One tracking event", "value": TRACK_EXAMPLE},
    "campaign_start": {"summary": "Start a campaign, once", "value": CAMPAIGN_EXAMPLE},
}
#: The groups operations are listed in, in this order.
TAGS = [
    {"name": "events", "description": "What the application sends."},
    {"name": "hooks", "description": "What the platforms call before and after each send."},
    {"name": "suppressions", "description": "Who must not be sent to."},
    {"name": "dead letters", "description": "What could not be delivered, to replay."},
    {"name": "campaigns", "description": "Statistics and pause, resume, archive."},
    {"name": "segment", "description": "The Segment-spec API, for Segment-style SDKs."},
    {"name": "operations", "description": "Health, readiness, metrics, the status page."},
]


HOOK = {
    "tags": ["hooks"],
    "summary": "A platform's pre-send check or post-send report",
    "description": "Parameters come from the query string and/or a JSON body. "
    "stage=pre answers allow or not (suppressions, frequency cap); stage=post "
    "counts the send and makes sure the campaign's statistics are followed.",
    "security": BASIC,
    "parameters": [PLATFORM, *HOOK_QUERY],
    "responses": {
        200: answer(
            "The decision (pre) or the count (post).",
            {
                "oneOf": [
                    {"$ref": "#/components/schemas/HookDecision"},
                    {"$ref": "#/components/schemas/HookRecorded"},
                ]
            },
        ),
        **invalid(),
        **errors(400, 401, 404, 413, 415, 503),
    },
}

SEGMENT_BATCH_EXAMPLE = {
    "batch": [
        {
            "type": "identify",
            "messageId": "9f1c1e5e-4a43-4c6b-9a89-3c2f1a5f2f10",
            "timestamp": "2026-11-23T10:00:00.000+00:00",
            "userId": "42",
            "traits": {"email": "a@example.com", "plan": "pro"},
        },
        {
            "type": "track",
            "messageId": "0b4d7a4e-0d0c-4f51-8a4d-2f8a1c6f0e21",
            "timestamp": "2026-11-23T10:00:01.000+00:00",
            "userId": "42",
            "event": "Order Completed",
            "properties": {"total": 12.5},
        },
    ],
    "sentAt": "2026-11-23T10:00:02.000+00:00",
}
SEGMENT_BATCH = {
    "type": "object",
    "properties": {
        "batch": {"type": "array", "items": {"$ref": "#/components/schemas/SegmentMessage"}},
        "sentAt": {"type": "string", "format": "date-time"},
        "writeKey": {"type": "string"},
    },
    "required": ["batch"],
}


def segment_operation(name: str, summary: str, body: Any, examples: dict | None = None) -> dict:
    """A Segment-spec route: accepted item by item, answered the way the SDKs read."""
    return {
        "post": {
            "tags": ["segment"],
            "operationId": "segment" + name.capitalize(),
            "summary": summary,
            "description": "As Segment's HTTP API: each message is accepted or reported on "
            "its own (invalid, or dropped with the reason); messageId is the idempotency "
            "key (24 h). 32 KB per message, 500 KB per request (gzip undone).",
            "security": WRITE_KEY,
            "requestBody": json_body(body, examples=examples),
            "responses": {
                200: answer("Accepted, message by message.", api.SegmentAcceptedSchema),
                **segment_errors(400, 401, 413, 503),
            },
        }
    }


SEGMENT_OPERATIONS = {
    "/v1/batch": segment_operation(
        "batch",
        "Accept a batch of messages (what Segment-style SDKs send)",
        SEGMENT_BATCH,
        {"sdk": {"summary": "What an SDK sends", "value": SEGMENT_BATCH_EXAMPLE}},
    ),
    **{
        f"/v1/{kind}": segment_operation(
            kind,
            f"Accept {kind} messages one at a time",
            {"$ref": "#/components/schemas/SegmentMessage"},
        )
        for kind in MESSAGE_TYPES
    },
}

OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/events": {
        "post": {
            "tags": ["events"],
            "operationId": "postEvents",
            "summary": "Accept one event or a batch of up to 1,000",
            "description": 'A body is one event, {"events": [...]} or a bare array, 1 to '
            "1,000 events and 5 MiB at most. All or nothing: one invalid event refuses the "
            "batch, and the 422 names each bad event's index and field. Ids seen in the "
            "last 24 h are answered as duplicates and not sent again, so a request whose "
            "answer was lost can always be sent again.",
            "security": BEARER,
            "requestBody": json_body(EVENTS_BODY, examples=EVENT_EXAMPLES),
            "responses": {
                202: answer("Durably enqueued.", api.AcceptedSchema),
                **invalid("Each bad event's index and field."),
                **errors(400, 401, 413, 415, 503),
            },
        }
    },
    "/v1/hooks/{platform}": {
        "post": {
            **HOOK,
            "operationId": "postHook",
            "requestBody": json_body(HookSchema, required=False),
        },
        "get": {
            **HOOK,
            "operationId": "getHook",
            "summary": f"{HOOK['summary']}, parameters in the query string",
        },
    },
    "/v1/suppressions": {
        "get": {
            "tags": ["suppressions"],
            "operationId": "listSuppressions",
            "summary": "List suppressed identifiers",
            "security": BEARER,
            "parameters": [LIMIT],
            "responses": {
                200: answer("How many, and some of them.", api.SuppressionListSchema),
                **errors(401, 503),
            },
        },
        "post": {
            "tags": ["suppressions"],
            "operationId": "addSuppression",
            "summary": "Suppress one identifier",
            "security": BEARER,
            "requestBody": json_body(SuppressionSchema),
            "responses": {
                201: answer("Suppressed (again, if it already was).", api.SuppressionCreatedSchema),
                **invalid(),
                **errors(400, 401, 413, 415, 503),
            },
        },
    },
    "/v1/suppressions/{suppression_id}": {
        "delete": {
            "tags": ["suppressions"],
            "operationId": "removeSuppression",
            "summary": "Remove a suppression",
            "security": BEARER,
            "parameters": [
                path_parameter("suppression_id", {"type": "string"}, "e.g. email:a@example.com")
            ],
            "responses": {204: {"description": "Removed."}, **errors(401, 404, 503)},
        }
    },
    "/v1/dlq": {
        "get": {
            "tags": ["dead letters"],
            "operationId": "listDeadLetters",
            "summary": "List dead letters, newest first",
            "security": BEARER,
            "parameters": [LIMIT],
            "responses": {
                200: answer("How many, and the newest.", api.DeadLetterListSchema),
                **errors(401, 503),
            },
        },
        "delete": {
            "tags": ["dead letters"],
            "operationId": "purgeDeadLetters",
            "summary": "Delete every dead letter",
            "security": BEARER,
            "responses": {200: answer("How many.", api.PurgedSchema), **errors(401, 503)},
        },
    },
    "/v1/events/{event_id}": {
        "get": {
            "tags": ["events"],
            "operationId": "traceEvent",
            "summary": "Where an event is, and each of its delivery attempts",
            "security": BEARER,
            "parameters": [EVENT_ID],
            "responses": {
                200: answer("Its trace.", api.EventTraceSchema),
                **errors(401, 404, 503),
            },
        }
    },
    "/v1/tail": {
        "get": {
            "tags": ["events"],
            "operationId": "tailOutcomes",
            "summary": "Every outcome from now on (accepted, delivered, retried, "
            "dead-lettered), as server-sent events",
            "description": "One `data:` line of JSON per outcome: `outcome`, `at` (Unix "
            "ms), `event_id`, `type`, and for a worker's: `platform`, `status`, "
            "`latency_ms` (from acceptance), `attempt`. Accepted events name no platform. "
            "The stream ends after `limit` outcomes, or after an hour (an EventSource "
            "reconnects by itself).",
            "security": BEARER,
            "parameters": [
                query("platform", {"type": "string", "enum": list(PLATFORMS)}),
                query("outcome", {"type": "string", "enum": list(TAIL_OUTCOMES)}),
                query("type", {"type": "string", "enum": list(EVENT_TYPES)}),
                query("limit", {"type": "integer", "minimum": 1}, "End after this many."),
            ],
            "responses": {
                200: {
                    "description": "The stream.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **errors(400, 401, 503),
            },
        }
    },
    "/v1/dlq/{letter_id}": {
        "get": {
            "tags": ["dead letters"],
            "operationId": "showDeadLetter",
            "summary": "One dead letter, with its message",
            "security": BEARER,
            "parameters": [LETTER_ID],
            "responses": {
                200: answer("The entry.", api.DeadLetterSchema),
                **errors(401, 404, 503),
            },
        }
    },
    "/v1/dlq/{letter_id}/replay": {
        "post": {
            "tags": ["dead letters"],
            "operationId": "replayDeadLetter",
            "summary": "Re-enqueue one dead letter",
            "security": BEARER,
            "parameters": [LETTER_ID],
            "responses": {
                200: answer("Replayed.", api.ReplayedSchema),
                **errors(401, 404, 503),
            },
        }
    },
    "/v1/dlq/replay": {
        "post": {
            "tags": ["dead letters"],
            "operationId": "replayDeadLetters",
            "summary": "Re-enqueue the dead letters the filters select, or every one "
            'with {"all": true}',
            "security": BEARER,
            "requestBody": json_body(api.ReplaySelectionSchema),
            "responses": {
                200: answer("How many matched, and were replayed.", api.SelectionReplayedSchema),
                **invalid(),
                **errors(400, 401, 413, 415, 503),
            },
        }
    },
    "/v1/campaigns/{platform}/{campaign_id}/stats": {
        "get": {
            "tags": ["campaigns"],
            "operationId": "campaignStats",
            "summary": "A campaign's latest totals and time series",
            "security": BEARER,
            "parameters": [PLATFORM, CAMPAIGN_ID],
            "responses": {
                200: answer("Totals and series, source by source.", api.CampaignStatsSchema),
                **errors(401, 404),
            },
        }
    },
    "/v1/campaigns/{platform}/{campaign_id}/{action}": {
        "post": {
            "tags": ["campaigns"],
            "operationId": "campaignAction",
            "summary": "Queue a pause, resume or archive of a campaign on its platform",
            "security": BEARER,
            "parameters": [
                path_parameter("platform", {"type": "string", "enum": list(STARTABLE_PLATFORMS)}),
                CAMPAIGN_ID,
                path_parameter(
                    "action", {"type": "string", "enum": ["pause", "resume", "archive"]}
                ),
            ],
            "requestBody": json_body(api.CampaignActionSchema, required=False),
            "responses": {
                202: answer("Queued.", api.CampaignActionQueuedSchema),
                **invalid(),
                **errors(400, 401, 404, 413, 415, 503),
            },
        }
    },
    "/status": {
        "get": {
            "tags": ["operations"],
            "operationId": "statusPage",
            "summary": "The status page (HTML): messages, queues, deliveries, platforms' "
            "health, dead letters",
            "description": "A browser gives the API key as the Basic auth password.",
            "security": [*BEARER, {"statusAuth": []}],
            "parameters": [
                query("refresh", {"type": "integer", "minimum": 1}, "Seconds between reloads.")
            ],
            "responses": {
                200: {
                    "description": "The page; it reloads itself.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                **errors(401, 503),
            },
        }
    },
    "/status/event": {
        "get": {
            "tags": ["operations"],
            "operationId": "statusEventPage",
            "summary": "The status page's event search (HTML): one event's trace",
            "description": "A browser gives the API key as the Basic auth password.",
            "security": [*BEARER, {"statusAuth": []}],
            "parameters": [query("id", {"type": "string"}, "The event id.")],
            "responses": {
                200: {
                    "description": "The event's trace (or the empty search form).",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                404: {
                    "description": "No such event, or its trace expired.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                **errors(401, 503),
            },
        }
    },
    "/healthz": {
        "get": {
            "tags": ["operations"],
            "operationId": "health",
            "summary": "The process is up",
            "responses": {200: answer("Up.", api.HealthSchema)},
        }
    },
    "/readyz": {
        "get": {
            "tags": ["operations"],
            "operationId": "ready",
            "summary": "Redis and the store answer",
            "responses": {
                200: answer("Ready.", api.ReadySchema),
                503: answer("Not ready; says which.", api.ReadySchema),
            },
        }
    },
    **SEGMENT_OPERATIONS,
    "/metrics": {
        "get": {
            "tags": ["operations"],
            "operationId": "metrics",
            "summary": "Prometheus metrics",
            "responses": {
                200: {
                    "description": "Prometheus text format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}


@functools.cache
def build_spec() -> dict[str, Any]:
    """The OpenAPI 3 document, as a dict."""
    spec = APISpec(
        title="hookrelay API",
        version=version("hookrelay"),
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Relays application events to marketing platforms. "
            "Authorize with an API key (Bearer) for the API, with the hook user and "
            "password (Basic) for the hooks."
        },
        tags=TAGS,
    )
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("hookAuth", {"type": "http", "scheme": "basic"})
    spec.components.security_scheme("statusAuth", {"type": "http", "scheme": "basic"})
    for name, schema in EVENT_SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    spec.components.schema("HookDecision", schema=api.HookDecisionSchema)
    spec.components.schema("SegmentMessage", schema=MessageSchema)
    spec.components.security_scheme(
        "writeKey",
        {"type": "http", "scheme": "basic", "description": "The write key as user name."},
    )
    spec.components.security_scheme(
        "writeKeyHeader", {"type": "apiKey", "in": "header", "name": "X-Write-Key"}
    )
    spec.components.schema("HookRecorded", schema=api.HookRecordedSchema)
    for path, operations in OPERATIONS.items():
        spec.path(path=path, operations=with_server_refusals(operations))
    return spec.to_dict()


def with_server_refusals(operations: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Add what gunicorn answers, as HTML, before a request reaches the app: 400 for a
    malformed request line or header, 414 for a request line over 4,094 bytes."""
    html = {"text/html": {"schema": {"type": "string"}}}
    done = {}
    for method, operation in operations.items():
        responses = dict(operation["responses"])
        bad = responses.get(400, {"description": "Malformed request (gunicorn)."})
        responses[400] = {**bad, "content": {**bad.get("content", {}), **html}}
        responses[414] = {"description": "Request line too long (gunicorn).", "content": html}
        done[method] = {**operation, "responses": responses}
    return done

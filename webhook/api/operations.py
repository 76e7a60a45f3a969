"""What each endpoint takes and answers, for the OpenAPI document that
webhook/api/openapi.py builds from it and the marshmallow schemas in ``schemas/``.

:data:`OPERATIONS` is the one list of what each endpoint answers; a test checks that it
names every route the app has, and schemathesis checks live answers against it.
"""

from __future__ import annotations

from typing import Any

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
from webhook.api.answers import (
    BASIC,
    BEARER,
    CAMPAIGN_ID,
    EVENT_ID,
    HOOK_QUERY,
    LETTER_ID,
    LIMIT,
    PLATFORM,
    TRACEPARENT,
    answer,
    errors,
    invalid,
    json_body,
    path_parameter,
    query,
)
from webhook.api.campaign_operations import CAMPAIGN_OPERATIONS, CRM_SEGMENT_OPERATIONS
from webhook.api.examples import EVENT_EXAMPLES
from webhook.api.forget_operations import FORGET_OPERATIONS
from webhook.api.segment_operations import SEGMENT_OPERATIONS
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
HOOK = {
    "tags": ["hooks"],
    "summary": "A platform's pre-send check or post-send report",
    "description": "Parameters come from the query string and/or a JSON body. "
    "stage=pre (or no stage) answers allow or not (suppressions, frequency cap); "
    "stage=post counts the send and makes sure the campaign's statistics are followed. "
    "Basic auth, or the token of the campaign the call names in the query string.",
    "security": [*BASIC, {}],
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
            "parameters": [TRACEPARENT],
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
    "/status/campaigns/{platform}/{campaign_id}": {
        "get": {
            "tags": ["operations"],
            "operationId": "statusCampaignPage",
            "summary": "The console's page of one campaign (HTML): its statistics over time",
            "description": "A chart with the numbers in a table beside it, then its latest "
            "totals. A browser gives the API key as the Basic auth password.",
            "security": [*BEARER, {"statusAuth": []}],
            "parameters": [PLATFORM, CAMPAIGN_ID],
            "responses": {
                200: {
                    "description": "The campaign's page.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                404: {
                    "description": "hookrelay follows no such campaign.",
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
    **FORGET_OPERATIONS,
    **SEGMENT_OPERATIONS,
    **CAMPAIGN_OPERATIONS,
    **CRM_SEGMENT_OPERATIONS,
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

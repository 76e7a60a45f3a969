"""``GET /openapi.json``: the API as an OpenAPI 3 document, generated from the marshmallow
schemas in ``schemas/``; ``GET /docs``: the same, browsable (Swagger UI, served from the
``swagger-ui-bundle`` package, so it works without internet access).

:data:`OPERATIONS` is the one list of what each endpoint answers; a test checks that it
names every route the app has, and schemathesis checks live answers against it.
"""

from __future__ import annotations

import functools
from importlib.metadata import version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from schemas import api
from schemas.events import (
    MAX_BATCH,
    MAX_CAMPAIGN_ID,
    PLATFORMS,
    STARTABLE_PLATFORMS,
    CampaignStartEventSchema,
    ProfileEventSchema,
    TrackEventSchema,
)
from schemas.hooks import HookSchema, SuppressionSchema

bp = Blueprint("openapi", __name__)

EVENT_SCHEMAS = {
    "ProfileEvent": ProfileEventSchema,
    "TrackEvent": TrackEventSchema,
    "CampaignStartEvent": CampaignStartEventSchema,
}
ONE_EVENT = {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in EVENT_SCHEMAS]}
EVENTS_BODY = {
    "oneOf": [
        ONE_EVENT,
        {
            "type": "object",
            "properties": {
                "events": {
                    "type": "array",
                    "items": ONE_EVENT,
                    "minItems": 1,
                    "maxItems": MAX_BATCH,
                }
            },
            "required": ["events"],
            "additionalProperties": False,
        },
    ]
}

BEARER = [{"apiKey": []}]
BASIC = [{"hookAuth": []}]
ERRORS = {
    400: "The body is not JSON.",
    401: "Missing or wrong credentials.",
    404: "No such object.",
    413: "The body is over 5 MiB.",
    415: "The body is not application/json.",
    503: "Redis is unreachable; nothing was done. Retry after Retry-After seconds.",
}


def _answer(description: str, schema: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[int, Any]:
    answers = {code: _answer(ERRORS[code], api.ErrorSchema) for code in codes}
    if 503 in codes:
        answers[503]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return answers


def _invalid(description: str = "Invalid input; each error names its field.") -> dict:
    return {422: _answer(description, api.ValidationErrorsSchema)}


def _path_parameter(name: str, schema: dict[str, Any], description: str = "") -> dict:
    return {"in": "path", "name": name, "required": True, "schema": schema, **_said(description)}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict:
    return {"in": "query", "name": name, "required": False, "schema": schema, **_said(description)}


def _said(description: str) -> dict[str, str]:
    return {"description": description} if description else {}


def _json_body(schema: Any, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "How many.")
PLATFORM = _path_parameter("platform", {"type": "string", "enum": list(PLATFORMS)})
CAMPAIGN_ID = _path_parameter(
    "campaign_id", {"type": "integer", "minimum": 0, "maximum": MAX_CAMPAIGN_ID}
)
LETTER_ID = _path_parameter("letter_id", {"type": "string"})
HOOK_QUERY = [
    _query(name, {"type": "string"}, "Or in the body; the body wins.")
    for name in ("stage", "uid", "email", "phone", "wp_token", "campaign_id", "message_id", "kind")
]

OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/events": {
        "post": {
            "summary": "Accept one event or a batch of up to 1,000",
            "description": "All or nothing: one invalid event refuses the batch. Ids seen "
            "in the last 24 h are answered as duplicates and not sent again.",
            "security": BEARER,
            "requestBody": _json_body(EVENTS_BODY),
            "responses": {
                202: _answer("Durably enqueued.", api.AcceptedSchema),
                **_invalid("Each bad event's index and field."),
                **_errors(400, 401, 413, 415, 503),
            },
        }
    },
    "/v1/hooks/{platform}": {
        "post": {
            "summary": "A platform's pre-send check or post-send report",
            "description": "Parameters come from the query string and/or a JSON body. "
            "stage=pre answers allow or not (suppressions, frequency cap); stage=post "
            "counts the send and makes sure the campaign's statistics are followed.",
            "security": BASIC,
            "parameters": [PLATFORM, *HOOK_QUERY],
            "requestBody": _json_body(HookSchema, required=False),
            "responses": {
                200: _answer(
                    "The decision (pre) or the count (post).",
                    {
                        "oneOf": [
                            {"$ref": "#/components/schemas/HookDecision"},
                            {"$ref": "#/components/schemas/HookRecorded"},
                        ]
                    },
                ),
                **_invalid(),
                **_errors(401, 404, 413, 503),
            },
        }
    },
    "/v1/suppressions": {
        "get": {
            "summary": "List suppressed identifiers",
            "security": BEARER,
            "parameters": [LIMIT],
            "responses": {
                200: _answer("How many, and some of them.", api.SuppressionListSchema),
                **_errors(401, 503),
            },
        },
        "post": {
            "summary": "Suppress one identifier",
            "security": BEARER,
            "requestBody": _json_body(SuppressionSchema),
            "responses": {
                201: _answer(
                    "Suppressed (again, if it already was).", api.SuppressionCreatedSchema
                ),
                **_invalid(),
                **_errors(401, 413, 503),
            },
        },
    },
    "/v1/suppressions/{suppression_id}": {
        "delete": {
            "summary": "Remove a suppression",
            "security": BEARER,
            "parameters": [
                _path_parameter("suppression_id", {"type": "string"}, "e.g. email:a@example.com")
            ],
            "responses": {204: {"description": "Removed."}, **_errors(401, 404, 503)},
        }
    },
    "/v1/dlq": {
        "get": {
            "summary": "List dead letters, newest first",
            "security": BEARER,
            "parameters": [LIMIT],
            "responses": {
                200: _answer("How many, and the newest.", api.DeadLetterListSchema),
                **_errors(401, 503),
            },
        },
        "delete": {
            "summary": "Delete every dead letter",
            "security": BEARER,
            "responses": {200: _answer("How many.", api.PurgedSchema), **_errors(401, 503)},
        },
    },
    "/v1/dlq/{letter_id}": {
        "get": {
            "summary": "One dead letter, with its message",
            "security": BEARER,
            "parameters": [LETTER_ID],
            "responses": {
                200: _answer("The entry.", api.DeadLetterSchema),
                **_errors(401, 404, 503),
            },
        }
    },
    "/v1/dlq/{letter_id}/replay": {
        "post": {
            "summary": "Re-enqueue one dead letter",
            "security": BEARER,
            "parameters": [LETTER_ID],
            "responses": {
                200: _answer("Replayed.", api.ReplayedSchema),
                **_errors(401, 404, 503),
            },
        }
    },
    "/v1/dlq/replay": {
        "post": {
            "summary": "Re-enqueue every dead letter",
            "security": BEARER,
            "responses": {200: _answer("How many.", api.ReplayedSchema), **_errors(401, 503)},
        }
    },
    "/v1/campaigns/{platform}/{campaign_id}/stats": {
        "get": {
            "summary": "A campaign's latest totals and time series",
            "security": BEARER,
            "parameters": [PLATFORM, CAMPAIGN_ID],
            "responses": {
                200: _answer("Totals and series, source by source.", api.CampaignStatsSchema),
                **_errors(401, 404),
            },
        }
    },
    "/v1/campaigns/{platform}/{campaign_id}/{action}": {
        "post": {
            "summary": "Queue a pause, resume or archive of a campaign on its platform",
            "security": BEARER,
            "parameters": [
                _path_parameter("platform", {"type": "string", "enum": list(STARTABLE_PLATFORMS)}),
                CAMPAIGN_ID,
                _path_parameter(
                    "action", {"type": "string", "enum": ["pause", "resume", "archive"]}
                ),
            ],
            "requestBody": _json_body(api.CampaignActionSchema, required=False),
            "responses": {
                202: _answer("Queued.", api.CampaignActionQueuedSchema),
                **_invalid(),
                **_errors(401, 404, 503),
            },
        }
    },
    "/status": {
        "get": {
            "summary": "The status page (HTML): queues, deliveries, rate limits, dead letters",
            "description": "A browser gives the API key as the Basic auth password.",
            "security": [*BEARER, {"statusAuth": []}],
            "parameters": [
                _query("refresh", {"type": "integer", "minimum": 1}, "Seconds between reloads.")
            ],
            "responses": {
                200: {
                    "description": "The page; it reloads itself.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                **_errors(401, 503),
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "The process is up",
            "responses": {200: _answer("Up.", api.HealthSchema)},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Redis and the store answer",
            "responses": {
                200: _answer("Ready.", api.ReadySchema),
                503: _answer("Not ready; says which.", api.ReadySchema),
            },
        }
    },
    "/metrics": {
        "get": {
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
        title="hookrelay",
        version=version("hookrelay"),
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Relays application events to marketing platforms."},
    )
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("hookAuth", {"type": "http", "scheme": "basic"})
    spec.components.security_scheme("statusAuth", {"type": "http", "scheme": "basic"})
    for name, schema in EVENT_SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    spec.components.schema("HookDecision", schema=api.HookDecisionSchema)
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


@bp.get("/openapi.json")
def document():
    return build_spec()


@bp.get("/docs/")
def browse():
    return send_from_directory(swagger_ui_path, "index.html")


@bp.get("/docs/swagger-initializer.js")
def initializer():
    script = (
        'window.onload = () => { window.ui = SwaggerUIBundle({url: "/openapi.json", '
        'dom_id: "#swagger-ui", presets: [SwaggerUIBundle.presets.apis, '
        "SwaggerUIStandalonePreset], layout: 'StandaloneLayout'}); };"
    )
    return script, 200, {"Content-Type": "application/javascript"}


@bp.get("/docs/<path:name>")
def asset(name: str):
    return send_from_directory(swagger_ui_path, name)

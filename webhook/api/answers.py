"""The building blocks of the OpenAPI document (webhook/api/operations.py): security
schemes, error answers and the parameters several operations share."""

from __future__ import annotations

from typing import Any

from schemas import api
from schemas.events import MAX_CAMPAIGN_ID, PLATFORMS

BEARER: list[dict[str, list[str]]] = [{"apiKey": []}]
#: A write key as the Basic auth user name or in X-Write-Key (or the body's writeKey).
WRITE_KEY: list[dict[str, list[str]]] = [{"writeKey": []}, {"writeKeyHeader": []}, {"apiKey": []}]
BASIC: list[dict[str, list[str]]] = [{"hookAuth": []}]
ERRORS = {
    400: "The body is not JSON.",
    401: "Missing or wrong credentials.",
    404: "No such object.",
    413: "The body is over 5 MiB.",
    415: "The body is not application/json.",
    503: "Redis did not answer in time: the request may or may not have been done. "
    "Retry after Retry-After seconds, with the same ids.",
}
#: What each refusal looks like (the ``error`` is the HTTP status's name).
ERROR_EXAMPLES = {
    400: {
        "error": "bad_request",
        "message": "The body is not valid JSON: Expecting value: line 1 column 1 (char 0)",
    },
    401: {
        "error": "unauthorized",
        "message": "Missing or unknown API key (Authorization: Bearer <key>).",
    },
    404: {"error": "not_found", "message": "No dead letter 1764600000000-ab12."},
    413: {
        "error": "request_entity_too_large",
        "message": "The body is over the limit of 5 MiB (5,242,880 bytes): split it into "
        "several requests (a batch holds at most 1,000 events).",
    },
    415: {"error": "unsupported_media_type", "message": "Send the body as application/json."},
    503: {
        "error": "unavailable",
        "message": "The queue did not answer in time: this request may or may not have been "
        "accepted. Retry it with the same ids; whatever was accepted is answered as a "
        "duplicate.",
    },
}


def answer(description: str, schema: Any, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def errors(*codes: int) -> dict[int, Any]:
    answers = {code: answer(ERRORS[code], api.ErrorSchema, ERROR_EXAMPLES[code]) for code in codes}
    if 503 in codes:
        answers[503]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return answers


#: What the Segment-spec routes answer instead, as ``{"code", "message"}``.
SEGMENT_ERRORS = {
    400: (
        "Not JSON, not a batch, over 500 KB, or (one message) invalid: not retried.",
        {
            "code": "request_too_large",
            "message": "The request is over 500 KB: send fewer messages per batch.",
        },
    ),
    401: (
        "Missing or unknown write key: not retried.",
        {
            "code": "unauthorized",
            "message": "Missing or unknown write key: give it as the Basic auth user name, "
            "the X-Write-Key header or the body's writeKey.",
        },
    ),
    413: (
        "The body is over 5 MiB.",
        {"code": "request_entity_too_large", "message": "The body is over the limit of 5 MiB."},
    ),
    503: (
        "Redis did not answer in time: retry after Retry-After seconds (the SDKs do).",
        {
            "code": "unavailable",
            "message": "The queue did not answer in time: this request may or may not have "
            "been accepted.",
        },
    ),
}


def segment_errors(*codes: int) -> dict[int, Any]:
    answers = {
        code: answer(SEGMENT_ERRORS[code][0], api.SegmentErrorSchema, SEGMENT_ERRORS[code][1])
        for code in codes
    }
    if 503 in codes:
        answers[503]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return answers


def invalid(description: str = "Invalid input; each error names its field.") -> dict:
    example = {"errors": {"1": {"user": {"email": ["Not a valid email address."]}}}}
    return {422: answer(description, api.ValidationErrorsSchema, example)}


def path_parameter(name: str, schema: dict[str, Any], description: str = "") -> dict:
    return {"in": "path", "name": name, "required": True, "schema": schema, **said(description)}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict:
    return {"in": "query", "name": name, "required": False, "schema": schema, **said(description)}


#: W3C Trace Context, kept with each event of the request (webhook/tracecontext.py).
TRACEPARENT = {
    "in": "header",
    "name": "traceparent",
    "required": False,
    "schema": {
        "type": "string",
        "example": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    },
    "description": "W3C Trace Context: kept with each event, shown in its trace and in the "
    "log lines of its delivery attempts. An invalid one is ignored.",
}


def said(description: str) -> dict[str, str]:
    return {"description": description} if description else {}


def json_body(schema: Any, *, required: bool = True, examples: dict | None = None) -> dict:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = examples
    return {"required": required, "content": {"application/json": media}}


LIMIT = query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "How many.")
PLATFORM = path_parameter("platform", {"type": "string", "enum": list(PLATFORMS)})
CAMPAIGN_ID = path_parameter(
    "campaign_id", {"type": "integer", "minimum": 0, "maximum": MAX_CAMPAIGN_ID}
)
LETTER_ID = path_parameter("letter_id", {"type": "string"})
EVENT_ID = path_parameter("event_id", {"type": "string"})
HOOK_QUERY = [
    query(name, {"type": "string"}, "Or in the body; the body wins.")
    for name in ("stage", "uid", "email", "phone", "wp_token", "campaign_id", "message_id", "kind")
] + [
    query(
        "token",
        {"type": "string"},
        "The campaign's hook token (hookrelay campaign hook-url), in place of Basic auth; "
        "query string only.",
    )
]

"""The Segment-spec routes' part of the OpenAPI document (webhook/api/operations.py):
answered message by message, with errors in the shape Segment-style SDKs read."""

from __future__ import annotations

from typing import Any

from schemas import api
from schemas.segment import MESSAGE_TYPES
from webhook.api.answers import TRACEPARENT, WRITE_KEY, answer, json_body, segment_errors
from webhook.api.examples import SEGMENT_BATCH_EXAMPLE

_OBJECT = {"type": "object", "nullable": True}
_ID = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
_TIME = {"type": "string", "format": "date-time", "nullable": True}

#: One message as schemas/segment.py reads it (any other field is left out).
SEGMENT_MESSAGE = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": list(MESSAGE_TYPES)},
        "messageId": {**_ID, "description": "The idempotency key (24 h)."},
        "timestamp": _TIME,
        "originalTimestamp": _TIME,
        "userId": {**_ID, "nullable": True},
        "anonymousId": {
            **_ID,
            "nullable": True,
            "description": "Not sent: no one a platform knows.",
        },
        "traits": _OBJECT,
        "context": {
            "type": "object",
            "nullable": True,
            "properties": {"traits": _OBJECT, "device": _OBJECT},
        },
        "event": {"type": "string"},
        "properties": _OBJECT,
        "name": {"type": "string", "nullable": True},
        "groupId": {**_ID, "nullable": True},
    },
    "required": ["type"],
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
            "parameters": [TRACEPARENT],
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

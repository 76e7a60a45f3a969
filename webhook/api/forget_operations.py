"""The ``/v1/users/forget`` routes' part of the OpenAPI document
(webhook/api/operations.py)."""

from __future__ import annotations

from typing import Any

from schemas.forget import ForgetAcceptedSchema, ForgetRequestSchema, ForgetStateSchema
from webhook.api.answers import BEARER, answer, errors, invalid, json_body, path_parameter

_REQUEST_ID = path_parameter("request_id", {"type": "string"}, "As POST answered it.")

FORGET_OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/users/forget": {
        "post": {
            "tags": ["users"],
            "operationId": "forgetUser",
            "summary": "Erase one person from every store",
            "description": "Every identifier linked to the ones given is forgotten together. "
            "A worker erases the person's queued, delayed and retrying messages, buffered "
            "and saved profiles, dead letters, traces, frequency windows, recipient samples "
            "and message-log rows, usually within seconds. With suppress, their later "
            "events are answered as accepted and dropped until the suppression is deleted. "
            "Asking again while a request is pending answers the same id.",
            "security": BEARER,
            "requestBody": json_body(ForgetRequestSchema),
            "responses": {
                202: answer("Durably stored; carried out by a worker.", ForgetAcceptedSchema),
                **invalid(),
                **errors(400, 401, 413, 415, 503),
            },
        }
    },
    "/v1/users/forget/{request_id}": {
        "get": {
            "tags": ["users"],
            "operationId": "showForgetRequest",
            "summary": "Where a forget request stands, and what it erased",
            "security": BEARER,
            "parameters": [_REQUEST_ID],
            "responses": {
                200: answer("The request (no identifier of the person).", ForgetStateSchema),
                **errors(401, 404, 503),
            },
        }
    },
    "/v1/users/forget/{request_id}/suppression": {
        "delete": {
            "tags": ["users"],
            "operationId": "deleteForgetSuppression",
            "summary": "Let a forgotten person's events through again",
            "security": BEARER,
            "parameters": [_REQUEST_ID],
            "responses": {204: {"description": "Deleted."}, **errors(401, 404, 503)},
        }
    },
}

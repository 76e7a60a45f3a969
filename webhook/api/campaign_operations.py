"""The S2S platform's campaigns' and segments' part of the OpenAPI document
(webhook/api/operations.py): listed, read, created and changed on the platform, its
answers passed on."""

from __future__ import annotations

from typing import Any

from schemas.events import CAMPAIGN_KINDS, MAX_CAMPAIGN_ID
from webhook.api.answers import (
    BEARER,
    CAMPAIGN_ID,
    answer,
    errors,
    json_body,
    path_parameter,
    query,
)

#: Each kind's request schema, as registered in the document's components.
CAMPAIGN_BODIES = {
    "mailing": "CampaignMailing",
    "ab": "CampaignAb",
    "automated": "CampaignAutomated",
}
_BODY = {
    "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in CAMPAIGN_BODIES.values()],
    "discriminator": {"propertyName": "kind"},
}
_CAMPAIGN = {"type": "object", "description": "The platform's answer, as it gave it."}
_REFUSED = {
    "type": "object",
    "properties": {"message": {"type": "string"}, "platform_said": {"type": "string"}},
}
_SEGMENT_ID = path_parameter(
    "segment_id", {"type": "integer", "minimum": 0, "maximum": MAX_CAMPAIGN_ID}
)
_SEGMENT = {"$ref": "#/components/schemas/Segment"}
_KIND = query("kind", {"type": "string", "enum": list(CAMPAIGN_KINDS)}, "The campaign's kind.")


def _refusals(*codes: int) -> dict[int, Any]:
    said = {
        404: "The platform has nothing at that id.",
        422: "Invalid (each error names its field, nothing was sent), or refused by the "
        "platform (its words in platform_said).",
        502: "The platform failed, or refused hookrelay's credentials.",
        503: "The platform is off, or busy past the few seconds hookrelay retries it.",
    }
    return {code: answer(said[code], _REFUSED) for code in codes}


def _operation(name: str, summary: str, **more: Any) -> dict[str, Any]:
    return {
        "tags": ["campaigns"],
        "operationId": name,
        "summary": summary,
        "security": BEARER,
        **more,
    }


_WRITE = "hookrelay writes config's hook part (hook_url_template with the campaign's token, "
"hook_use_auth and hook_pre_post, both on unless given) unless hooks is false."

CAMPAIGN_OPERATIONS = {
    "/v1/campaigns/crm": {
        "get": _operation(
            "listCrmCampaigns",
            "List the platform's campaigns of a kind",
            parameters=[{**_KIND, "required": True}],
            responses={
                200: answer("The platform's list.", {"type": "object"}),
                **errors(401),
                **_refusals(422, 502, 503),
            },
        ),
        "post": _operation(
            "createCrmCampaign",
            "Create a campaign on the platform, its hooks wired",
            description=_WRITE + " Asked to start at once, it is started (a campaign_start "
            "event) once its hooks are wired.",
            requestBody=json_body(_BODY),
            responses={
                201: answer("The platform's campaign, its id included.", _CAMPAIGN),
                **errors(400, 401, 413, 415),
                **_refusals(422, 502, 503),
            },
        ),
    },
    "/v1/campaigns/crm/{campaign_id}": {
        "get": _operation(
            "showCrmCampaign",
            "Read a campaign from the platform",
            parameters=[CAMPAIGN_ID, {**_KIND, "required": True}],
            responses={
                200: answer("The platform's campaign.", _CAMPAIGN),
                **errors(401),
                **_refusals(404, 422, 502, 503),
            },
        ),
        "put": _operation(
            "rewriteCrmCampaign",
            "Rewrite a campaign on the platform",
            description=_WRITE,
            parameters=[CAMPAIGN_ID],
            requestBody=json_body(_BODY),
            responses={
                200: answer("The platform's campaign.", _CAMPAIGN),
                **errors(400, 401, 413, 415),
                **_refusals(404, 422, 502, 503),
            },
        ),
    },
}


def _changed(name: str, summary: str, code: int, **more: Any) -> dict[str, Any]:
    """An operation answering the platform's segment (or ``code``'s refusals)."""
    refusals = (404, 422, 502, 503) if code == 200 and "parameters" in more else (422, 502, 503)
    return _operation(
        name,
        summary,
        responses={
            code: answer("The platform's answer.", _CAMPAIGN),
            **errors(400, 401, 413, 415),
            **_refusals(*refusals),
        },
        **more,
    )


CRM_SEGMENT_OPERATIONS = {
    "/v1/segments/crm": {
        "get": _operation(
            "listCrmSegments",
            "List the platform's segments",
            responses={
                200: answer("The platform's list.", {"type": "object"}),
                **errors(401),
                **_refusals(502, 503),
            },
        ),
        "post": _changed(
            "createCrmSegment", "Create a segment", 201, requestBody=json_body(_SEGMENT)
        ),
    },
    "/v1/segments/crm/{segment_id}": {
        "get": _operation(
            "showCrmSegment",
            "Read a segment from the platform",
            parameters=[_SEGMENT_ID],
            responses={
                200: answer("The platform's segment.", _CAMPAIGN),
                **errors(401),
                **_refusals(404, 502, 503),
            },
        ),
        "put": _changed(
            "rewriteCrmSegment",
            "Rewrite a segment",
            200,
            parameters=[_SEGMENT_ID],
            requestBody=json_body(_SEGMENT),
        ),
        "patch": _changed(
            "editCrmSegment",
            "Edit some of a segment's fields",
            200,
            parameters=[_SEGMENT_ID],
            requestBody=json_body({"type": "object", "description": "Any of Segment's fields."}),
        ),
    },
    "/v1/segments/crm/{segment_id}/generate": {
        "post": _operation(
            "generateCrmSegment",
            "Start a segment's generation on the platform",
            parameters=[_SEGMENT_ID],
            responses={
                200: answer("Started; the platform's answer.", {"type": "object"}),
                **errors(401),
                **_refusals(404, 502, 503),
            },
        ),
    },
}

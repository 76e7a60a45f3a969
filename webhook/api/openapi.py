"""``GET /openapi.json``: the API as an OpenAPI 3 document, built by apispec from the
operations (webhook/api/operations.py) and the marshmallow schemas they name;
``GET /docs``: the same, browsable (Swagger UI, served from the ``swagger-ui-bundle``
package, so it works without internet access)."""

from __future__ import annotations

import functools
from importlib.metadata import version
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, send_from_directory
from flask.typing import ResponseReturnValue
from swagger_ui_bundle import swagger_ui_path

from schemas import api
from schemas.campaigns import CAMPAIGN_SCHEMAS, SEGMENT
from webhook.api.campaign_operations import CAMPAIGN_BODIES
from webhook.api.operations import EVENT_SCHEMAS, OPERATIONS
from webhook.api.segment_operations import SEGMENT_MESSAGE

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def document() -> ResponseReturnValue:
    return build_spec()


#: The browser tab's title, in place of "Swagger UI".
PAGE_TITLE = "hookrelay API"


@bp.get("/docs/")
def browse() -> ResponseReturnValue:
    page = (Path(swagger_ui_path) / "index.html").read_text()
    return page.replace("<title>Swagger UI</title>", f"<title>{PAGE_TITLE}</title>")


@bp.get("/docs/swagger-initializer.js")
def initializer() -> ResponseReturnValue:
    script = (
        'window.onload = () => { window.ui = SwaggerUIBundle({url: "/openapi.json", '
        'dom_id: "#swagger-ui", presets: [SwaggerUIBundle.presets.apis, '
        "SwaggerUIStandalonePreset], layout: 'StandaloneLayout', "
        "persistAuthorization: true, displayRequestDuration: true}); };"
    )
    return script, 200, {"Content-Type": "application/javascript"}


@bp.get("/docs/<path:name>")
def asset(name: str) -> ResponseReturnValue:
    return send_from_directory(swagger_ui_path, name)


#: The groups operations are listed in, in this order.
TAGS = [
    {"name": "events", "description": "What the application sends."},
    {"name": "hooks", "description": "What the platforms call before and after each send."},
    {"name": "suppressions", "description": "Who must not be sent to."},
    {"name": "users", "description": "Forget a person: erasure, and the door closed."},
    {"name": "dead letters", "description": "What could not be delivered, to replay."},
    {"name": "campaigns", "description": "Statistics and pause, resume, archive."},
    {"name": "segment", "description": "The Segment-spec API, for Segment-style SDKs."},
    {"name": "operations", "description": "Health, readiness, metrics, the status page."},
]


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
    spec.components.schema("SegmentMessage", SEGMENT_MESSAGE)
    for kind, name in CAMPAIGN_BODIES.items():
        spec.components.schema(name, schema=CAMPAIGN_SCHEMAS[kind])
    spec.components.schema("Segment", schema=SEGMENT)
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

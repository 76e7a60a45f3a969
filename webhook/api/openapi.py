"""``GET /openapi.json``: the API as an OpenAPI 3 document (webhook/api/operations.py);
``GET /docs``: the same, browsable (Swagger UI, served from the ``swagger-ui-bundle``
package, so it works without internet access)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from webhook.api.operations import build_spec

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def document():
    return build_spec()


#: The browser tab's title, in place of "Swagger UI".
PAGE_TITLE = "hookrelay API"


@bp.get("/docs/")
def browse():
    page = (Path(swagger_ui_path) / "index.html").read_text()
    return page.replace("<title>Swagger UI</title>", f"<title>{PAGE_TITLE}</title>")


@bp.get("/docs/swagger-initializer.js")
def initializer():
    script = (
        'window.onload = () => { window.ui = SwaggerUIBundle({url: "/openapi.json", '
        'dom_id: "#swagger-ui", presets: [SwaggerUIBundle.presets.apis, '
        "SwaggerUIStandalonePreset], layout: 'StandaloneLayout', "
        "persistAuthorization: true, displayRequestDuration: true}); };"
    )
    return script, 200, {"Content-Type": "application/javascript"}


@bp.get("/docs/<path:name>")
def asset(name: str):
    return send_from_directory(swagger_ui_path, name)

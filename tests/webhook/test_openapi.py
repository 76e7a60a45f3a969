"""The OpenAPI document names every route, and its pages are served."""

from __future__ import annotations

import re

from webhook.api.operations import OPERATIONS

#: Routes that serve the documentation itself.
DOCUMENTATION = ("/openapi.json", "/docs/")


def test_every_route_is_documented_with_its_methods(client):
    routes: dict[str, set[str]] = {}
    for rule in client.application.url_map.iter_rules():
        if rule.rule.startswith(DOCUMENTATION):
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    documented = {path: set(operations) for path, operations in OPERATIONS.items()}
    assert routes == documented


def test_the_document_and_the_browsable_page(client):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    event_schemas = document["components"]["schemas"]
    assert event_schemas["TrackEvent"]["properties"]["type"]["enum"] == ["event"]
    assert "email" in event_schemas["User"]["properties"]
    page = client.get("/docs/")
    assert page.status_code == 200 and b"swagger-ui" in page.data
    assert client.get("/docs/swagger-ui-bundle.js").status_code == 200
    assert b'"/openapi.json"' in client.get("/docs/swagger-initializer.js").data

"""The OpenAPI document names every route, and its pages are served."""

from __future__ import annotations

import re

from werkzeug.http import HTTP_STATUS_CODES

from schemas.events import load_batch
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


def test_every_operation_has_a_group_an_id_and_a_summary(client):
    document = client.get("/openapi.json").get_json()
    groups = [tag["name"] for tag in document["tags"]]
    ids = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert set(operation["tags"]) <= set(groups), (method, path)
            assert operation["summary"], (method, path)
            ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))


def test_the_shown_examples_are_what_the_receiver_accepts():
    """What "Try it out" starts from: each must pass the one definition of the shape."""
    body = OPERATIONS["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    for name, example in body["examples"].items():
        assert load_batch(example["value"]), name


def test_each_refusal_shows_its_own_example(client):
    document = client.get("/openapi.json").get_json()
    for operations in document["paths"].values():
        for operation in operations.values():
            for code, response in operation["responses"].items():
                media = response.get("content", {}).get("application/json", {})
                if "example" in media and "error" in media["example"]:
                    expected = HTTP_STATUS_CODES[int(code)].lower().replace(" ", "_")
                    assert media["example"]["error"] in (expected, "unavailable"), code


def test_the_page_is_titled_and_fields_are_described(client):
    assert b"<title>hookrelay API</title>" in client.get("/docs/").data
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    profile = schemas["ProfileEvent"]["properties"]
    assert "offset" in profile["timestamp"]["description"]
    assert "at least one of uid" in profile["user"]["description"]
    assert "24 h" in profile["id"]["description"]

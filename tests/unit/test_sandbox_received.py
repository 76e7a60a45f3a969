"""The sandbox shows what it received whatever it was sent."""

from __future__ import annotations

import pytest

from sandbox.app import create_app
from sandbox.state import SandboxState


@pytest.mark.parametrize("depth", [600, 900])
def test_received_survives_a_payload_nested_hundreds_deep(depth):
    client = create_app(SandboxState(login="sandbox", secret="s")).test_client()
    deep = "[" * depth + "]" * depth
    posted = client.post(
        "/crm/api/v1/events/",
        data=f'{{"name": "deep", "payload": {deep}}}',
        content_type="application/json",
        auth=("sandbox", "s"),
    )
    assert posted.status_code == 201
    received = client.get("/_sandbox/received")
    assert received.status_code == 200
    assert received.json[0]["body"]["name"] == "deep"

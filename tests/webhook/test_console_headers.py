"""What the console and the probes tell a browser and an unauthenticated caller: the
status pages under a Content-Security-Policy that lets no script run and no page frame
them, and no route reached by a path it does not name."""

from __future__ import annotations

import re

import pytest

from .test_events import AUTH


@pytest.mark.parametrize("path", ["/status", "/status/event?id=nope", "/status/campaigns/crm/1"])
def test_status_pages_run_no_script_and_cannot_be_framed(client, path):
    page = client.get(path, headers=AUTH)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<style nonce="{nonce}">' in page.text, "the page's stylesheet carries it"
    assert "<script" not in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    again = client.get(path, headers=AUTH).headers["Content-Security-Policy"]
    assert again != policy, "a nonce per response"


@pytest.mark.parametrize(
    "path",
    ["/v1/dlq//replay", "//v1/dlq/replay", "/v1//suppressions", "/v1/events//", "//v1/events"],
)
def test_a_path_with_a_double_slash_is_no_other_route(client, path):
    answer = client.post(path, json={"all": True}, headers=AUTH)
    assert answer.status_code == 404, (answer.status_code, answer.headers.get("Location"))

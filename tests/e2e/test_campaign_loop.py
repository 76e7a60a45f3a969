"""The loop with the S2S platform on the Procfile stack: a campaign created through
hookrelay (its hooks wired) is started once the profiles are imported, the platform
(the sandbox) asks the pre-send hook for each recipient and reports each send, and the
statistics fetched count the sends the hooks allowed. And a start sent right after an
import of 10,000 profiles reaches them all, its segment generated in between."""

from __future__ import annotations

import base64

import pytest

from ..support import wait_for
from .stack import running_stack

HOOK_USER, HOOK_PASSWORD = "platform", "hook-secret"
USERS = ("u1", "u2", "u3", "u4")


def profile(uid: str) -> dict:
    return {
        "id": f"profile-{uid}",
        "type": "profile",
        "timestamp": "2026-11-23T10:00:00Z",
        "user": {"uid": uid, "email": f"{uid}@example.com"},
        "fields": {"plan": "pro"},
    }


def hook_metric(stack, stage: str, outcome: str) -> float:
    for line in stack.http.get("/metrics").text.splitlines():
        if line.startswith(f'hookrelay_hooks_total{{outcome="{outcome}",stage="{stage}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("loop"),
        HOOKRELAY_PUBLIC_URL="http://127.0.0.1:{port}",
        HOOKRELAY_HOOK_KEYS="k" * 32,
        HOOKRELAY_HOOK_USER=HOOK_USER,
        HOOKRELAY_HOOK_PASSWORD=HOOK_PASSWORD,
        FREQUENCY_CAP="1",
        PROFILE_FLUSH_MS="100",
        FOLLOWUP_SCHEDULE="20,40",
        FOLLOWUP_TIME_SCALE="0.1",
    ) as running:
        yield running


def test_a_campaign_created_through_hookrelay_sends_only_to_whom_its_hooks_allow(stack):
    sandbox = stack.sandbox
    stack.post([profile(uid) for uid in USERS])
    wait_for(lambda: len(sandbox.profiles()) == len(USERS), timeout_s=30)
    # u2 is suppressed; u3 had its one send of the day already (the cap is 1).
    stack.http.post("/v1/suppressions", json={"email": "u2@example.com"}).raise_for_status()
    credentials = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
    earlier = stack.http.post(
        "/v1/hooks/crm",
        params={"stage": "pre", "uid": "u3"},
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert earlier.json() == {"allow": True}

    created = stack.http.post(
        "/v1/campaigns/crm",
        json={
            "kind": "mailing",
            "message_type": "L",
            "message_id": 1,
            "source_type": "A",
            "source_id": 1,
            "start_immediately": True,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["start"] == "queued"
    campaign_id = created.json()["id"]

    wait_for(lambda: hook_metric(stack, "post", "recorded") == 2, timeout_s=30)
    assert hook_metric(stack, "pre", "refused") == 2, "the suppressed and the capped"
    [start] = sandbox.accepted("crm.campaign_action")
    assert start["path"].endswith(f"/mailings/{campaign_id}/start/")

    def sent() -> object:
        stats = stack.http.get(f"/v1/campaigns/crm/{campaign_id}/stats")
        if stats.status_code != 200:
            return None
        report = stats.json()["totals"].get("crm.report", {})
        return report.get(f"S_{campaign_id}", {}).get("sum_sended")

    assert wait_for(lambda: sent() == 2, timeout_s=30)


IMPORTED = 10_000


def test_a_start_right_after_an_import_reaches_every_imported_profile(stack):
    sandbox = stack.sandbox
    segment = stack.http.post(
        "/v1/segments/crm", json={"name": "imported", "condition": {"plan": "basic"}}
    )
    assert segment.status_code == 201, segment.text
    segment_id = segment.json()["id"]
    imported = [
        {**profile(f"import-{n}"), "id": f"import-{n}", "fields": {"plan": "basic"}}
        for n in range(IMPORTED)
    ]
    for first in range(0, IMPORTED, 1000):
        stack.post(imported[first : first + 1000])
    start = {
        "id": "start-after-import",
        "type": "campaign_start",
        "timestamp": "2026-11-23T10:00:00Z",
        "campaign": {"platform": "crm", "kind": "mailing", "id": 9093},
        "segments": [segment_id],
    }
    assert stack.post([start])["accepted"] == 1

    def audience() -> object:
        return next((c.get("audience") for c in sandbox.campaigns() if c["id"] == 9093), None)

    held = wait_for(audience, timeout_s=90)
    assert held == len(sandbox.profiles()) >= IMPORTED, "every imported profile was there"
    received = sandbox.received()
    last_batch = max(i for i, entry in enumerate(received) if entry["route"] == "crm.users_batch")
    [generated] = [i for i, e in enumerate(received) if e["route"] == "crm.segment_generate"]
    [started] = [i for i, e in enumerate(received) if e["path"].endswith("/mailings/9093/start/")]
    assert last_batch < generated < started
    trace = stack.http.get("/v1/events/start-after-import").json()
    assert trace["state"] == "delivered" and trace["not_waited_for"] == []

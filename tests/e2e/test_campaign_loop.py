"""The loop with the S2S platform on the Procfile stack: a campaign created through
hookrelay (its hooks wired) is started once the profiles are imported, the platform
(the sandbox) asks the pre-send hook for each recipient and reports each send, and the
statistics fetched count the sends the hooks allowed."""

from __future__ import annotations

import base64

from ..support import free_port, wait_for
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


def test_a_campaign_created_through_hookrelay_sends_only_to_whom_its_hooks_allow(tmp_path):
    port = free_port()
    with running_stack(
        tmp_path,
        PORT=str(port),
        HOOKRELAY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        HOOKRELAY_HOOK_KEYS="k" * 32,
        HOOKRELAY_HOOK_USER=HOOK_USER,
        HOOKRELAY_HOOK_PASSWORD=HOOK_PASSWORD,
        FREQUENCY_CAP="1",
        PROFILE_FLUSH_MS="100",
        FOLLOWUP_SCHEDULE="2,4",
    ) as stack:
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

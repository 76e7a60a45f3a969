"""Campaigns end to end, with the Procfile's processes: a start reaches the platform
once, the follow-up schedule (shrunk by FOLLOWUP_TIME_SCALE) fetches every source at
every step, and the numbers served by the API are the platform's last answer."""

from __future__ import annotations

import base64
import time
from collections import Counter

import redis

from ..support import wait_for
from .stack import running_stack

CODE = "XXXXX-XXXXXXXXX-XXXXXXXX"
HOOK_USER, HOOK_PASSWORD = "crm", "hook-secret"
#: The default schedule (5 min … 72 h) played in about 13 s.
TIME_SCALE = "0.00005"
STEPS = 6
#: The sandbox route each statistics source calls.
SOURCE_ROUTES = (
    "crm.reports",
    "pushwoosh.messages",
    "pushwoosh.totals",
    "pushwoosh.message_log",
    "pushwoosh.links",
    "pushwoosh.link_devices",
    "pushwoosh.bounces",
    "pushwoosh.v1",
    "altcraft.history",
)


def start_event(event_id: str, campaign_id: int = 9093) -> dict:
    return {
        "id": event_id,
        "type": "campaign_start",
        "timestamp": "2026-11-23T10:00:00Z",
        "campaign": {
            "platform": "crm",
            "kind": "mailing",
            "id": campaign_id,
            "pushwoosh_message_code": CODE,
        },
    }


def hook(stack, stage: str, email: str) -> dict:
    credentials = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
    response = stack.http.post(
        "/v1/hooks/crm",
        params={"stage": stage, "campaign_id": 9093, "email": email},
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def post_hook(stack, email: str) -> None:
    hook(stack, "post", email)


def last_answer(sandbox, route: str, *, where=lambda r: True) -> dict:
    return [r for r in sandbox.accepted(route) if where(r)][-1]["answer"]


def ready_reports(sandbox) -> list[dict]:
    return [r for r in sandbox.accepted("crm.reports") if r["answer"]["metadata"]["ready"]]


def where_fetches_are(stack) -> str:
    """What the platform answered per route, and where the stats messages wait."""
    statuses = Counter((r["route"], r["status"]) for r in stack.sandbox.received())
    client = redis.Redis.from_url(stack.redis.url)
    waiting = {
        key.decode(): client.llen(key) if client.type(key) == b"list" else client.scard(key)
        for key in client.scan_iter("dramatiq:*")
        if b"stats" in key and client.type(key) in (b"list", b"set")
    }
    return f"answers {dict(statuses)}; waiting {waiting}"


def test_start_once_follow_every_source_and_serve_the_last_answer(tmp_path):
    with running_stack(
        tmp_path,
        FOLLOWUP_TIME_SCALE=TIME_SCALE,
        HOOKRELAY_HOOK_USER=HOOK_USER,
        HOOKRELAY_HOOK_PASSWORD=HOOK_PASSWORD,
        # getMsgStats is deprecated and off by default; on here, its polling is followed.
        PUSHWOOSH_MSG_STATS="true",
    ) as stack:
        sandbox = stack.sandbox
        sandbox.knobs(report_not_ready=1, v1_polls=2, page_size=100)
        assert hook(stack, "pre", "bounce-0@example.com") == {"allow": True}
        stack.post([start_event("start-1")])
        wait_for(lambda: sandbox.accepted("crm.campaign_action"), timeout_s=30)
        for n in range(3):
            post_hook(stack, f"user{n}@example.com")
        # The first follow-up step fetches the bounces: the hard ones are refused after.
        wait_for(lambda: sandbox.accepted("pushwoosh.bounces"), timeout_s=30)
        refused = wait_for(
            lambda: not hook(stack, "pre", "Bounce-0@example.com")["allow"], timeout_s=10
        )
        assert refused
        assert hook(stack, "pre", "bounce-1@example.com") == {"allow": True}, "a soft bounce"
        listed = {e["id"]: e for e in stack.http.get("/v1/suppressions").json()["suppressions"]}
        assert listed["email:bounce-0@example.com"]["source"] == "pushwoosh.bounces: Hardbounce"
        wait_for(lambda: len(ready_reports(sandbox)) >= STEPS, timeout_s=90)
        wait_for(lambda: len(sandbox.accepted("altcraft.history")) >= 3, timeout_s=30)

        stack.post([start_event("start-2")])
        wait_for(lambda: "start-2: started" in stack.workers[0].log(), timeout_s=30)
        time.sleep(1)
        [start] = sandbox.accepted("crm.campaign_action")
        assert start["path"] == "/crm/api/v1/mailings/9093/start/"
        assert len(ready_reports(sandbox)) == STEPS, "one schedule, whatever asked for it"

        missing = [route for route in SOURCE_ROUTES if not sandbox.accepted(route)]
        assert not missing, f"never fetched: {missing}; {where_fetches_are(stack)}"
        results = [r for r in sandbox.accepted("pushwoosh.v1") if r["path"].endswith("getResults")]
        assert any(r["answer"]["response"] for r in results)

        summary = stack.http.get("/v1/campaigns/crm/9093/stats").json()
        assert summary["campaign"]["state"] == "started"
        *days, totals = ready_reports(sandbox)[-1]["answer"]["result"]
        stored = summary["totals"]["crm.report"]["S_9093"]
        assert stored == {k: v for k, v in totals.items() if k != "date"}
        assert summary["series"]["crm.report"]["S_9093"]["sum_delivered"] == [
            [day["date"], day["sum_delivered"]] for day in days
        ]
        totals_answer = last_answer(sandbox, "pushwoosh.totals")
        assert summary["totals"]["pushwoosh.totals"][CODE]["conversion_opens"] == float(
            totals_answer["conversion"]["opens"]
        )
        assert summary["log_rows"]["pushwoosh.message_log"] == 250
        printed = stack.hookrelay("stats", "crm", "9093")
        assert "crm.report" in printed and "sum_delivered" in printed


def test_a_worker_killed_during_a_paginated_fetch_leaves_complete_rows(tmp_path):
    with running_stack(tmp_path, FOLLOWUP_SCHEDULE="1", HOOKRELAY_HOOK_USER=HOOK_USER) as stack:
        sandbox = stack.sandbox
        sandbox.knobs(message_log_rows=1200, page_size=100)
        sandbox.fault("pushwoosh.message_log", delay_s=0.4)
        stack.post([start_event("start-1")])
        wait_for(lambda: len(sandbox.accepted("pushwoosh.message_log")) >= 3, timeout_s=60)
        stack.workers[0].kill()
        stack.workers.append(stack.start_worker())
        wait_for(lambda: len(sandbox.accepted("pushwoosh.message_log")) >= 3 + 12, timeout_s=90)
        rows = wait_for(
            lambda: (
                stack.http.get("/v1/campaigns/crm/9093/stats")
                .json()["log_rows"]
                .get("pushwoosh.message_log")
                == 1200
            ),
            timeout_s=30,
        )
        assert rows
        tokens = [
            r["body"].get("pagination_token") for r in sandbox.accepted("pushwoosh.message_log")
        ]
        assert tokens.count(None) == 2, "the fetch was started again from the first page"

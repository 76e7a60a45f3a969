"""End to end, as deployed: Redis, the sandbox, and the Procfile's ``web`` and ``worker``
started as separate processes from the Procfile's own command lines."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter

import pytest
import redis

from ..support import BIN_DIR, Sandbox, wait_for
from .stack import running_stack

TIMESTAMP = "2026-11-23T10:00:00Z"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture
def fresh(stack):
    stack.sandbox.reset()
    return stack


def profile_event(seq: int, tag: str) -> dict:
    user = {"uid": f"{tag}-u{seq}"}
    if seq % 3 == 0:
        user["email"] = f"user{seq}@example.com"
    return {
        "id": f"{tag}-p{seq}",
        "type": "profile",
        "timestamp": TIMESTAMP,
        "user": user,
        "fields": {"seq": seq, "level": seq % 10},
    }


def track_event(seq: int, tag: str) -> dict:
    return {
        "id": f"{tag}-e{seq}",
        "type": "event",
        "timestamp": TIMESTAMP,
        "user": {"uid": f"{tag}-u{seq}"},
        "name": "purchase",
        "payload": {"seq": seq},
    }


def expected_hashmap(event: dict) -> dict:
    return {**event["user"], "fields": event["fields"], "update_profile_last_updated_at": TIMESTAMP}


def expected_event_body(event: dict) -> dict:
    return {"name": "purchase", "payload": {"uid": event["user"]["uid"], **event["payload"]}}


def delivered_bodies(sandbox: Sandbox) -> list[str]:
    """Every hashmap and event body the platform accepted, canonically encoded."""
    hashmaps = [h for r in sandbox.accepted("crm.users_batch") for h in r["body"]]
    events = [r["body"] for r in sandbox.accepted("crm.events")]
    return [json.dumps(body, sort_keys=True) for body in hashmaps + events]


def event_seqs(sandbox: Sandbox) -> Counter:
    return Counter(r["body"]["payload"]["seq"] for r in sandbox.accepted("crm.events"))


def test_1000_mixed_events_arrive_once_each_with_body_and_auth(fresh):
    events = [profile_event(i, "mix") if i % 2 else track_event(i, "mix") for i in range(1000)]
    for start in range(0, 1000, 100):
        assert fresh.post(events[start : start + 100]) == {"accepted": 100, "duplicates": 0}

    expected = sorted(
        json.dumps(
            expected_hashmap(e) if e["type"] == "profile" else expected_event_body(e),
            sort_keys=True,
        )
        for e in events
    )
    wait_for(lambda: len(delivered_bodies(fresh.sandbox)) >= 1000, timeout_s=90)
    assert sorted(delivered_bodies(fresh.sandbox)) == expected
    assert all(r["authorized"] for r in fresh.sandbox.received())

    # Coalesced: one call per flush window the posting spans, not one per update.
    batch_calls = len(fresh.sandbox.received("crm.users_batch"))
    assert batch_calls <= 10, f"500 profile updates took {batch_calls} batch calls"

    # The same ids again: all duplicates, and nothing more reaches the platform.
    requests_so_far = len(fresh.sandbox.received())
    for start in range(0, 1000, 100):
        assert fresh.post(events[start : start + 100]) == {"accepted": 0, "duplicates": 100}
    time.sleep(3)
    assert len(fresh.sandbox.received()) == requests_so_far


def test_5xx_and_timeouts_are_retried_until_every_event_arrives(fresh):
    fresh.sandbox.fault("crm.events", status=503, ratio=0.3)
    events = [track_event(i, "flaky") for i in range(100)]
    fresh.post(events)
    wait_for(lambda: len(event_seqs(fresh.sandbox)) == 100, timeout_s=90)
    assert set(event_seqs(fresh.sandbox).values()) == {1}, "each event accepted exactly once"
    failures = [r for r in fresh.sandbox.received("crm.events") if r["status"] == 503]
    assert failures, "the fault was in force"


def test_permanent_refusal_is_dead_lettered_with_its_reason_then_replayed(fresh):
    fresh.sandbox.fault("crm.users_batch", status=400)
    fresh.post([profile_event(3, "perm")])
    wait_for(lambda: fresh.hookrelay("dlq", "list").startswith("1 dead letter"), timeout_s=30)
    listing = fresh.hookrelay("dlq", "list")
    assert "crm_upsert_profiles  -  attempts=1  permanent:" in listing
    assert "-> 400" in listing
    assert [r["status"] for r in fresh.sandbox.received("crm.users_batch")] == [400]

    log = fresh.workers[0].log()
    assert "crm_upsert_batch message " in log and "dead-lettered: permanent:" in log
    assert "@example.com" not in log, "emails sent through this worker never reach its log"

    fresh.sandbox.reset()
    assert fresh.hookrelay("dlq", "replay", "--all") == "replayed 1\n"
    [accepted] = wait_for(lambda: fresh.sandbox.accepted("crm.users_batch"), timeout_s=30)
    assert accepted["body"] == [expected_hashmap(profile_event(3, "perm"))]
    assert fresh.hookrelay("dlq", "list").startswith("0 dead letter")


def test_killed_worker_backlog_is_delivered_by_the_next_worker(fresh):
    fresh.workers[0].stop()
    total = 400
    fresh.sandbox.fault("crm.events", delay_s=0.05)
    fresh.post([track_event(i, "kill") for i in range(total)])

    fresh.workers[0] = fresh.start_worker()
    wait_for(lambda: len(event_seqs(fresh.sandbox)) >= 40, timeout_s=60)
    fresh.workers[0].kill()
    delivered_before = len(event_seqs(fresh.sandbox))
    assert delivered_before < total, "the kill must leave a backlog"

    fresh.workers[0] = fresh.start_worker()
    wait_for(lambda: len(event_seqs(fresh.sandbox)) == total, timeout_s=90)
    seqs = event_seqs(fresh.sandbox)
    assert set(seqs) == set(range(total))
    redelivered = sum(count - 1 for count in seqs.values())
    print(f"\nkill -9 after {delivered_before}/{total}: {redelivered} delivered twice")


def trace_of(stack, event_id: str) -> dict:
    response = stack.http.get(f"/v1/events/{event_id}")
    assert response.status_code == 200, response.text
    return response.json()


def settled(stack, event_id: str, state: str) -> dict:
    return wait_for(
        lambda: (shown := trace_of(stack, event_id))["state"] == state and shown,
        timeout_s=30,
    )


def moved_to_sql(stack, event_id: str) -> None:
    """Wait for a worker to move the settled trace out of Redis (workers/trace/mover.py)."""
    client = redis.Redis.from_url(stack.redis.url)
    wait_for(lambda: not client.exists(f"hookrelay:trace:{event_id}"), timeout_s=30)


def test_the_trace_shows_each_attempt_and_where_the_event_ended(fresh):
    fresh.sandbox.faults(
        "crm.events", {"status": 503, "count": 1}, {"status": 201, "count": 1}, {"status": 400}
    )
    fresh.post([track_event(0, "trace")])
    shown = settled(fresh, "trace-e0", "delivered")
    assert shown["type"] == "event" and shown["accepted_at"]
    retried, delivered = shown["attempts"]
    assert (retried["outcome"], retried["status"], retried["error"]) == (
        "retried",
        503,
        "ServerError",
    )
    assert retried["next_attempt_at"] > retried["at"] and "simulated 503" in retried["answer"]
    assert (delivered["outcome"], delivered["status"], delivered["attempt"]) == (
        "delivered",
        201,
        2,
    )
    assert delivered["platform"] == "crm" and delivered["wait_ms"] >= 0
    assert "payload" not in json.dumps(shown), "no payload is kept"

    fresh.post([track_event(1, "trace")])
    letter = settled(fresh, "trace-e1", "dead_lettered")
    moved_to_sql(fresh, "trace-e0")
    assert trace_of(fresh, "trace-e0")["attempts"] == shown["attempts"]
    moved_to_sql(fresh, "trace-e1")
    assert letter["attempts"][-1]["status"] == 400
    assert json.loads(fresh.hookrelay("dlq", "show", letter["dead_letter"]))["event_id"] == (
        "trace-e1"
    )
    printed = fresh.hookrelay("events", "show", "trace-e1")
    assert printed.startswith("event trace-e1 (event): dead_lettered")
    assert f"hookrelay dlq show {letter['dead_letter']}" in printed


def test_a_profile_updates_trace_shows_its_batch_and_that_batchs_outcome(fresh):
    fresh.post([profile_event(1, "trace")])
    shown = settled(fresh, "trace-p1", "delivered")
    assert shown["type"] == "profile"
    batch = shown["batch"]
    assert batch["id"] and not batch["behind"]
    [attempt] = batch["attempts"]
    assert (attempt["outcome"], attempt["status"], attempt["actor"]) == (
        "delivered",
        202,
        "crm_upsert_batch",
    )
    assert f"{batch['id']}: delivered" in fresh.hookrelay("events", "show", "trace-p1")


def read_stream(stack, query: str, lines: list, connected: threading.Event) -> None:
    with stack.http.stream("GET", f"/v1/tail?{query}", timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(":"):
                connected.set()
            elif line.startswith("data: "):
                lines.append(json.loads(line.removeprefix("data: ")))


def test_the_live_tail_streams_outcomes_as_they_happen(fresh):
    lines: list[dict] = []
    connected = threading.Event()
    reader = threading.Thread(
        target=read_stream, args=(fresh, "type=event&limit=6", lines, connected)
    )
    cli = subprocess.Popen(
        [str(BIN_DIR / "hookrelay"), "tail", "--outcome", "delivered", "--limit", "3"],
        env={**os.environ, **fresh.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader.start()
    assert connected.wait(10)
    assert cli.stderr.readline().startswith("Following outcomes")
    fresh.post([track_event(n, "tail") for n in range(3)] + [profile_event(9, "tail")])
    reader.join(60)
    assert not reader.is_alive(), "the stream ends after its limit"
    accepted = [line for line in lines if line["outcome"] == "accepted"]
    delivered = [line for line in lines if line["outcome"] == "delivered"]
    assert {line["event_id"] for line in accepted} == {f"tail-e{n}" for n in range(3)}
    assert {line["event_id"] for line in delivered} == {f"tail-e{n}" for n in range(3)}
    assert all(line["platform"] == "crm" and line["status"] == 201 for line in delivered)
    assert all(line["latency_ms"] >= 0 for line in delivered)
    assert all(line["type"] == "event" for line in lines)
    printed, _ = cli.communicate(timeout=60)
    assert len(printed.splitlines()) == 3 and "  delivered  " in printed
    assert fresh.http.get("/v1/tail?outcome=lost").status_code == 400

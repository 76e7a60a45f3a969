"""Forgetting a person: one person's data planted in every store at once, erased, then
every Redis key (names and values, every type) and every SQL column searched for any
spelling of their identifiers; the other person who shared their batches still gets
everything, exactly once, and nothing of the forgotten one reaches the platform."""

from __future__ import annotations

import json
import sqlite3
import time

import dramatiq
import pytest
import redis
from dramatiq.middleware import SkipMessage

from webhook.app import build_hub, create_app
from workers.actors import build_worker_hub, register
from workers.campaigns.campaign import Campaign
from workers.campaigns.schema import migrate
from workers.campaigns.store import Store
from workers.core.door import REFRESH_S, Door
from workers.erasure.eraser import Eraser
from workers.erasure.requests import ForgetRequests
from workers.profiles.buffer import ProfileBuffer
from workers.queue.archive import DeadLetterArchive
from workers.queue.broker import build_broker
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.forgotten import FORGOTTEN, ForgottenGuard
from workers.queue.routes import ROUTES
from workers.trace.archive import ArchivedTrace, TraceArchive
from workers.trace.trace import EventTrace, trace_key

from ..conftest import make_settings
from ..support import API_KEY, wait_for

AUTH = {"Authorization": f"Bearer {API_KEY}"}
GONE = {"uid": "forget-42", "email": "Forget.Me@Example.COM", "phone": "+79160000077"}
TOKEN = "tok-forget-me-0123456789"
#: Every spelling of the forgotten person's identifiers, as a search would try them.
SPELLINGS = ("forget-42", "forget.me@example.com", "79160000077", TOKEN)
KEPT = {"uid": "keep-7", "email": "keep@example.com"}
STAMP = "2026-12-01T10:00:00Z"


def profile(event_id: str, user: dict, level: int) -> dict:
    return {
        "id": event_id,
        "type": "profile",
        "timestamp": STAMP,
        "user": user,
        "fields": {"level": level},
    }


def event(event_id: str, user: dict) -> dict:
    return {
        "id": event_id,
        "type": "event",
        "timestamp": STAMP,
        "user": user,
        "name": "login_user",
        "payload": {"n": event_id},
    }


@pytest.fixture
def deployment(redis_url, clean_sandbox, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'stats.db'}"
    migrate(database_url)
    settings = make_settings(
        redis_url,
        DATABASE_URL=database_url,
        FREQUENCY_CAP="5",
        HOOKRELAY_HEARTBEAT_TIMEOUT_S="1",
        HOOKRELAY_SWEEP_INTERVAL_S="1",
        HOOKRELAY_SUPPRESSION_KEY="door-key-for-tests",
        **clean_sandbox.platform_env(),
    )
    return settings, tmp_path / "stats.db"


def hits(client: redis.Redis, database: str, spellings: tuple[str, ...] = SPELLINGS) -> list[str]:
    """Where any spelling of the forgotten person is, in Redis or in SQL."""
    found = []
    for key in client.scan_iter(count=1000):
        text = (key + b" " + _value(client, key)).decode(errors="replace").lower()
        found += [f"redis {key.decode()}: {s}" for s in spellings if s.lower() in text]
    with sqlite3.connect(database) as connection:
        tables = [
            row[0]
            for row in connection.execute("select name from sqlite_master where type='table'")
        ]
        for table in tables:
            for row in connection.execute(f'select * from "{table}"'):
                text = " ".join(map(str, row)).lower()
                found += [f"sql {table}: {s}" for s in spellings if s.lower() in text]
    return found


def _value(client: redis.Redis, key: bytes) -> bytes:
    kind = client.type(key)
    if kind == b"string":
        return client.get(key) or b""
    if kind == b"hash":
        return b" ".join(k + b" " + v for k, v in client.hgetall(key).items())
    if kind == b"list":
        return b" ".join(client.lrange(key, 0, -1))
    if kind == b"set":
        return b" ".join(client.smembers(key))
    if kind == b"zset":
        return b" ".join(member for member, _ in client.zrange(key, 0, -1, withscores=True))
    if kind == b"stream":
        return b" ".join(k + b" " + v for _, f in client.xrange(key) for k, v in f.items())
    return b""


def plant(settings, web, client: redis.Redis) -> dramatiq.broker.MessageProxy:
    """The forgotten person (and the kept one beside them) in every store; returns a
    message of theirs as a worker would hold it in memory."""
    with_token = {**GONE, "wp_token": TOKEN}

    def post(events: list[dict]):
        return web.post("/v1/events", json={"events": events}, headers=AUTH)

    assert post([profile("p1", with_token, 1), profile("k1", KEPT, 1)]).status_code == 202
    ProfileBuffer.from_settings(client, settings).flush()  # saved states, one shared batch
    assert post([profile("p2", {"uid": "forget-42"}, 2), profile("k2", KEPT, 2)]).status_code == 202
    events = [event(f"pe{n}", {"email": GONE["email"].upper()}) for n in range(3)]
    events += [event(f"ke{n}", KEPT) for n in range(3)]
    assert post(events).status_code == 202  # queued, and in the live tail
    suppression = {"email": "FORGET.ME@example.com", "reason": "asked"}
    assert web.post("/v1/suppressions", json=suppression, headers=AUTH).status_code == 201

    broker = build_broker(settings)
    actors = register(broker, build_worker_hub(settings, Store(settings.database_url)))
    post_event = actors[ROUTES["event"].actor_name]
    post_event.send_with_options(args=(event("pd", {"phone": "79160000077"}),), delay=2_000)
    post_event.send_with_options(args=(event("pf", {"uid": "forget-42"}),), delay=3_600_000)
    post_event.send_with_options(args=(event("kd", KEPT),), delay=2_000)
    # A delayed message of theirs held in a worker's memory, unacknowledged (the worker
    # then dies: its messages come back after the heartbeat timeout).
    held = broker.consume("crm.DQ", prefetch=1, timeout=100)
    taken = wait_for(lambda: next(held), timeout_s=5)

    letters = DeadLetterQueue(client)
    letters.add(
        dramatiq.Message("crm", "crm_post_event", (event("px", GONE),), {}, {}),
        reason="refused",
        error=ValueError("no"),
        attempts=1,
    )
    archived = DeadLetterQueue(
        client, overflow=DeadLetterArchive.from_url(settings.database_url), redis_cap=0
    )
    archived.add(
        dramatiq.Message("crm", "crm_post_event", (event("py", GONE),), {}, {}),
        reason="refused",
        error=ValueError("no"),
        attempts=3,
    )
    EventTrace(client, 3600).add(trace_key("pe0"), {"at": 1, "do": "retried", "status": 503})
    moved = ArchivedTrace(trace_key("py"), [b'{"at":2,"do":"dead_lettered"}'], 2, 2)
    TraceArchive(Store(settings.database_url).engine, 3600).add([moved])  # a trace in SQL

    hub = build_hub(settings)
    assert hub.gate.decide({"phone": GONE["phone"]}).allow  # a frequency window
    campaign = Campaign.from_dict({"platform": "crm", "id": 9093, "kind": "mailing"})
    hub.post_hooks.record(campaign, "forget.me@EXAMPLE.com")  # a recipient sample
    hub.post_hooks.record(campaign, KEPT["email"])
    store = Store(settings.database_url)
    run = store.ensure_run(campaign, "started")
    rows = [{"hwid": TOKEN, "status": "delivered"}, {"email": KEPT["email"], "status": "opened"}]
    assert store.save_log_rows(run.id, "pushwoosh.message_log", rows) == 2
    return taken


def test_a_forgotten_person_is_in_no_store_and_the_other_gets_everything_once(
    deployment, clean_sandbox
):
    settings, database = deployment
    client = redis.Redis.from_url(settings.redis_url)
    web = create_app(settings).test_client()
    taken = plant(settings, web, client)
    assert hits(client, str(database)), "the person was planted"

    answer = web.post(
        "/v1/users/forget",
        json={"user": {"email": "forget.me@example.com"}, "suppress": True},
        headers=AUTH,
    )
    assert answer.status_code == 202
    request_id = answer.get_json()["id"]
    assert web.get(f"/v1/users/forget/{request_id}", headers=AUTH).get_json()["state"] == "pending"
    door = Door(client, settings.suppression_key)
    eraser = Eraser(client, Store(settings.database_url).engine, door, ForgetRequests(client, door))
    erased = eraser.carry_out(request_id)

    assert hits(client, str(database)) == []
    assert not client.exists("hookrelay:trace:pe0"), "the traces of the events met"
    assert b"pe0" not in b"".join(v for _, f in client.xrange("hookrelay:tail") for v in f.values())
    report = web.get(f"/v1/users/forget/{request_id}", headers=AUTH).get_json()
    assert report["state"] == "done" and report["erased"] == erased
    assert erased["messages"] >= 5 and erased["dead_letters"] == 1
    assert erased["sql_dead_letters"] == 1 and erased["sql_message_log_rows"] == 1
    assert erased["sql_event_traces"] == 1, "the trace moved to SQL of an event met"
    assert [p["platform"] for p in report["platforms"]] == ["pushwoosh"]
    with pytest.raises(SkipMessage):
        ForgottenGuard(Door(client, settings.suppression_key)).before_process_message(None, taken)
    due = build_broker(settings).enqueue(taken.copy(queue_name="crm"))  # as when it comes due
    assert due.args == () and due.options[FORGOTTEN], "what a worker enqueues is scrubbed"

    later = web.post("/v1/events", json=event("pz", {"uid": "forget-42"}), headers=AUTH)
    assert later.status_code == 202
    assert later.get_json()["accepted"] == 0 and later.get_json()["dropped"][0]["id"] == "pz"
    assert not hub_allows(settings, GONE["email"])

    drain(settings, client, clean_sandbox)
    sent = json.dumps(clean_sandbox.received()).lower()
    assert not [s for s in SPELLINGS if s.lower() in sent]
    posted = [r["body"]["payload"]["n"] for r in clean_sandbox.accepted("crm.events")]
    assert sorted(posted) == ["kd", "ke0", "ke1", "ke2"], "the other person's, each once"
    [kept] = [p for p in clean_sandbox.profiles() if p.get("uid") == "keep-7"]
    assert kept["fields"]["level"] == 2
    assert hits(client, str(database)) == []


def hub_allows(settings, email: str) -> bool:
    return build_hub(settings).gate.decide({"email": email}).allow


def drain(settings, client: redis.Redis, sandbox) -> None:
    """A worker delivers what is left: tombstones skipped, the other person's sent."""
    broker = build_broker(settings)
    register(broker, build_worker_hub(settings, Store(settings.database_url)))
    buffer = ProfileBuffer.from_settings(client, settings)
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:

        def settled() -> bool:
            buffer.flush()
            levels = [p["fields"]["level"] for p in sandbox.profiles() if p.get("uid") == "keep-7"]
            return levels == [2] and len(sandbox.accepted("crm.events")) >= 4

        wait_for(settled, timeout_s=40, interval_s=0.3)
        time.sleep(1)  # anything more that was coming
    finally:
        worker.stop()


def test_what_a_platform_reports_about_a_forgotten_person_is_not_kept_again(
    deployment, clean_sandbox
):
    """A campaign's statistics keep being fetched for days: a bounce report naming
    the person must neither be stored again nor put their address back on the
    suppression list (``bounce-0`` is a hard bounce, which is suppressed by default)."""
    settings, database = deployment
    client = redis.Redis.from_url(settings.redis_url)
    web = create_app(settings).test_client()
    gone = {"user": {"email": "Bounce-0@example.com"}, "suppress": False}
    request_id = web.post("/v1/users/forget", json=gone, headers=AUTH).get_json()["id"]
    door = Door(client, settings.suppression_key)
    engine = Store(settings.database_url).engine
    Eraser(client, engine, door, ForgetRequests(client, door), settle_s=0).carry_out(request_id)

    hub = build_worker_hub(settings, Store(settings.database_url))
    campaign = {"platform": "crm", "id": 9094, "kind": "mailing", "pushwoosh_message_code": "M-1"}
    assert hub.fetcher.fetch(Campaign.from_dict(campaign), "pushwoosh.bounces") is None

    store = Store(settings.database_url)
    emails = [row["email"] for row in store.log_rows(store.run("crm", 9094).id)]
    assert "bounce-3@example.com" in emails and "bounce-0@example.com" not in emails
    suppressed = client.hkeys("hookrelay:suppressions")
    assert b"email:bounce-3@example.com" in suppressed
    assert hits(client, str(database), ("bounce-0@",)) == []


def test_a_flush_leaves_out_what_the_door_stops_and_lets_later_updates_through(deployment):
    """An update of theirs a flush claims after the door closed (accepted before it) is
    neither saved nor sent; without suppression, one accepted after it goes out."""
    settings, _ = deployment
    client = redis.Redis.from_url(settings.redis_url)
    web = create_app(settings).test_client()
    before = [profile("b1", {"uid": "forget-42"}, 1), profile("b2", KEPT, 1)]
    assert web.post("/v1/events", json={"events": before}, headers=AUTH).status_code == 202
    Door(client, settings.suppression_key).close(["uid:forget-42"], suppress=False, number=2)
    time.sleep(REFRESH_S)  # the snapshots of this process
    buffer = ProfileBuffer.from_settings(client, settings)
    assert buffer.flush() == 1
    assert client.exists("hookrelay:profiles:state:uid:forget-42") == 0
    assert client.exists("hookrelay:profiles:state:uid:keep-7") == 1
    later = profile("b3", {"uid": "forget-42"}, 2)
    assert web.post("/v1/events", json=later, headers=AUTH).status_code == 202
    assert buffer.flush() == 1
    assert client.exists("hookrelay:profiles:state:uid:forget-42") == 1


def test_an_address_whose_state_is_kept_under_the_uid_forgets_the_uid_too(deployment):
    """A profile's state lives under its uid, with a pointer under its address: asked
    by the address alone, with nothing else of theirs left, the uid goes as well."""
    settings, database = deployment
    client = redis.Redis.from_url(settings.redis_url)
    web = create_app(settings).test_client()
    update = profile("s1", {"uid": "forget-42", "email": GONE["email"]}, 1)
    assert web.post("/v1/events", json=update, headers=AUTH).status_code == 202
    ProfileBuffer.from_settings(client, settings).flush()
    client.delete("dramatiq:crm", "dramatiq:crm.msgs")  # its batch went out
    assert client.get("hookrelay:profiles:state:email:forget.me@example.com") == b"@uid:forget-42"
    gone = {"user": {"email": "forget.me@example.com"}}
    request_id = web.post("/v1/users/forget", json=gone, headers=AUTH).get_json()["id"]
    door = Door(client, settings.suppression_key)
    engine = Store(settings.database_url).engine
    Eraser(client, engine, door, ForgetRequests(client, door), settle_s=0).carry_out(request_id)
    assert hits(client, str(database)) == []

"""Campaign starts and statistics fetches against the real sandbox, a real Redis and
the SQLite store: one start per campaign, every source stored as the platform answered."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import redis

from webhook.posthook.recorder import PostHookRecorder
from workers.campaigns.campaign import Campaign
from workers.campaigns.fetcher import Later, StatsFetcher
from workers.campaigns.parsing import parse_tag_stats
from workers.campaigns.sample import RecipientSample
from workers.campaigns.schedule import SCHEDULE_PREFIX, FollowupScheduler
from workers.campaigns.sources import SOURCES, scheduled_sources
from workers.campaigns.starter import CampaignStarter, StartInProgress
from workers.campaigns.store import TOTAL
from workers.campaigns.suppressions import Feedback, SuppressionList
from workers.core.platform_settings import AltcraftConfig, CrmConfig, PushwooshConfig
from workers.platforms import errors
from workers.platforms.altcraft import AltcraftClient
from workers.platforms.crm import CrmClient
from workers.platforms.pushwoosh import PushwooshClient
from workers.ratelimit.limiter import SharedRateLimiter

from ..conftest import make_settings
from ..support import wait_for

CODE = "XXXXX-XXXXXXXXX-XXXXXXXX"
CAMPAIGN = Campaign("crm", 9093, "mailing", CODE)
SECRET = "sandbox-secret"


@pytest.fixture
def client(redis_url):
    return redis.Redis.from_url(redis_url)


def crm(sandbox, **options) -> CrmClient:
    config = CrmConfig(base_url=f"{sandbox.url}/crm", login="sandbox", secret=SECRET)
    return CrmClient(config, **options)


def pushwoosh(sandbox) -> PushwooshClient:
    config = PushwooshConfig(
        base_url=f"{sandbox.url}/pushwoosh", api_token=SECRET, application="APP"
    )
    return PushwooshClient(config)


@pytest.fixture
def scheduler(client):
    return FollowupScheduler(client, schedule_s=(300, 1800), time_scale=1.0)


@pytest.fixture
def fetcher(clean_sandbox, store, client, scheduler):
    config = AltcraftConfig(base_url=f"{clean_sandbox.url}/altcraft", token=SECRET, list_id=1)
    return StatsFetcher(
        store=store,
        crm=crm(clean_sandbox),
        pushwoosh=pushwoosh(clean_sandbox),
        altcraft=AltcraftClient(config),
        sample=RecipientSample(client),
        suppressions=SuppressionList(client),
        feedback_kinds=frozenset({"hardbounce", "complaint", "unsubscribe"}),
    )


def test_the_fetcher_has_a_method_for_every_source_and_no_other(fetcher):
    assert set(fetcher._sources) == {source.name for source in SOURCES}


def starter(sandbox, store, client, scheduler, **options) -> CampaignStarter:
    return CampaignStarter(
        store=store, crm=crm(sandbox, **options), scheduler=scheduler, client=client
    )


def start_calls(sandbox) -> list[dict]:
    return [r for r in sandbox.received("crm.campaign_action") if r["path"].endswith("/start/")]


def test_a_campaign_is_started_once_however_often_asked(clean_sandbox, store, client, scheduler):
    first = starter(clean_sandbox, store, client, scheduler).start(CAMPAIGN)
    again = starter(clean_sandbox, store, client, scheduler).start(CAMPAIGN)
    assert (first.started_now, again.started_now) == (True, False)
    assert len(start_calls(clean_sandbox)) == 1
    assert store.run("crm", 9093).state == "started"
    assert client.exists(SCHEDULE_PREFIX + "crm:9093")


def test_a_start_that_timed_out_is_checked_not_repeated(clean_sandbox, store, client, scheduler):
    clean_sandbox.fault("crm.campaign_action", delay_s=1.0, count=1)
    impatient = starter(clean_sandbox, store, client, scheduler, timeout=httpx.Timeout(0.3))
    with pytest.raises(errors.Timeout):
        impatient.start(CAMPAIGN)
    assert store.run("crm", 9093).state == "starting"
    wait_for(lambda: start_calls(clean_sandbox), timeout_s=5)
    outcome = starter(clean_sandbox, store, client, scheduler).start(CAMPAIGN)
    assert (outcome.started_now, outcome.state) == (False, "started")
    assert len(start_calls(clean_sandbox)) == 1, "the platform took the first call"
    assert clean_sandbox.received("crm.campaign")[0]["answer"]["status"] == "started"


def test_a_refused_start_is_permanent(clean_sandbox, store, client, scheduler):
    crm(clean_sandbox).campaign_action("ab", 77, "archive")
    with pytest.raises(errors.Rejected) as caught:
        starter(clean_sandbox, store, client, scheduler).start(Campaign("crm", 77, "ab"))
    assert caught.value.status == 400
    assert "/ab-mailings/77/start/" in caught.value.url


def test_one_schedule_holds_every_source_at_every_step(client, scheduler):
    assert scheduler.ensure(CAMPAIGN) is True
    assert scheduler.ensure(CAMPAIGN) is False
    # Both steps are due past the horizon: they wait in the due set.
    waiting = client.zcard("dramatiq:__due__")
    assert waiting == 2 * len(scheduled_sources()) == 2 * 8


def test_the_deprecated_get_msg_stats_is_fetched_only_when_asked(client, redis_url):
    def sources(**env):
        return FollowupScheduler.from_settings(client, make_settings(redis_url, **env)).sources()

    assert "pushwoosh.msg_stats" not in sources()
    assert "pushwoosh.totals" in sources(), "the same numbers, from the call that is not"
    assert "pushwoosh.msg_stats" in sources(PUSHWOOSH_MSG_STATS="true")


def test_crm_report_waits_while_not_ready_then_stores_series_and_totals(fetcher, clean_sandbox):
    clean_sandbox.knobs(report_not_ready=1)
    assert fetcher.fetch(CAMPAIGN, "crm.report") == Later({})
    assert fetcher.fetch(CAMPAIGN, "crm.report") is None
    [*_, answer] = [r["answer"] for r in clean_sandbox.received("crm.reports")]
    *days, totals = answer["result"]
    summary = fetcher.store.summary("crm", 9093)
    stored = summary["totals"]["crm.report"]["S_9093"]
    assert stored == {k: v for k, v in totals.items() if k != "date"}
    series = summary["series"]["crm.report"]["S_9093"]["sum_delivered"]
    assert series == [[day["date"], day["sum_delivered"]] for day in days]


def test_report_periods_longer_than_a_report_are_split_by_date(fetcher, clean_sandbox):
    run = fetcher.store.ensure_run(CAMPAIGN, "new")
    with fetcher.store.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE campaign_runs SET created_at = '2026-01-01 00:00:00' WHERE id = ?", (run.id,)
        )
    fetcher.fetch(CAMPAIGN, "crm.report")
    queries = [r["query"] for r in clean_sandbox.received("crm.reports")]
    assert len(queries) >= 4, "three date windows and one totals query"
    assert all("post=S_9093" in query for query in queries)
    assert all(len(r["answer"]["result"]) <= 100 for r in clean_sandbox.received("crm.reports"))
    # The sandbox reads the date filter as Django does (the last one given): every day
    # from the first to today is stored, once.
    series = fetcher.store.summary("crm", 9093)["series"]["crm.report"]["S_9093"]
    first, today = date(2026, 1, 1), datetime.now(UTC).date()
    every_day = [str(first + timedelta(days=n)) for n in range((today - first).days + 1)]
    assert [day for day, _ in series["sum_delivered"]] == every_day


def test_every_pushwoosh_source_is_stored(fetcher, clean_sandbox):
    clean_sandbox.knobs(message_log_rows=250, link_device_rows=25, bounce_rows=12, page_size=10)
    for source in scheduled_sources():
        if source.startswith("pushwoosh.") and source != "pushwoosh.msg_stats":
            assert fetcher.fetch(CAMPAIGN, source) is None
    run = fetcher.store.run("crm", 9093)
    assert fetcher.store.log_counts(run.id) == {
        "pushwoosh.message_log": 250,
        "pushwoosh.link_devices": 25,
        "pushwoosh.bounces": 12,
    }
    assert len(clean_sandbox.received("pushwoosh.message_log")) == 25, "followed every token"
    totals = fetcher.store.summary("crm", 9093)["totals"]
    [answer] = [r["answer"] for r in clean_sandbox.received("pushwoosh.totals")]
    assert totals["pushwoosh.totals"][CODE]["sends"] == sum(
        int(row["sends"]) for row in answer["metrics"]
    )
    assert totals["pushwoosh.bounces"][CODE] == {
        "bounces_hardbounce": 4,
        "bounces_softbounce": 4,
        "bounces_complaint": 4,
    }
    assert set(totals["pushwoosh.links"]) == {
        "link:https://example.com/shop",
        "link:https://example.com/news",
    }
    assert totals["pushwoosh.messages"][f"message:{CODE}"]["sends"] > 0


@pytest.mark.parametrize(
    ("path", "scheme", "other"),
    [
        ("/api/v2/statistics/emails/linksInteractions", "Api", "Key"),
        ("/api/v2/statistics/emails/linksInteractionsDevices", "Api", "Key"),
        ("/api/v2/statistics/getMessageLog", "Key", "Api"),
    ],
)
def test_each_pushwoosh_method_is_sent_the_scheme_its_own_example_shows(
    clean_sandbox, path, scheme, other
):
    # The sandbox takes only the documented scheme, so a client sending the other fails.
    client = pushwoosh(clean_sandbox)
    client.v2(path, {"message_code": CODE, "application_code": "APP", "page": 0})
    [received] = clean_sandbox.received()[-1:]
    assert received["status"] == 200
    wrong = httpx.post(
        f"{clean_sandbox.url}/pushwoosh{path}",
        json={"message_code": CODE},
        headers={"Authorization": f"{other} {SECRET}"},
    )
    assert wrong.status_code == 401


def test_scheduled_v1_request_is_polled_until_ready(fetcher, clean_sandbox):
    clean_sandbox.knobs(v1_polls=2)
    later = fetcher.fetch(CAMPAIGN, "pushwoosh.msg_stats")
    assert set(later.state) == {"request_id"}
    assert fetcher.fetch(CAMPAIGN, "pushwoosh.msg_stats", later.state) == later
    assert fetcher.fetch(CAMPAIGN, "pushwoosh.msg_stats", later.state) == later
    assert fetcher.fetch(CAMPAIGN, "pushwoosh.msg_stats", later.state) is None
    result = clean_sandbox.received("pushwoosh.v1")[-1]["answer"]["response"]
    stored = fetcher.store.summary("crm", 9093)["totals"]["pushwoosh.msg_stats"][CODE]
    for action in ("send", "open"):
        assert stored[action] == sum(r["count"] for r in result["rows"] if r["action"] == action)


def test_altcraft_history_of_the_sampled_recipients(fetcher, clean_sandbox, client, scheduler):
    recorder = PostHookRecorder(client, scheduler)
    for email in ("a@example.com", "b@example.com"):
        recorder.record(CAMPAIGN, email)
    fetcher.fetch(CAMPAIGN, "altcraft.history")
    fetcher.fetch(CAMPAIGN, "altcraft.history")
    calls = clean_sandbox.received("altcraft.history")
    assert {call["body"]["email"] for call in calls} == {"a@example.com", "b@example.com"}
    last = {call["body"]["email"]: call["answer"]["data"] for call in calls}
    run = fetcher.store.run("crm", 9093)
    assert fetcher.store.log_counts(run.id) == {
        "altcraft.history": sum(len(rows) for rows in last.values())
    }
    totals = fetcher.store.summary("crm", 9093)["totals"]["altcraft.history"]["sample"]
    assert totals["profiles"] == 2
    assert totals["send"] == sum(1 for rows in last.values() for r in rows if r["action"] == "send")


def test_altcraft_error_in_a_200_is_a_failure(clean_sandbox):
    config = AltcraftConfig(base_url=f"{clean_sandbox.url}/altcraft", token="wrong", list_id=1)
    with pytest.raises(errors.Unauthorized):
        AltcraftClient(config).history(matching="email", email="a@example.com")
    right = AltcraftConfig(base_url=config.base_url, token="sandbox-secret", list_id=1)
    with pytest.raises(errors.Rejected, match="not identified"):
        AltcraftClient(right).history(matching="email")


def test_tag_stats_csv_is_parsed():
    assert parse_tag_stats("value;count\nvip;12\nregular;30\n") == [
        {"value": "vip", "count": "12"},
        {"value": "regular", "count": "30"},
    ]


def test_totals_are_marked_as_totals(fetcher):
    fetcher.fetch(CAMPAIGN, "pushwoosh.links")
    run = fetcher.store.run("crm", 9093)
    assert {s.interval for s in fetcher.store.snapshots(run.id)} == {TOTAL}


def test_a_schedule_a_post_hook_made_first_still_fetches_the_started_campaigns_pushwoosh(
    fetcher, clean_sandbox, store, client, scheduler
):
    """A post hook knows no Pushwoosh message; if it makes the schedule before the start
    event that names one is processed, the fetches still use it (it was a race: under
    load Pushwoosh was never fetched)."""
    from_hook = Campaign("crm", 9093)
    PostHookRecorder(client, scheduler).record(from_hook, "a@example.com")
    assert store.run("crm", 9093) is None or store.run("crm", 9093).message_code is None
    fetcher.fetch(from_hook, "pushwoosh.messages")  # before the start: nothing to fetch
    assert clean_sandbox.received("pushwoosh.messages") == []

    starter(clean_sandbox, store, client, scheduler).start(CAMPAIGN)
    assert store.run("crm", 9093).message_code == CODE
    fetcher.fetch(from_hook, "pushwoosh.messages")
    [call] = clean_sandbox.received("pushwoosh.messages")
    assert call["body"]["filters"]["messages_codes"] == [CODE]


def test_a_start_whose_status_reads_nothing_is_sent_and_its_refusal_counts_as_started(
    clean_sandbox, store, client, scheduler
):
    clean_sandbox.knobs(campaign_status_hidden=1)
    clean_sandbox.fault("crm.campaign_action", delay_s=1.0, count=1)
    impatient = starter(clean_sandbox, store, client, scheduler, timeout=httpx.Timeout(0.3))
    with pytest.raises(errors.Timeout):
        impatient.start(CAMPAIGN)
    wait_for(lambda: start_calls(clean_sandbox), timeout_s=5)
    outcome = starter(clean_sandbox, store, client, scheduler).start(CAMPAIGN)
    assert (outcome.started_now, outcome.state) == (False, "started")
    assert [call["status"] for call in start_calls(clean_sandbox)] == [200, 400]
    assert store.run("crm", 9093).state == "started"


def test_a_start_lost_before_the_platform_with_no_status_is_sent_again(
    clean_sandbox, store, client, scheduler
):
    clean_sandbox.knobs(campaign_status_hidden=1)
    clean_sandbox.fault("crm.campaign_action", drop=True, count=1)
    with pytest.raises(errors.ConnectionFailed):
        starter(clean_sandbox, store, client, scheduler).start(CAMPAIGN)
    outcome = starter(clean_sandbox, store, client, scheduler).start(CAMPAIGN)
    assert outcome.started_now, "never skipped on a guess"
    assert clean_sandbox.campaigns() == [
        {"collection": "mailings", "id": 9093, "status": "started", "audience": 0}
    ]


def test_the_start_lock_is_held_while_the_start_waits_for_the_rate_limit(
    clean_sandbox, store, client, scheduler
):
    """Two workers race to start one campaign while the shared limit (one call every
    2 s) makes the first one's start wait far longer than the lock's 300 ms."""

    def racer() -> CampaignStarter:
        limiter = SharedRateLimiter(client, "crm", rate=0.5, margin_ms=0)
        return CampaignStarter(
            store=store,
            crm=crm(clean_sandbox, limiter=limiter),
            scheduler=scheduler,
            client=client,
            lock_ttl_ms=300,
        )

    first, second = racer(), racer()
    first.crm.campaign("mailing", 1)  # takes the limit's slot: the start waits ~2 s
    outcomes = []
    slow = threading.Thread(target=lambda: outcomes.append(first.start(CAMPAIGN)))
    slow.start()
    wait_for(lambda: client.exists("hookrelay:starting:crm:9093"), timeout_s=5)
    time.sleep(0.9)  # three lock lifetimes into the wait
    with pytest.raises(StartInProgress):
        second.start(CAMPAIGN)
    slow.join()
    assert outcomes[0].started_now
    assert len(start_calls(clean_sandbox)) == 1


def test_a_campaign_action_answered_with_any_2xx_succeeds(clean_sandbox, store, client, scheduler):
    clean_sandbox.knobs(action_status=204)
    assert starter(clean_sandbox, store, client, scheduler).start(CAMPAIGN).started_now


def test_a_report_answered_200_with_an_error_is_a_failure_not_an_empty_success(
    fetcher, clean_sandbox
):
    clean_sandbox.knobs(report_errors=1)
    with pytest.raises(errors.Rejected, match="Report failed"):
        fetcher.fetch(CAMPAIGN, "crm.report")
    assert fetcher.store.summary("crm", 9093)["totals"].get("crm.report") is None


def test_a_message_log_repeating_its_token_ends_with_an_error(fetcher, clean_sandbox):
    clean_sandbox.knobs(message_log_stuck=1)
    with pytest.raises(errors.Rejected, match="the same pagination_token again"):
        fetcher.fetch(CAMPAIGN, "pushwoosh.message_log")
    assert len(clean_sandbox.received("pushwoosh.message_log")) == 2


def test_a_recipient_altcraft_does_not_know_is_counted_and_the_others_fetched(
    fetcher, clean_sandbox, client, scheduler
):
    recorder = PostHookRecorder(client, scheduler)
    for email in ("a@example.com", "gone@unknown.example.com"):
        recorder.record(CAMPAIGN, email)
    fetcher.fetch(CAMPAIGN, "altcraft.history")
    totals = fetcher.store.summary("crm", 9093)["totals"]["altcraft.history"]["sample"]
    assert (totals["profiles"], totals["unknown_recipients"]) == (2, 1)
    assert totals["send"] >= 1


def test_altcraft_knowing_no_sampled_recipient_is_a_failure(
    fetcher, clean_sandbox, client, scheduler
):
    PostHookRecorder(client, scheduler).record(CAMPAIGN, "gone@unknown.example.com")
    with pytest.raises(errors.Rejected, match="not found"):
        fetcher.fetch(CAMPAIGN, "altcraft.history")


def suppressed(client) -> dict[str, dict]:
    _, entries = SuppressionList(client).listing(1000)
    return {entry["id"]: entry for entry in entries}


def test_reported_bounces_and_complaints_are_suppressed_once(fetcher, clean_sandbox, client):
    fetcher.fetch(CAMPAIGN, "pushwoosh.bounces")
    found = suppressed(client)
    kinds = ("Hardbounce", "Softbounce", "Complaint")
    expected = {f"email:bounce-{i}@example.com": kinds[i % 3] for i in range(12) if i % 3 != 1}
    assert {key: entry["source"] for key, entry in found.items()} == {
        key: f"pushwoosh.bounces: {kind}" for key, kind in expected.items()
    }
    assert found["email:bounce-0@example.com"]["reason"] == "hardbounce"

    assert SuppressionList(client).unsuppress("email:bounce-0@example.com")
    fetcher.fetch(CAMPAIGN, "pushwoosh.bounces")
    assert len(suppressed(client)) == len(expected) - 1, "once, and a deletion holds"


def test_a_deleted_suppression_comes_back_only_when_reported_after_the_deletion(client):
    suppressions = SuppressionList(client)
    suppressions.suppress({"email": "a@example.com"})
    suppressions.unsuppress("email:a@example.com")
    earlier = Feedback(
        "A@example.com", "hardbounce", "pushwoosh.bounces: Hardbounce", "2026-11-23T12:00:00Z"
    )
    kinds = frozenset({"hardbounce"})
    assert suppressions.from_feedback([earlier], kinds) == 0
    later = Feedback(
        "a@example.com", "hardbounce", "pushwoosh.bounces: Hardbounce", "2099-01-01T00:00:00Z"
    )
    assert suppressions.from_feedback([later], kinds) == 1
    assert suppressions.from_feedback([later, earlier], kinds) == 0, "once"
    soft = Feedback("s@example.com", "softbounce", "pushwoosh.bounces: Softbounce")
    assert suppressions.from_feedback([soft], kinds) == 0, "not a kind asked for"


def test_altcraft_feedback_in_the_history_is_suppressed(fetcher, clean_sandbox, client, scheduler):
    recorder = PostHookRecorder(client, scheduler)
    emails = ("hbounce-1", "unsub-2", "apiunsub-3", "manualunsub-4", "stoplist-5", "fine-6")
    for local in emails:
        recorder.record(CAMPAIGN, f"{local}@example.com")
    fetcher.fetch(CAMPAIGN, "altcraft.history")
    assert {key: entry["source"] for key, entry in suppressed(client).items()} == {
        "email:hbounce-1@example.com": "altcraft.history: hbounce",
        "email:unsub-2@example.com": "altcraft.history: unsubscribe_email",
        "email:apiunsub-3@example.com": "altcraft.history: unsub_api",
        "email:manualunsub-4@example.com": "altcraft.history: unsub_manual",
        "email:stoplist-5@example.com": "altcraft.history: suppress",
    }
    assert {entry["reason"] for entry in suppressed(client).values()} == {
        "hardbounce",
        "unsubscribe",
    }

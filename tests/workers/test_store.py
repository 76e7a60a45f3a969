"""The stats store on SQLite and on a real PostgreSQL: migrations, upserts, summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from workers.campaigns.campaign import Campaign
from workers.campaigns.retention import LogRetention
from workers.campaigns.schema import upgrade
from workers.campaigns.store import TOTAL, Snapshot, Store
from workers.campaigns.tables import MessageLogRow

from .stores import postgres_store, sqlite_store

CAMPAIGN = Campaign("crm", 9093, "mailing", "XXXXX-XXXXXXXXX-XXXXXXXX")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    stores = sqlite_store(tmp_path) if request.param == "sqlite" else postgres_store()
    yield next(stores)
    next(stores, None)


def test_migrating_again_changes_nothing(store: Store):
    run = store.ensure_run(CAMPAIGN, "new")
    upgrade(store)
    assert store.run("crm", 9093).id == run.id


def test_a_campaign_has_one_run_whatever_asks_for_it(store: Store):
    first = store.ensure_run(CAMPAIGN, "new")
    again = store.ensure_run(CAMPAIGN, "external")
    assert (again.id, again.state) == (first.id, "new")
    store.note_start_attempt(first.id)
    store.note_start_attempt(first.id)
    store.mark_started(first.id)
    run = store.run("crm", 9093)
    assert (run.state, run.start_attempts) == ("started", 2)
    assert run.started_at.tzinfo is not None
    assert store.run("crm", 1) is None


def test_fetching_a_period_again_replaces_its_numbers(store: Store):
    run = store.ensure_run(CAMPAIGN, "new")
    store.save_snapshots(
        run.id,
        "crm.report",
        [
            Snapshot("S_9093", "sum_delivered", "2026-11-22", 10),
            Snapshot("S_9093", "sum_delivered", "2026-11-23", 20),
            Snapshot("S_9093", "sum_delivered", TOTAL, 30),
        ],
    )
    store.save_snapshots(
        run.id,
        "crm.report",
        [
            Snapshot("S_9093", "sum_delivered", "2026-11-23", 25),
            Snapshot("S_9093", "sum_delivered", TOTAL, 35),
        ],
    )
    summary = store.summary("crm", 9093)
    assert summary["totals"] == {"crm.report": {"S_9093": {"sum_delivered": 35.0}}}
    assert summary["series"]["crm.report"]["S_9093"]["sum_delivered"] == [
        ["2026-11-22", 10.0],
        ["2026-11-23", 25.0],
    ]
    assert len(store.snapshots(run.id)) == 3


def test_a_page_stored_twice_is_kept_once(store: Store):
    run = store.ensure_run(CAMPAIGN, "new")
    page = [{"hwid": "a", "action": "sent"}, {"hwid": "a", "action": "opened"}]
    store.save_log_rows(run.id, "pushwoosh.message_log", page)
    store.save_log_rows(run.id, "pushwoosh.message_log", [*page, {"hwid": "b", "action": "sent"}])
    assert store.log_counts(run.id) == {"pushwoosh.message_log": 3}
    assert store.log_rows(run.id)[0] == {"hwid": "a", "action": "sent"}


def test_log_rows_past_their_retention_are_deleted_and_the_rest_kept(store: Store):
    run = store.ensure_run(CAMPAIGN, "new")
    store.save_log_rows(run.id, "pushwoosh.message_log", [{"hwid": "old"}, {"hwid": "old2"}])
    with store.engine.begin() as connection:
        connection.execute(
            sa.update(MessageLogRow).values(fetched_at=datetime.now(UTC) - timedelta(days=91))
        )
    store.save_log_rows(run.id, "pushwoosh.message_log", [{"hwid": "new"}])
    LogRetention(store, days=90).tick(broker=None)
    assert store.log_rows(run.id) == [{"hwid": "new"}]

"""The console's page of one campaign: its statistics over time as a chart and a table,
read from the stats store the workers fill."""

from __future__ import annotations

import re

import pytest

from webhook.api.campaign_chart import chart
from workers.campaigns.campaign import Campaign
from workers.campaigns.store import TOTAL, Snapshot, Store

from ..conftest import TEST_DATABASE_URL
from .test_events import AUTH

DAYS = ("2026-11-21", "2026-11-22", "2026-11-23")


@pytest.fixture
def followed() -> Campaign:
    """An automated campaign with three days of the S2S report, in two subjects."""
    store = Store(TEST_DATABASE_URL)
    campaign = Campaign("crm", 880_001, "automated")
    run = store.ensure_run(campaign, "started")
    snapshots = [
        Snapshot(subject, metric, day, value * (n + 1))
        for n, day in enumerate(DAYS)
        for subject in ("A_880001", "other")
        for metric, value in (("sum_sended", 100), ("sum_opened", 40), ("open_rate", 0.4))
    ]
    snapshots.append(Snapshot("A_880001", "sum_sended", TOTAL, 600))
    store.save_snapshots(run.id, "crm.report", snapshots)
    store.dispose()
    return campaign


def test_the_page_draws_each_measure_per_day_with_the_numbers_beside(client, followed):
    page = client.get("/status/campaigns/crm/880001", headers=AUTH)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "crm automated campaign 880001" in text
    for n, day in enumerate(DAYS):
        row = re.search(rf'<tr data-interval="{day}">(.*?)</tr>', text).group(1)
        assert f'data-measure="sent">{200 * (n + 1)}<' in row, "summed over subjects"
        assert f'data-measure="opened">{80 * (n + 1)}<' in row
    assert text.count('<polyline class="sent"') == 1
    assert text.count('<circle class="sent"') == 3
    assert 'data-key="crm.report|A_880001|sum_sended"' in text, "the totals too"
    status = client.get("/status", headers=AUTH).get_data(as_text=True)
    assert 'href="status/campaigns/crm/880001"' in status
    assert '<td class="kind">automated</td>' in status


@pytest.mark.parametrize("campaign_id", ["424242", "9" * 30, "-7", "x"])
def test_an_unknown_campaign_is_a_404_that_says_so(client, campaign_id):
    page = client.get(f"/status/campaigns/crm/{campaign_id}", headers=AUTH)
    assert page.status_code == 404
    assert "hookrelay follows no such campaign" in page.get_data(as_text=True)


def test_the_chart_scales_to_the_peak_and_takes_the_first_source_that_has_a_series():
    series = {
        "crm.report": {"S_1": {"sum_sended": [["2026-11-22", 10.0], ["2026-11-23", 20.0]]}},
        "pushwoosh.totals": {"platform:1": {"sends": [["2026-11-22 10:00:00", 99.0]]}},
    }
    drawn = chart(series)
    assert drawn.measures == ["sent"], "the S2S report wins; no other measure has points"
    assert drawn.peak == 20.0
    [(x1, y1, _), (x2, y2, _)] = drawn.dots["sent"]
    assert (x1, x2) == (drawn.left, drawn.left + drawn.width)
    assert y2 == drawn.top and y1 == (drawn.top + drawn.bottom) / 2
    assert chart({}).intervals == []

"""The status page's chart (what it draws for each minute, its time axis) and its
campaigns table."""

from __future__ import annotations

from datetime import UTC, datetime

from webhook.api.status import CAMPAIGN_COLUMNS, chart_lines, column_value, next_fetch


def test_the_chart_draws_finished_minutes_and_marks_the_one_under_way():
    now = datetime(2026, 12, 1, 16, 58, 30, tzinfo=UTC)
    chart = chart_lines({"crm": [4] * 59 + [1]}, now)
    assert len(chart["lines"]["crm"].split()) == 59
    x, y, count = chart["current"]["crm"]
    assert x == chart["left"] + chart["width"], "at the right end"
    assert count == 1 and y > float(chart["lines"]["crm"].split()[-1].split(",")[1])
    assert [label for _, label in chart["ticks"]] == [
        "16:00",
        "16:10",
        "16:20",
        "16:30",
        "16:40",
        "16:50",
    ]


def test_a_campaign_row_sums_the_first_source_that_reports_each_column():
    totals = {
        "crm.report": {"S_1": {"sum_sended": 10, "sum_delivered": 9}, "S_2": {"sum_sended": 5}},
        "pushwoosh.totals": {"c": {"sends": 99, "conversion_opens": 4.0}},
        "pushwoosh.bounces": {"c": {"bounces_hardbounce": 2, "bounces_complaint": 1}},
    }
    columns = {name: column_value(totals, c) for name, c in CAMPAIGN_COLUMNS.items()}
    assert columns == {"sends": 15, "delivered": 9, "opened": 4.0, "clicked": None, "bounced": 3}


def test_the_next_fetch_is_the_first_step_of_the_schedule_still_ahead():
    started = "2026-12-01T10:00:00+00:00"
    now = datetime(2026, 12, 1, 10, 10, tzinfo=UTC)
    assert next_fetch(started, (300, 1800, 7200), 1.0, now) == datetime(
        2026, 12, 1, 10, 30, tzinfo=UTC
    )
    assert next_fetch(started, (300, 1800), 0.001, now) is None, "the schedule is over"
    assert next_fetch(None, (300,), 1.0, now) is None, "not started"

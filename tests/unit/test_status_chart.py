"""The status page's chart: what it draws for each minute, and its time axis."""

from __future__ import annotations

from datetime import UTC, datetime

from webhook.api.status import chart_lines


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

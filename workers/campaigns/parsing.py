"""How the platforms' statistics answers become numbers (pure functions)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from workers.campaigns.store import TOTAL, Snapshot


def numbers(row: dict[str, Any]) -> dict[str, float]:
    """A row's numeric values (numbers, or numeric strings as Pushwoosh sends them)."""
    found = {}
    for key, value in row.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found[key] = float(value)
        elif isinstance(value, str):
            try:
                found[key] = float(value)
            except ValueError:
                continue
    return found


def date_windows(first: date, last: date, days: int) -> list[tuple[date, date]]:
    """``first``..``last`` split into windows of at most ``days`` days."""
    windows, start = [], first
    while start <= last:
        end = min(last, start + timedelta(days=days - 1))
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows or [(first, first)]


def statistics_rows(result: Any) -> list[dict[str, Any]]:
    """The rows of a v1 statistics object (``{"formatter", "rows"}``), found at any
    depth (``getAppStats`` nests one per applications/devices/messages)."""
    if isinstance(result, dict):
        if isinstance(result.get("rows"), list):
            return [row for row in result["rows"] if isinstance(row, dict)]
        return [row for value in result.values() for row in statistics_rows(value)]
    return []


def parse_tag_stats(csv_text: str) -> list[dict[str, str]]:
    """``getTagStats``' result: a CSV with ``;`` separators, header first."""
    lines = [line for line in csv_text.splitlines() if line.strip()]
    if not lines:
        return []
    header = [name.strip() for name in lines[0].split(";")]
    return [
        dict(zip(header, (v.strip() for v in line.split(";")), strict=False)) for line in lines[1:]
    ]


def series_and_totals(subject: str, result: Any) -> Iterable[Snapshot]:
    """A v1 statistics object as a series per action, plus each action's total."""
    totals: dict[str, float] = defaultdict(float)
    for row in statistics_rows(result):
        action, count = str(row.get("action")), float(row.get("count") or 0)
        totals[action] += count
        yield Snapshot(subject, action, str(row.get("datetime", "")), count)
    for action, count in totals.items():
        yield Snapshot(subject, action, TOTAL, count)

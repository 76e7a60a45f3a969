"""A campaign's statistics over time, as its console page draws them: one series per
measure (sent, delivered, ...), each from the first source that reports it over time,
summed over that source's subjects, and the SVG coordinates of their lines."""

from __future__ import annotations

from dataclasses import dataclass

#: Each measure's candidate ``(source, metric)`` series, the first with points winning
#: (docs/platforms.md says what each platform reports).
MEASURES = {
    "sent": [("crm.report", "sum_sended"), ("pushwoosh.totals", "sends")],
    "delivered": [("crm.report", "sum_delivered"), ("pushwoosh.totals", "deliveries")],
    "opened": [("crm.report", "sum_opened"), ("pushwoosh.totals", "opens")],
    "clicked": [("crm.report", "sum_clicked")],
    "unsubscribed": [("crm.report", "sum_unsubscribed")],
    "spam reports": [("crm.report", "sum_spam_reports")],
}
WIDTH, HEIGHT, LEFT, TOP = 480, 160, 48, 18


@dataclass
class Chart:
    """``intervals`` in time order; ``rows[interval][measure]``; ``lines[measure]``:
    polyline points; ``dots[measure]``: each point's ``(x, y, value)``."""

    intervals: list[str]
    measures: list[str]
    rows: dict[str, dict[str, float]]
    peak: float
    lines: dict[str, str]
    dots: dict[str, list[tuple[float, float, float]]]
    ticks: list[tuple[float, str]]
    width: int = WIDTH
    left: int = LEFT
    top: int = TOP
    bottom: int = TOP + HEIGHT


def measured(series: dict) -> dict[str, dict[str, float]]:
    """Each measure's values by interval, from a summary's ``series``."""
    found = {}
    for measure, candidates in MEASURES.items():
        for source, metric in candidates:
            values: dict[str, float] = {}
            for metrics in series.get(source, {}).values():
                for interval, value in metrics.get(metric, []):
                    values[interval] = values.get(interval, 0.0) + value
            if values:
                found[measure] = values
                break
    return found


def chart(series: dict) -> Chart:
    """The chart of a summary's ``series`` (no measure: an empty chart)."""
    by_measure = measured(series)
    intervals = sorted({interval for values in by_measure.values() for interval in values})
    peak = max((v for values in by_measure.values() for v in values.values()), default=0) or 1
    step = WIDTH / max(1, len(intervals) - 1)

    def point(index: int, value: float) -> tuple[float, float, float]:
        return (
            round(LEFT + index * step, 1),
            round(TOP + HEIGHT - value * HEIGHT / peak, 1),
            value,
        )

    dots = {
        measure: [point(i, values[at]) for i, at in enumerate(intervals) if at in values]
        for measure, values in by_measure.items()
    }
    every = max(1, len(intervals) // 8)
    return Chart(
        intervals=intervals,
        measures=list(by_measure),
        rows={at: {m: v[at] for m, v in by_measure.items() if at in v} for at in intervals},
        peak=peak,
        lines={m: " ".join(f"{x},{y}" for x, y, _ in points) for m, points in dots.items()},
        dots=dots,
        ticks=[
            (round(LEFT + i * step, 1), at[:10]) for i, at in enumerate(intervals) if i % every == 0
        ],
    )

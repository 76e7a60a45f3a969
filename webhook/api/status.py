"""``GET /status``: one HTML page an operator keeps open. It refreshes itself and shows
what waits (queues, dead letters), what flows (deliveries per minute per platform, the
shared rate limits in force) and what came back (profile fields the platform dropped,
recent campaigns' latest totals).

Every number is read when the page is asked for, from the same places the API and
``/metrics`` read: Redis and the stats store. An API key is needed; a browser gives it
as the password of Basic auth.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, render_template, request

from schemas.events import PLATFORMS
from webhook import auth
from webhook.hub import current_hub
from workers.core.readable import readable_time

bp = Blueprint("status", __name__)
bp.before_request(auth.require_api_key_from_browser)

REFRESH_S = 10
CHART_MINUTES = 60
RECENT_CAMPAIGNS = 10
NEWEST_DEAD_LETTERS = 5


@bp.get("/status")
def page():
    hub = current_hub()
    series = hub.throughput.per_minute(PLATFORMS, CHART_MINUTES)
    campaigns = [
        hub.store.summary(run.platform, run.campaign_id) for run in hub.store.runs(RECENT_CAMPAIGNS)
    ]
    refresh = request.args.get("refresh", REFRESH_S, type=int)
    return render_template(
        "status.html",
        now=readable_time(datetime.now(UTC)),
        refresh=max(1, refresh or REFRESH_S),
        backlog=hub.backlog.read(),
        series=series,
        chart=chart_lines(series),
        minutes=CHART_MINUTES,
        dead_letters=hub.dead_letters.list(limit=NEWEST_DEAD_LETTERS),
        dropped_fields=hub.dropped_fields.read(),
        readable_time=readable_time,
        campaigns=[summary for summary in campaigns if summary],
    )


@bp.app_template_filter("number")
def number(value: float) -> str:
    """Whole numbers as such, others to four decimals: never in exponent form."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.4f}".rstrip("0")


def chart_lines(series: dict[str, list[int]], width: int = 600, height: int = 120) -> dict:
    """SVG polyline points per platform, scaled to the busiest minute."""
    peak = max((max(counts) for counts in series.values() if counts), default=0) or 1
    lines = {}
    for platform, counts in series.items():
        step = width / max(1, len(counts) - 1)
        lines[platform] = " ".join(
            f"{index * step:.1f},{height - count * height / peak:.1f}"
            for index, count in enumerate(counts)
        )
    return {"width": width, "height": height, "peak": peak, "lines": lines}

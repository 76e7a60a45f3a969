"""``GET /status``: one HTML page an operator keeps open. It refreshes itself and shows
what waits (queues, dead letters), what flows (deliveries per minute per platform, each
platform's health, circuit and shared rate limit in force) and what came back (profile
fields the platform dropped, recent campaigns' latest totals), and links to a page per
campaign that draws its statistics over time.

Every number is read when the page is asked for, from the same places the API and
``/metrics`` read: Redis and the stats store. An API key is needed; a browser gives it
as the password of Basic auth.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, g, render_template, request
from flask.typing import ResponseReturnValue

from schemas.events import MAX_CAMPAIGN_ID, PLATFORMS
from webhook import auth
from webhook.api.campaign_chart import chart
from webhook.hub import current_hub
from workers.core.readable import readable_time
from workers.core.settings import Settings
from workers.queue.deadletters import DeadLetter
from workers.trace.reader import unknown_event

bp = Blueprint("status", __name__)
bp.before_request(auth.require_api_key_from_browser)

#: The console's pages run no script, load nothing from elsewhere and may not be
#: framed; their one inline stylesheet carries the response's nonce.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def csp_nonce() -> str:
    """This response's nonce, made once per request."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


@bp.context_processor
def _nonce() -> dict[str, str]:
    return {"csp_nonce": csp_nonce()}


@bp.after_request
def _content_security_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=csp_nonce())
    return response


REFRESH_S = 10
CHART_MINUTES = 60
RECENT_CAMPAIGNS = 10
NEWEST_DEAD_LETTERS = 5
#: The newest dead letters grouped by reason, and the ids shown per reason.
GROUPED_DEAD_LETTERS, IDS_PER_REASON = 500, 3
#: Room around the chart's plot for the axis labels and the legend.
CHART_LEFT, CHART_TOP = 40, 18


@bp.get("/status")
def page() -> ResponseReturnValue:
    hub = current_hub()
    series = hub.throughput.per_minute(PLATFORMS, CHART_MINUTES)
    campaigns = [
        hub.store.summary(run.platform, run.campaign_id) for run in hub.store.runs(RECENT_CAMPAIGNS)
    ]
    now = datetime.now(UTC)
    rows = [campaign_row(summary, hub.settings, now) for summary in campaigns if summary]
    refresh = request.args.get("refresh", REFRESH_S, type=int)
    letters = hub.dead_letters.newest(limit=GROUPED_DEAD_LETTERS)
    return render_template(
        "status.html",
        now=readable_time(now),
        refresh=max(1, refresh or REFRESH_S),
        backlog=hub.backlog.read(),
        series=series,
        chart=chart_lines(series, now),
        minutes=CHART_MINUTES,
        dead_letters=letters[:NEWEST_DEAD_LETTERS],
        reasons=by_reason(letters),
        dropped_fields=hub.dropped_fields.read(),
        readable_time=readable_time,
        probe_s=hub.settings.circuit.probe_s,
        campaigns=rows,
        campaign_columns=CAMPAIGN_COLUMNS,
    )


@bp.get("/status/campaigns/<platform>/<campaign_id>")
def campaign(platform: str, campaign_id: str) -> ResponseReturnValue:
    """One campaign's statistics over time: a chart, the numbers in a table beside it,
    and its latest totals. An id that names no campaign is this page's 404 too."""
    known = campaign_id.isascii() and campaign_id.isdigit() and int(campaign_id) <= MAX_CAMPAIGN_ID
    summary = current_hub().store.summary(platform, int(campaign_id)) if known else None
    if summary is None:
        body = render_template("campaign.html", summary=None, platform=platform, id=campaign_id)
        return body, 404
    drawn = chart(summary["series"])
    return render_template(
        "campaign.html", summary=summary, chart=drawn, readable_time=readable_time
    )


@bp.get("/status/event")
def event() -> ResponseReturnValue:
    """The search box's answer: one event's trace, as ``hookrelay events show`` tells it."""
    event_id = request.args.get("id", "").strip()
    hub = current_hub()
    report = hub.traces.show(event_id) if event_id else None
    status = 200 if report is not None or not event_id else 404
    unknown = unknown_event(event_id, hub.settings.trace_retention_s)
    return render_template("event.html", event_id=event_id, report=report, unknown=unknown), status


#: The campaigns table's columns: where each number comes from, the first
#: (source, metric) with a value winning; a metric ending in ``*`` sums every metric
#: it begins (docs/platforms.md says what each platform reports).
CAMPAIGN_COLUMNS = {
    "sends": [("crm.report", "sum_sended"), ("pushwoosh.totals", "sends")],
    "delivered": [("crm.report", "sum_delivered")],
    "opened": [("crm.report", "sum_opened"), ("pushwoosh.totals", "conversion_opens")],
    "clicked": [("crm.report", "sum_clicked")],
    "bounced": [("pushwoosh.bounces", "bounces_*")],
}


def campaign_row(summary: dict, settings: Settings, now: datetime) -> dict:
    """One campaign as the table shows it: its columns' numbers (``None``: no source
    reported it yet), its next scheduled fetch, and its full summary for the details."""
    totals = summary["totals"]
    return {
        **summary,
        "columns": {
            name: column_value(totals, candidates) for name, candidates in CAMPAIGN_COLUMNS.items()
        },
        "next_fetch": next_fetch(
            summary["campaign"]["started_at"],
            settings.followup_schedule,
            settings.followup_time_scale,
            now,
        ),
    }


def column_value(totals: dict, candidates: list[tuple[str, str]]) -> float | None:
    """The sum over subjects of the first candidate ``(source, metric)`` reported."""
    for source, metric in candidates:
        values = [
            value
            for metrics in totals.get(source, {}).values()
            for name, value in metrics.items()
            if name == metric or (metric.endswith("*") and name.startswith(metric[:-1]))
        ]
        if values:
            return sum(values)
    return None


def next_fetch(
    started_at: str | None, schedule: tuple[int, ...], scale: float, now: datetime
) -> datetime | None:
    """When the follow-up schedule fetches a campaign's statistics next (``None``: it
    has not started, or its schedule is over)."""
    if started_at is None:
        return None
    start = datetime.fromisoformat(started_at)
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    due = (start + timedelta(seconds=step * scale) for step in schedule)
    return next((moment for moment in due if moment > now), None)


@dataclass
class Reason:
    """Dead letters that failed for one reason: how many, and the newest ones' ids."""

    reason: str
    count: int = 0
    ids: list[str] = field(default_factory=list)


def by_reason(letters: list[DeadLetter]) -> list[Reason]:
    """``letters`` (newest first) grouped by their reason, the commonest first."""
    groups: dict[str, Reason] = {}
    for letter in letters:
        group = groups.setdefault(letter.reason, Reason(letter.reason))
        group.count += 1
        if len(group.ids) < IDS_PER_REASON:
            group.ids.append(letter.id)
    return sorted(groups.values(), key=lambda group: -group.count)


@bp.app_template_filter("number")
def number(value: float) -> str:
    """Whole numbers as such, others to four decimals: never in exponent form."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.4f}".rstrip("0")


def chart_lines(
    series: dict[str, list[int]], now: datetime, width: int = 600, height: int = 120
) -> dict:
    """SVG coordinates for the chart: each platform's finished minutes as a line scaled
    to the busiest minute, the minute under way as a mark of its own (half a minute's
    count is not a drop), a time axis in UTC every 10 minutes, and the peak."""
    minutes = max((len(counts) for counts in series.values()), default=0)
    peak = max((max(counts) for counts in series.values() if counts), default=0) or 1
    step = width / max(1, minutes - 1)

    def x(index: int) -> float:
        return CHART_LEFT + index * step

    def y(count: int) -> float:
        return CHART_TOP + height - count * height / peak

    lines, current = {}, {}
    for platform, counts in series.items():
        lines[platform] = " ".join(f"{x(i):.1f},{y(c):.1f}" for i, c in enumerate(counts[:-1]))
        if counts:
            current[platform] = (round(x(len(counts) - 1), 1), round(y(counts[-1]), 1), counts[-1])
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    ticks = [
        (round(x(index), 1), f"{first + timedelta(minutes=index):%H:%M}")
        for index in range(minutes)
        if (first + timedelta(minutes=index)).minute % 10 == 0
    ]
    return {
        "width": width,
        "height": height,
        "left": CHART_LEFT,
        "top": CHART_TOP,
        "bottom": CHART_TOP + height,
        "peak": peak,
        "lines": lines,
        "current": current,
        "ticks": ticks,
    }

"""Fetching a campaign's statistics from one source and storing them.

Each source is one method of :class:`StatsFetcher`, named in
:data:`workers.followup.sources_for`. A fetch reads everything the source has for the
campaign so far and upserts it, so a later fetch replaces the numbers of an earlier
one, and a fetch cut off half-way (a killed worker) is simply done again.

A source that is not ready (a report with ``metadata.ready`` false, a scheduled
Pushwoosh v1 request still running) answers :class:`Later` with the state to resume
from; the actor sends itself a delayed message rather than sleeping in a worker thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .followup import SendLog
from .platforms.altcraft import AltcraftClient
from .platforms.crm import POST_TYPES, CrmClient
from .platforms.pushwoosh import BOUNCES_PER_PAGE, LINK_DEVICES_PER_PAGE, PATHS, PushwooshClient
from .store import TOTAL, Campaign, CampaignRun, Snapshot, Store

#: Aggregated report fields hookrelay asks for (api-docs: "Aggregated fields").
REPORT_FIELDS = (
    "sum_sended",
    "sum_delivered",
    "sum_opened",
    "sum_opened_unique",
    "sum_clicked",
    "sum_clicked_unique",
    "sum_unsubscribed",
    "sum_spam_reports",
    "sum_stop_external_check",
    "open_rate",
    "click_rate",
    "delivery_rate",
    "bounce_rate",
)
#: A report answers at most 100 objects, the last being the totals.
REPORT_MAX_DAYS = 99


@dataclass(frozen=True)
class Later:
    """Not ready yet: fetch again after a while, resuming from ``state``."""

    state: dict[str, Any] = field(default_factory=dict)


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


class StatsFetcher:
    """Parameters: the stats ``store``, one client per platform, and the ``sends`` log
    whose recipient sample the Altcraft history is fetched for."""

    def __init__(
        self,
        *,
        store: Store,
        crm: CrmClient,
        pushwoosh: PushwooshClient,
        altcraft: AltcraftClient,
        sends: SendLog,
    ) -> None:
        self.store = store
        self.crm = crm
        self.pushwoosh = pushwoosh
        self.altcraft = altcraft
        self.sends = sends
        self._sources: dict[str, Callable[[Campaign, CampaignRun, dict], Later | None]] = {
            "crm.report": self._crm_report,
            "pushwoosh.messages": self._pushwoosh_messages,
            "pushwoosh.totals": self._pushwoosh_totals,
            "pushwoosh.message_log": self._pushwoosh_message_log,
            "pushwoosh.links": self._pushwoosh_links,
            "pushwoosh.link_devices": self._pushwoosh_link_devices,
            "pushwoosh.bounces": self._pushwoosh_bounces,
            "pushwoosh.msg_stats": self._pushwoosh_msg_stats,
            "altcraft.history": self._altcraft_history,
        }

    def fetch(self, campaign: Campaign, source: str, state: dict | None = None) -> Later | None:
        """Fetch and store one source's numbers; :class:`Later` if not ready yet."""
        run = self.store.ensure_run(campaign, "external")
        return self._sources[source](campaign, run, state or {})

    # --- the S2S platform's reports ----------------------------------------------

    def _crm_report(self, campaign: Campaign, run: CampaignRun, state: dict) -> Later | None:
        post = f"{POST_TYPES[campaign.kind]}_{campaign.campaign_id}"
        first, today = _first_day(run), _today()
        windows = date_windows(first, today, REPORT_MAX_DAYS)
        snapshots, totals = [], {}
        for start, end in windows:
            rows = self._report(["date", *REPORT_FIELDS], post, start, end)
            if rows is None:
                return Later(state)
            *days, totals = rows or [{}]
            snapshots += [
                Snapshot(post, metric, str(day.get("date", "")), value)
                for day in days
                for metric, value in numbers(day).items()
            ]
        if len(windows) > 1:
            rows = self._report(list(REPORT_FIELDS), post, first, today)
            if rows is None:
                return Later(state)
            totals = rows[-1] if rows else {}
        snapshots += [Snapshot(post, m, TOTAL, v) for m, v in numbers(totals).items()]
        self.store.save_snapshots(run.id, "crm.report", snapshots)
        return None

    def _report(
        self, fields: list[str], post: str, start: date, end: date
    ) -> list[dict[str, Any]] | None:
        """A report's rows, or ``None`` while it is not ready."""
        answer = self.crm.report(
            [
                ("fields", ",".join(fields)),
                ("post", post),
                ("date", f"ge:{start.isoformat()}"),
                ("date", f"le:{end.isoformat()}"),
            ]
        )
        if not (answer.get("metadata") or {}).get("ready", True):
            return None
        return [row for row in answer.get("result") or [] if isinstance(row, dict)]

    # --- Pushwoosh v2 ------------------------------------------------------------------

    def _pushwoosh_messages(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        snapshots = []
        for item in self.pushwoosh.messages(campaign.message_code):
            sums: Counter[str] = Counter()
            for info in ("push_info", "email_info"):
                for row in (item.get(info) or {}).get("metrics") or []:
                    sums.update({k: v for k, v in numbers(row).items() if k != "platform"})
            subject = f"message:{item.get('code', campaign.message_code)}"
            snapshots += [Snapshot(subject, metric, TOTAL, value) for metric, value in sums.items()]
        self.store.save_snapshots(run.id, "pushwoosh.messages", snapshots)

    def _pushwoosh_totals(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        code = campaign.message_code
        answer = self.pushwoosh.v2(PATHS["totals"], {"message_code": code})
        snapshots, sums = [], Counter()
        for row in answer.get("metrics") or []:
            values = {k: v for k, v in numbers(row).items() if k != "platform"}
            subject = f"platform:{row.get('platform')}"
            when = str(row.get("timestamp", ""))
            snapshots += [Snapshot(subject, metric, when, v) for metric, v in values.items()]
            sums.update(values)
        snapshots += [Snapshot(code, metric, TOTAL, value) for metric, value in sums.items()]
        conversion = answer.get("conversion") or {}
        snapshots += [
            Snapshot(code, f"conversion_{metric}", TOTAL, value)
            for metric, value in numbers(conversion).items()
        ]
        for event in conversion.get("events") or []:
            subject = f"event:{event.get('name')}"
            snapshots += [Snapshot(subject, m, TOTAL, v) for m, v in numbers(event).items()]
        self.store.save_snapshots(run.id, "pushwoosh.totals", snapshots)

    def _pushwoosh_message_log(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        for page in self.pushwoosh.message_log(campaign.message_code):
            self.store.save_log_rows(run.id, "pushwoosh.message_log", page)

    def _pushwoosh_links(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        body = {
            "filters": {"messages_codes": [campaign.message_code]},
            "params": {"with_full_links": False},
        }
        items = self.pushwoosh.v2(PATHS["links"], body).get("items") or []
        snapshots = [
            Snapshot(f"link:{item.get('link')}", "clicks", TOTAL, item.get("clicks") or 0)
            for item in items
        ]
        self.store.save_snapshots(run.id, "pushwoosh.links", snapshots)

    def _pushwoosh_link_devices(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        pages = self.pushwoosh.paged(
            PATHS["link_devices"],
            {"filters": {"messages_codes": [campaign.message_code]}},
            items="items",
            per_page=LINK_DEVICES_PER_PAGE,
        )
        for rows in pages:
            self.store.save_log_rows(run.id, "pushwoosh.link_devices", rows)

    def _pushwoosh_bounces(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        pages = self.pushwoosh.paged(
            PATHS["bounces"],
            {"application": self.pushwoosh.application, "message_code": campaign.message_code},
            items="bounced_emails",
            per_page=BOUNCES_PER_PAGE,
        )
        kinds: Counter[str] = Counter()
        for rows in pages:
            self.store.save_log_rows(run.id, "pushwoosh.bounces", rows)
            kinds.update(str(row.get("type", "unknown")).lower() for row in rows)
        code = campaign.message_code
        snapshots = [Snapshot(code, f"bounces_{kind}", TOTAL, n) for kind, n in kinds.items()]
        self.store.save_snapshots(run.id, "pushwoosh.bounces", snapshots)

    # --- Pushwoosh v1, scheduled ----------------------------------------------------

    def _pushwoosh_msg_stats(
        self, campaign: Campaign, run: CampaignRun, state: dict
    ) -> Later | None:
        if "request_id" not in state:
            return Later(
                {
                    "request_id": self.pushwoosh.schedule(
                        "getMsgStats", message=campaign.message_code
                    )
                }
            )
        result = self.pushwoosh.results(state["request_id"])
        if result is None:
            return Later(state)
        self.store.save_snapshots(
            run.id, "pushwoosh.msg_stats", _series_and_totals(campaign.message_code, result)
        )
        return None

    # --- Altcraft ---------------------------------------------------------------------

    def _altcraft_history(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        sample = self.sends.sample(campaign)
        if not sample:
            return
        period = {"date_from": _first_day(run).isoformat(), "date_to": _today().isoformat()}
        actions: Counter[str] = Counter()
        for email in sample:
            rows = self.altcraft.history(matching="email", email=email, **period)
            self.store.save_log_rows(run.id, "altcraft.history", rows)
            for row in rows:
                actions[str(row.get("action"))] += int(row.get("count") or 1)
        snapshots = [Snapshot("sample", "profiles", TOTAL, len(sample))]
        snapshots += [Snapshot("sample", action, TOTAL, n) for action, n in actions.items()]
        self.store.save_snapshots(run.id, "altcraft.history", snapshots)


def _series_and_totals(subject: str, result: Any) -> Iterable[Snapshot]:
    """A v1 statistics object as a series per action, plus each action's total."""
    totals: Counter[str] = Counter()
    for row in statistics_rows(result):
        action, count = str(row.get("action")), float(row.get("count") or 0)
        totals[action] += count
        yield Snapshot(subject, action, str(row.get("datetime", "")), count)
    for action, count in totals.items():
        yield Snapshot(subject, action, TOTAL, count)


def _first_day(run: CampaignRun) -> date:
    return (run.started_at or run.created_at).astimezone(UTC).date()


def _today() -> date:
    return datetime.now(UTC).date()

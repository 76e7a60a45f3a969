"""Fetching a campaign's statistics from one source and storing them.

Each source named in workers/campaigns/sources.py is one method of
:class:`StatsFetcher`, listed in its ``_sources`` table. A fetch reads
everything the source has for the campaign so far and upserts it, so a later fetch
replaces the numbers of an earlier one, and a fetch cut off half-way (a killed worker)
is simply done again.

A source that is not ready (a report with ``metadata.ready`` false, a scheduled
Pushwoosh v1 request still running) answers :class:`Later` with the state to resume
from; the actor sends itself a delayed message rather than sleeping in a worker thread.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from workers.campaigns.campaign import Campaign
from workers.campaigns.parsing import date_windows, numbers, series_and_totals
from workers.campaigns.sample import RecipientSample
from workers.campaigns.sources import BY_NAME
from workers.campaigns.store import TOTAL, CampaignRun, Snapshot, Store
from workers.campaigns.suppressions import Feedback, SuppressionList
from workers.core.door import Door
from workers.platforms import errors
from workers.platforms.altcraft import AltcraftClient
from workers.platforms.crm import POST_TYPES, CrmClient
from workers.platforms.pushwoosh import (
    BOUNCES_PER_PAGE,
    LINK_DEVICES_PER_PAGE,
    PATHS,
    PushwooshClient,
)
from workers.platforms.unconfigured import Unconfigured

logger = logging.getLogger(__name__)

#: Aggregated report fields hookrelay asks for (docs/platforms.md, "Reports").
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


class StatsFetcher:
    """Parameters: the stats ``store``, one client per platform (a platform that is off
    gets :class:`~workers.platforms.unconfigured.Unconfigured`), the recipient
    ``sample`` the Altcraft history is fetched for, and the ``suppressions`` that the
    reported addresses of the ``feedback_kinds`` go onto (none: they are only stored).
    What names a forgotten person is neither stored nor suppressed under their address
    again (the ``door``, workers/core/door.py)."""

    def __init__(
        self,
        *,
        store: Store,
        crm: CrmClient | Unconfigured,
        pushwoosh: PushwooshClient | Unconfigured,
        altcraft: AltcraftClient | Unconfigured,
        sample: RecipientSample,
        suppressions: SuppressionList | None = None,
        feedback_kinds: frozenset[str] = frozenset(),
        door: Door | None = None,
    ) -> None:
        self.store = store
        self.door = door
        self.crm = crm
        self.pushwoosh = pushwoosh
        self.altcraft = altcraft
        self.sample = sample
        self.suppressions = suppressions
        self.feedback_kinds = feedback_kinds
        self._sources: dict[str, Callable[[Campaign, CampaignRun, dict], Later | None]] = {
            "crm.report": self._fetch_crm_report,
            "pushwoosh.messages": self._fetch_pushwoosh_messages,
            "pushwoosh.totals": self._fetch_pushwoosh_totals,
            "pushwoosh.message_log": self._fetch_pushwoosh_message_log,
            "pushwoosh.links": self._fetch_pushwoosh_links,
            "pushwoosh.link_devices": self._fetch_pushwoosh_link_devices,
            "pushwoosh.bounces": self._fetch_pushwoosh_bounces,
            "pushwoosh.msg_stats": self._fetch_pushwoosh_msg_stats,
            "altcraft.history": self._fetch_altcraft_history,
        }

    def fetch(self, campaign: Campaign, source: str, state: dict | None = None) -> Later | None:
        """Fetch and store one source's numbers; :class:`Later` if not ready yet.

        The campaign's Pushwoosh message code is the run's when the message does not
        carry it; a Pushwoosh source of a campaign without one has nothing to fetch.
        """
        run = self.store.ensure_run(campaign, "external")
        campaign = dataclasses.replace(campaign, message_code=run.message_code)
        if BY_NAME[source].needs_message_code and not campaign.message_code:
            return None
        return self._sources[source](campaign, run, state or {})

    # --- the S2S platform's reports ----------------------------------------------

    def _fetch_crm_report(self, campaign: Campaign, run: CampaignRun, state: dict) -> Later | None:
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
        """A report's rows, or ``None`` while it is not ready.

        The window is one ``date=in:`` filter naming each day: two ``date`` filters
        (``ge:`` and ``le:``) would lose the start with a reader that keeps the last
        value of a repeated parameter, as Django's does (docs/platforms.md)."""
        days = (start + timedelta(days=n) for n in range((end - start).days + 1))
        answer = self.crm.report(
            [
                ("fields", ",".join(fields)),
                ("post", post),
                ("date", "in:" + ",".join(day.isoformat() for day in days)),
            ]
        )
        if not (answer.get("metadata") or {}).get("ready", True):
            return None
        return [row for row in answer.get("result") or [] if isinstance(row, dict)]

    # --- Pushwoosh v2 ------------------------------------------------------------------

    def _fetch_pushwoosh_messages(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        code = _code(campaign)
        snapshots = []
        for item in self.pushwoosh.messages(code):
            sums: Counter[str] = Counter()
            for info in ("push_info", "email_info"):
                for row in (item.get(info) or {}).get("metrics") or []:
                    sums.update({k: v for k, v in numbers(row).items() if k != "platform"})
            subject = f"message:{item.get('code', code)}"
            snapshots += [Snapshot(subject, metric, TOTAL, value) for metric, value in sums.items()]
        self.store.save_snapshots(run.id, "pushwoosh.messages", snapshots)

    def _fetch_pushwoosh_totals(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        code = _code(campaign)
        answer = self.pushwoosh.v2(PATHS["totals"], {"message_code": code})
        snapshots: list[Snapshot] = []
        sums: Counter[str] = Counter()
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

    def _fetch_pushwoosh_message_log(
        self, campaign: Campaign, run: CampaignRun, state: dict
    ) -> None:
        for page in self.pushwoosh.message_log(_code(campaign)):
            self._save_rows(run.id, "pushwoosh.message_log", page)

    def _fetch_pushwoosh_links(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        body = {
            "filters": {"messages_codes": [_code(campaign)]},
            "params": {"with_full_links": False},
        }
        items = self.pushwoosh.v2(PATHS["links"], body).get("items") or []
        snapshots = [
            Snapshot(f"link:{item.get('link')}", "clicks", TOTAL, item.get("clicks") or 0)
            for item in items
        ]
        self.store.save_snapshots(run.id, "pushwoosh.links", snapshots)

    def _fetch_pushwoosh_link_devices(
        self, campaign: Campaign, run: CampaignRun, state: dict
    ) -> None:
        pages = self.pushwoosh.paged(
            PATHS["link_devices"],
            {"filters": {"messages_codes": [_code(campaign)]}},
            items="items",
            per_page=LINK_DEVICES_PER_PAGE,
        )
        for rows in pages:
            self._save_rows(run.id, "pushwoosh.link_devices", rows)

    def _save_rows(self, run_id: int, source: str, rows: list[dict]) -> None:
        door = self.door
        kept = rows if door is None else [row for row in rows if not door.names_forgotten(row)]
        self.store.save_log_rows(run_id, source, kept)

    def _suppress(self, reports: list[Feedback]) -> None:
        """Put the reported addresses of the kinds ``SUPPRESS_FROM_FEEDBACK`` names on
        the suppression list (workers/campaigns/suppressions.py)."""
        if self.door is not None:
            reports = [r for r in reports if not self.door.names_forgotten(r.email)]
        if self.suppressions is not None and self.feedback_kinds:
            added = self.suppressions.from_feedback(reports, self.feedback_kinds)
            if added:
                logger.info("Suppressed %d addresses the platforms reported.", added)

    def _fetch_pushwoosh_bounces(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        pages = self.pushwoosh.paged(
            PATHS["bounces"],
            {"application": self.pushwoosh.application, "message_code": _code(campaign)},
            items="bounced_emails",
            per_page=BOUNCES_PER_PAGE,
        )
        kinds: Counter[str] = Counter()
        for rows in pages:
            self._save_rows(run.id, "pushwoosh.bounces", rows)
            kinds.update(str(row.get("type", "unknown")).lower() for row in rows)
            self._suppress([_bounce(row) for row in rows if isinstance(row, dict)])
        code = _code(campaign)
        snapshots = [Snapshot(code, f"bounces_{kind}", TOTAL, n) for kind, n in kinds.items()]
        self.store.save_snapshots(run.id, "pushwoosh.bounces", snapshots)

    # --- Pushwoosh v1, scheduled ----------------------------------------------------

    def _fetch_pushwoosh_msg_stats(
        self, campaign: Campaign, run: CampaignRun, state: dict
    ) -> Later | None:
        if "request_id" not in state:
            return Later(
                {"request_id": self.pushwoosh.schedule("getMsgStats", message=_code(campaign))}
            )
        result = self.pushwoosh.results(state["request_id"])
        if result is None:
            return Later(state)
        self.store.save_snapshots(
            run.id, "pushwoosh.msg_stats", series_and_totals(_code(campaign), result)
        )
        return None

    # --- Altcraft ---------------------------------------------------------------------

    def _fetch_altcraft_history(self, campaign: Campaign, run: CampaignRun, state: dict) -> None:
        sample = self.sample.members(campaign)
        if not sample:
            return
        period = {"date_from": _first_day(run).isoformat(), "date_to": _today().isoformat()}
        actions: Counter[str] = Counter()
        refused: list[errors.Rejected] = []
        for email in sample:
            try:
                rows = self.altcraft.history(matching="email", email=email, **period)
            except errors.Rejected as error:
                refused.append(error)
                continue
            self._save_rows(run.id, "altcraft.history", rows)
            for row in rows:
                actions[str(row.get("action"))] += int(row.get("count") or 1)
            self._suppress([_history_feedback(row, email) for row in rows if isinstance(row, dict)])
        if refused and len(refused) == len(sample):
            raise refused[-1]
        if refused:
            logger.warning(
                "Altcraft refused the history of %d of %d sampled recipients of %s (%s).",
                len(refused),
                len(sample),
                campaign.key,
                refused[-1],
            )
            actions["unknown_recipients"] = len(refused)
        snapshots = [Snapshot("sample", "profiles", TOTAL, len(sample))]
        snapshots += [Snapshot("sample", action, TOTAL, n) for action, n in actions.items()]
        self.store.save_snapshots(run.id, "altcraft.history", snapshots)


#: Altcraft's history actions that are feedback, as ``SUPPRESS_FROM_FEEDBACK`` kinds.
#: Every action that means "do not send" is an ``unsubscribe``: from the email channel,
#: from all mailings (through the API or by hand), and a send refused because the
#: profile is on the stop list. ``unsubscribe_sms`` and ``unsubscribe_push`` are left
#: out: the suppression list has no channels, and the address is still reachable by
#: email.
ALTCRAFT_FEEDBACK = {
    "hbounce": "hardbounce",
    "complain": "complaint",
    "unsubscribe_email": "unsubscribe",
    "unsub_api": "unsubscribe",
    "unsub_manual": "unsubscribe",
    "suppress": "unsubscribe",
}


def _bounce(row: dict) -> Feedback:
    kind = str(row.get("type", ""))
    return Feedback(
        str(row.get("email") or ""), kind.lower(), f"pushwoosh.bounces: {kind}", row.get("date")
    )


def _history_feedback(row: dict, email: str) -> Feedback:
    action = str(row.get("action", ""))
    return Feedback(
        str(row.get("email") or email),
        ALTCRAFT_FEEDBACK.get(action, ""),
        f"altcraft.history: {action}",
        row.get("datetime"),
    )


def _first_day(run: CampaignRun) -> date:
    return (run.started_at or run.created_at).astimezone(UTC).date()


def _today() -> date:
    return datetime.now(UTC).date()


def _code(campaign: Campaign) -> str:
    """The Pushwoosh message code, which :meth:`StatsFetcher.fetch` made sure of for
    every source that needs one."""
    assert campaign.message_code, "fetch() skips a Pushwoosh source without a code"
    return campaign.message_code

"""``hookrelay events show``: where an event is, and what happened to it on the way;
``hookrelay tail``: every outcome as it happens (workers/trace)."""

from __future__ import annotations

import json

import click

from schemas.events import EVENT_TYPES, PLATFORMS
from workers.core.connections import redis_client
from workers.core.readable import readable_time
from workers.ops.cli.common import settings, store
from workers.queue.routes import DEDUP_PREFIX, DEDUP_TTL_S
from workers.trace.archive import TraceArchive
from workers.trace.reader import TraceReader, unknown_event
from workers.trace.tail import OUTCOMES, Tail


@click.group()
def events() -> None:
    """Look up accepted events."""


@events.command("show", short_help="Show where an event is and its delivery attempts.")
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="As GET /v1/events/<id> answers.")
def events_show(event_id: str, as_json: bool) -> None:
    """Show an event's state, delivery attempts and (a profile update's) batch."""
    given = settings()
    archive = TraceArchive(store(given).engine, given.trace_retention_s)
    reader = TraceReader(
        redis_client(given), archive, dedup_prefix=DEDUP_PREFIX, dedup_ttl_s=DEDUP_TTL_S
    )
    report = reader.show(event_id)
    if report is None:
        raise click.ClickException(unknown_event(event_id, given.trace_retention_s))
    if as_json:
        click.echo(json.dumps(report.asdict(), indent=2))
        return
    click.echo(f"event {report.id} ({report.type or 'type unknown'}): {report.state}")
    click.echo(f"  accepted      {report.accepted_at or '-'}")
    if report.next_attempt_at:
        click.echo(f"  next attempt  {report.next_attempt_at}")
    if report.dead_letter:
        click.echo(
            f"  dead letter   {report.dead_letter} (hookrelay dlq show {report.dead_letter})"
        )
    for moment in report.duplicates:
        click.echo(f"  duplicate     {moment}")
    _attempts(report.attempts)
    if report.batch is not None:
        batch = report.batch
        if batch["id"] is None:
            click.echo("  batch         none: the platform already had all it said")
            return
        waits = " (its profile was in this batch: the update goes in its retry, or the next)"
        click.echo(f"  batch         {batch['id']}: {batch['state']}{waits * batch['behind']}")
        _attempts(batch["attempts"])


def _attempts(attempts: list[dict]) -> None:
    for attempt in attempts:
        parts = [
            attempt["at"],
            attempt.get("platform", "-"),
            attempt["outcome"],
            str(attempt.get("status") or attempt.get("error") or ""),
        ]
        if "wait_ms" in attempt:
            parts.append(f"rate-limit wait {attempt['wait_ms']} ms")
        if attempt.get("reason"):
            parts.append(attempt["reason"])
        click.echo("    " + "  ".join(part for part in parts if part))


@click.command(short_help="Follow every outcome as it happens.")
@click.option("--platform", type=click.Choice(PLATFORMS), help="Only this platform's.")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only this outcome.")
@click.option("--type", "event_type", type=click.Choice(EVENT_TYPES), help="Only this type.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many.")
def tail(
    platform: str | None, outcome: str | None, event_type: str | None, limit: int | None
) -> None:
    """Print each outcome from now on (accepted, delivered, retried, dead-lettered):
    when, what, the event's type and id, and for a delivery attempt the platform, its
    status and the time since acceptance. Ctrl-C stops."""
    follow = Tail(redis_client(settings())).follow(
        platform=platform, outcome=outcome, event_type=event_type
    )
    click.echo("Following outcomes (Ctrl-C stops).", err=True)
    shown = 0
    for item in follow:
        if item is None:
            continue
        click.echo(_outcome_line(item))
        shown += 1
        if limit is not None and shown >= limit:
            return


def _outcome_line(item: dict) -> str:
    parts = [
        readable_time(int(item["at"]) / 1000),
        item["outcome"],
        item.get("type", "-"),
        item.get("event_id", "-"),
    ]
    if "platform" in item:
        parts.append(f"{item['platform']} {item.get('status', '-')}")
    if "latency_ms" in item:
        parts.append(f"{item['latency_ms'] / 1000:.1f} s after acceptance")
    return "  ".join(map(str, parts))

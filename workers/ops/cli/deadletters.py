"""``hookrelay dlq``: the dead-letter queue (workers/queue/deadletters.py)."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

import click

from schemas.events import PLATFORMS
from workers.campaigns.schema import current_store
from workers.core.connections import redis_client
from workers.core.readable import readable_time
from workers.core.settings import ConfigError
from workers.ops.cli.common import settings
from workers.queue.archive import DeadLetterArchive
from workers.queue.deadletters import DeadLetterQueue, Selection

#: What ``--since`` and ``--until`` take, read as UTC.
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


@click.group()
def dlq() -> None:
    """Inspect, replay and purge the dead-letter queue."""


@dlq.command("list")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
def dlq_list(limit: int) -> None:
    """List dead letters: id, when, actor, event, attempts, reason."""
    dead_letters = _dead_letters()
    letters = dead_letters.newest(limit=limit)
    click.echo(f"{dead_letters.count()} dead letter(s)")
    for letter in letters:
        when = readable_time(letter.failed_at)
        click.echo(
            f"{letter.id}  {when}  {letter.actor}  {letter.event_id or '-'}  "
            f"attempts={letter.attempts}  {letter.reason[:120]}"
        )


@dlq.command("show")
@click.argument("letter_id")
def dlq_show(letter_id: str) -> None:
    """Print one dead letter in full, with its message."""
    letter = _dead_letters().show(letter_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id}")
    shown = {**letter.__dict__, "failed_at": readable_time(letter.failed_at)}
    click.echo(json.dumps(shown, indent=2, default=str))


@dlq.command("replay", short_help="Replay one dead letter, all, or those filters select.")
@click.argument("letter_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@click.option("--platform", type=click.Choice(PLATFORMS), help="Only this platform's.")
@click.option(
    "--actor",
    help="Only this actor's (crm_post_event, crm_upsert_batch, crm_upsert_profiles, ...).",
)
@click.option("--reason", help="Only those whose reason contains this (any case).")
@click.option("--status", type=int, help="Only those the platform answered with this status.")
@click.option("--since", type=click.DateTime(DATE_FORMATS), help="Failed at or after (UTC).")
@click.option("--until", type=click.DateTime(DATE_FORMATS), help="Failed before (UTC).")
@click.option(
    "--ids-from",
    type=click.File(),
    help="Only the letter or event ids listed in this file, one per line ('-': stdin).",
)
@click.option("--dry-run", is_flag=True, help="Say how many would go, replay nothing.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=100.0,
    show_default=True,
    help="Letters replayed per second, at most.",
)
def dlq_replay(
    letter_id: str | None, replay_all: bool, dry_run: bool, rate: float, **given: Any
) -> None:
    """Re-enqueue one dead letter (by id), all of them (--all), or those the filters
    select; each moves in one atomic step."""
    selection = _selection(**given)
    chosen = sum(bool(x) for x in (letter_id, replay_all, selection is not None))
    if chosen != 1:
        raise click.UsageError("give a dead letter id, --all, or filters (one of the three)")
    dead_letters = _dead_letters()
    if letter_id:
        if not dead_letters.replay(letter_id):
            raise click.ClickException(f"no dead letter {letter_id}")
        click.echo("replayed 1")
        return
    ids = dead_letters.select(selection or Selection())
    if dry_run:
        click.echo(f"would replay {len(ids)}")
        return
    replayed = 0
    with click.progressbar(ids, label="replaying", file=sys.stderr) as letters:
        for letter in letters:
            started = time.monotonic()
            replayed += dead_letters.replay(letter)
            time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
    click.echo(f"replayed {replayed}")


def _selection(*, ids_from: IO[str] | None, **criteria: Any) -> Selection | None:
    """The filters given, or ``None`` when there are none."""
    ids = None if ids_from is None else [line.strip() for line in ids_from if line.strip()]
    selection = Selection.of(ids=ids, **criteria)
    return selection if selection.narrowed or ids is not None else None


@dlq.command("purge")
@click.confirmation_option(prompt="Delete every dead letter for good?")
def dlq_purge() -> None:
    """Delete every dead letter."""
    click.echo(f"purged {_dead_letters().purge()}")


def _dead_letters() -> DeadLetterQueue:
    """The queue in Redis and, past its cap, in the SQL store (whose schema must be
    current: ``hookrelay migrate`` first)."""
    loaded = settings()
    try:
        store = current_store(loaded.database_url)
    except ConfigError as error:
        raise click.ClickException(error.report()) from None
    return DeadLetterQueue(
        redis_client(loaded),
        overflow=DeadLetterArchive(store.engine),
        redis_cap=loaded.dlq_redis_max,
    )

"""``hookrelay dlq``: the dead-letter queue (workers/queue/deadletters.py)."""

from __future__ import annotations

import json

import click

from workers.campaigns.schema import current_store
from workers.core.connections import redis_client
from workers.core.readable import readable_time
from workers.core.settings import ConfigError
from workers.ops.cli.common import settings
from workers.queue.archive import DeadLetterArchive
from workers.queue.deadletters import DeadLetterQueue


@click.group()
def dlq() -> None:
    """Inspect, replay and purge the dead-letter queue."""


@dlq.command("list")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
def dlq_list(limit: int) -> None:
    """List dead letters: id, when, actor, event, attempts, reason."""
    dead_letters = _dead_letters()
    letters = dead_letters.list(limit=limit)
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


@dlq.command("replay")
@click.argument("letter_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
def dlq_replay(letter_id: str | None, replay_all: bool) -> None:
    """Re-enqueue one dead letter (by id) or all of them (--all)."""
    if bool(letter_id) == replay_all:
        raise click.UsageError("give either a dead letter id or --all")
    dead_letters = _dead_letters()
    if replay_all:
        click.echo(f"replayed {dead_letters.replay_all()}")
    elif dead_letters.replay(letter_id):
        click.echo("replayed 1")
    else:
        raise click.ClickException(f"no dead letter {letter_id}")


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

"""``hookrelay send``: post events to the receiver (workers/ops/receiver_client.py)."""

from __future__ import annotations

import sys
from typing import TextIO

import click

from schemas.events import MAX_BATCH
from workers.ops.cli.common import api_key, receiver_url, settings
from workers.ops.receiver_client import (
    Item,
    PostError,
    ReceiverClient,
    Tally,
    batches,
    read_events,
    sample_events,
)

#: Refused events listed one per line; past this, only how many more.
SHOWN_PROBLEMS = 20


@click.command(short_help="Post events from a file, or a sample.")
@click.argument("file", type=click.File("r"), required=False)
@click.option(
    "--url",
    envvar="HOOKRELAY_URL",
    help="The receiver (env HOOKRELAY_URL). Default: http://127.0.0.1:$PORT.",
)
@click.option("--key", help="API key. Default: the first of HOOKRELAY_API_KEYS, or make run's.")
@click.option(
    "--batch", default=500, show_default=True, type=click.IntRange(1, MAX_BATCH), help="Per post."
)
def send(file: TextIO | None, url: str | None, key: str | None, batch: int) -> None:
    """Post events to the receiver: those in FILE (a JSON array, {"events": [...]}, or one
    event per line; - for stdin) with a progress bar, or a sample profile and event.

    Busy answers (429, 503) and network errors are retried with the same event ids, so
    nothing is accepted twice. An event the receiver refuses is reported with its line
    in FILE and the others are sent; exits 1 if any event was refused.
    """
    given = settings()
    if file is None:
        items = sample_events()
    else:
        try:
            items = read_events(file)
        except ValueError as error:
            message = f"{file.name} is neither JSON nor JSON lines: {error}"
            raise click.ClickException(message) from None
    secret = given.signing_secrets[0] if given.signing_secrets else None
    receiver = ReceiverClient(receiver_url(given, url), api_key(given, key), signing_secret=secret)
    tally = Tally()
    try:
        with click.progressbar(length=len(items), label="sending", hidden=not file) as bar:
            for chunk in batches(items, batch):
                receiver.post(chunk, tally)
                bar.update(len(chunk))
    except PostError as error:
        raise click.ClickException(str(error)) from None
    finally:
        receiver.close()
    _report(items, tally, listed=file is None)


def _report(items: list[Item], tally: Tally, *, listed: bool) -> None:
    """The refused events (the first :data:`SHOWN_PROBLEMS`), what was sent, the totals."""
    for problem in tally.problems[:SHOWN_PROBLEMS]:
        click.echo(problem, err=True)
    if len(tally.problems) > SHOWN_PROBLEMS:
        click.echo(f"… and {len(tally.problems) - SHOWN_PROBLEMS} more refused", err=True)
    if listed:
        click.echo(f"sent: {', '.join(item.event['id'] for item in items)}")
    click.echo(
        f"{len(items)} event(s): {tally.accepted} accepted, {tally.duplicates} duplicate(s), "
        f"{tally.rejected} refused"
    )
    if tally.rejected:
        sys.exit(1)

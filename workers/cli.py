"""The ``hookrelay`` command."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

import click

from schemas.events import CAMPAIGN_KINDS, MAX_BATCH, STARTABLE_PLATFORMS

from . import devstack
from .broker import redis_client
from .deadletters import DeadLetterQueue
from .doctor import FAIL, OK, WARN, diagnose
from .metricsdir import prepare_directory
from .platforms.crm import CrmClient
from .platforms.errors import PlatformError
from .ratelimit import platform_limiter
from .sender import Sender, SendError, Tally, batches, read_events, sample_events
from .settings import VAR_DIR, ConfigError, Settings, load_settings
from .store import Store


@click.group()
def main() -> None:
    """hookrelay: relay application events to marketing platforms."""


@main.command()
def dev() -> None:
    """Run everything locally: embedded Redis, the sandbox, web and worker."""
    try:
        sys.exit(devstack.run())
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None


@main.command()
def web() -> None:
    """Run the receiver (the Procfile's web): gunicorn serving webhook:create_app(),
    sized by WEB_CONCURRENCY and WEB_THREADS, listening on PORT."""
    prepare_directory(VAR_DIR / "metrics", "web")
    config = ["--config", "python:webhook.gunicorn_conf", "webhook:create_app()"]
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", *config])


@main.command()
@click.option(
    "--processes",
    envvar="WORKER_PROCESSES",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes (env WORKER_PROCESSES).",
)
@click.option(
    "--threads",
    envvar="WORKER_THREADS",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Threads per process (env WORKER_THREADS).",
)
def worker(processes: int, threads: int) -> None:
    """Run the workers (the Procfile's worker): Dramatiq with hookrelay's actors, and
    this group's metrics on METRICS_PORT (0: none)."""
    try:
        settings = load_settings()
    except ConfigError as error:
        click.echo(f"hookrelay worker: configuration error: {error}", err=True)
        sys.exit(2)
    prepare_directory(VAR_DIR / "metrics", "worker")
    argv = [sys.executable, "-m", "dramatiq", "workers.app"]
    argv += ["--processes", str(processes), "--threads", str(threads)]
    if settings.metrics_port:
        argv += ["--fork-function", "workers.metrics:serve"]
    if settings.log_level <= logging.DEBUG:
        argv.append("--verbose")
    os.execv(sys.executable, argv)


@main.command()
def doctor() -> None:
    """Check the configuration, Redis, the store and each platform's credentials (one
    harmless read each); exit 1 if anything must be fixed."""
    failures = 0
    for finding in diagnose():
        colour = {OK: "green", WARN: "yellow", FAIL: "red"}[finding.level]
        level = click.style(f"{finding.level:<4}", fg=colour)
        click.echo(f"{level}  {finding.subject:<13}  {finding.text}")
        failures += finding.level == FAIL
    if failures:
        click.echo(f"{failures} problem(s) to fix.")
        sys.exit(1)
    click.echo("All set.")


@main.command()
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
def send(file, url: str | None, key: str | None, batch: int) -> None:
    """Post events to the receiver: those in FILE (a JSON array, {"events": [...]}, or one
    event per line; - for stdin) with a progress bar, or a sample profile and event.

    Busy answers (429, 503) and network errors are retried with the same event ids, so
    nothing is accepted twice. Exits 1 if any event was refused.
    """
    settings = _settings()
    key = key or (settings.api_keys[0] if settings.api_keys else _dev_key())
    try:
        events = read_events(file) if file else sample_events()
    except ValueError as error:
        raise click.ClickException(f"{file.name} is neither JSON nor JSON lines: {error}") from None
    sender = Sender(
        url or f"http://127.0.0.1:{settings.port}", key, signing_secret=settings.signing_secret
    )
    tally = Tally()
    try:
        with click.progressbar(length=len(events), label="sending", hidden=not file) as bar:
            for chunk, body in batches(events, batch):
                sender.post(chunk, body, tally)
                bar.update(len(chunk))
    except SendError as error:
        raise click.ClickException(str(error)) from None
    finally:
        sender.close()
    for problem in tally.problems:
        click.echo(problem, err=True)
    click.echo(
        f"{len(events)} event(s): {tally.accepted} accepted, {tally.duplicates} duplicate(s), "
        f"{tally.rejected} refused"
    )
    if tally.rejected:
        sys.exit(1)


def _dev_key() -> str:
    path = devstack.dev_key_path(VAR_DIR)
    if not path.exists():
        raise click.ClickException("no API key: give --key or set HOOKRELAY_API_KEYS")
    return path.read_text().strip()


@main.group()
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
        when = datetime.fromtimestamp(letter.failed_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
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
    click.echo(json.dumps(letter.__dict__, indent=2, default=str))


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


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None


def _dead_letters() -> DeadLetterQueue:
    return DeadLetterQueue(redis_client(_settings().broker_url))


@main.command()
@click.argument("platform")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print what the API answers instead.")
def stats(platform: str, campaign_id: int, as_json: bool) -> None:
    """Print a campaign's latest totals and time series, source by source."""
    summary = _store().summary(platform, campaign_id)
    if summary is None:
        raise click.ClickException(f"no statistics for {platform} campaign {campaign_id} yet")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    campaign = summary["campaign"]
    click.echo(
        f"{platform} campaign {campaign_id} ({campaign['kind']}, {campaign['state']}), "
        f"fetched {summary['fetched_at'] or 'never'}"
    )
    rows = [
        (source, subject, metric, "total", value)
        for source, subjects in summary["totals"].items()
        for subject, metrics in subjects.items()
        for metric, value in metrics.items()
    ]
    rows += [
        (source, subject, metric, interval, value)
        for source, subjects in summary["series"].items()
        for subject, metrics in subjects.items()
        for metric, points in metrics.items()
        for interval, value in points
    ]
    _table(("source", "subject", "metric", "interval", "value"), rows)
    for source, count in summary["log_rows"].items():
        click.echo(f"{source}: {count} raw rows")


@main.group()
def campaign() -> None:
    """List followed campaigns; pause, resume or archive one on its platform."""


@campaign.command("list")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
def campaign_list(limit: int) -> None:
    """Campaigns hookrelay started or follows, newest first."""
    runs = _store().runs(limit)
    _table(
        ("platform", "id", "kind", "state", "created", "started"),
        [
            (
                r.platform,
                r.campaign_id,
                r.kind,
                r.state,
                f"{r.created_at:%F %T}",
                r.started_at or "-",
            )
            for r in runs
        ],
    )


def _campaign_action(action: str):
    @click.argument("platform", type=click.Choice(STARTABLE_PLATFORMS))
    @click.argument("campaign_id", type=int)
    @click.option("--kind", type=click.Choice(CAMPAIGN_KINDS), help="Default: as started.")
    def command(platform: str, campaign_id: int, kind: str | None) -> None:
        settings = _settings()
        run = _store(settings).run(platform, campaign_id)
        kind = kind or (run.kind if run else "mailing")
        limiter = platform_limiter(redis_client(settings.redis_url), settings, platform)
        try:
            CrmClient(settings.crm, limiter=limiter).campaign_action(kind, campaign_id, action)
        except PlatformError as error:
            raise click.ClickException(f"{action} failed: {error}") from None
        click.echo(f"{action}: done ({platform} {kind} campaign {campaign_id})")

    command.__doc__ = f"{action.capitalize()} a campaign on its platform, now."
    return campaign.command(action)(command)


for _action in ("pause", "resume", "archive"):
    _campaign_action(_action)


def _table(header: tuple[str, ...], rows: list[tuple]) -> None:
    cells = [tuple(map(str, header)), *(tuple(map(str, row)) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _store(settings: Settings | None = None) -> Store:
    return Store((settings or _settings()).database_url)

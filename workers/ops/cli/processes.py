"""``hookrelay dev|web|worker|migrate|doctor``: run, prepare and check a deployment."""

from __future__ import annotations

import os
import sys

import click
import redis

from workers.campaigns.schema import migrate as migrate_schema
from workers.core.connections import embedded_redis_absent, redis_client
from workers.core.settings import VAR_DIR, ConfigError, load_settings
from workers.metrics.multiprocess import prepare_directory
from workers.ops import devstack
from workers.ops.cli.common import settings
from workers.ops.doctor import FAIL, OK, WARN, diagnose
from workers.ops.embedded_redis import EmbeddedRedisError
from workers.ops.rekey import rekey_identities


@click.command(short_help="Run everything locally (what make run runs).")
@click.option(
    "--sandbox",
    envvar="SANDBOX_PLATFORMS",
    metavar="PLATFORMS",
    help="Comma-separated platforms the sandbox plays, or 'none' (env SANDBOX_PLATFORMS). "
    "Default: every platform not configured.",
)
def dev(sandbox: str | None) -> None:
    """Run everything locally: embedded Redis, the sandbox for the platforms not
    configured, web and worker."""
    chosen = None if sandbox is None else [p.strip() for p in sandbox.split(",") if p.strip()]
    try:
        sys.exit(devstack.run(sandbox=[] if chosen == ["none"] else chosen))
    except ConfigError as error:
        raise click.ClickException(error.report()) from None
    except (
        devstack.AlreadyRunning,
        devstack.LocalExtraMissing,
        EmbeddedRedisError,
        ValueError,
    ) as error:
        raise click.ClickException(str(error)) from None


@click.command(short_help="Run the receiver (the Procfile's web).")
def web() -> None:
    """Run the receiver (the Procfile's web): gunicorn serving webhook.app:create_app(),
    sized by WEB_CONCURRENCY, listening on PORT."""
    prepare_directory(VAR_DIR / "metrics", "web")
    config = ["--config", "python:webhook.gunicorn_conf", "webhook.app:create_app()"]
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", *config])


@click.command(short_help="Run the workers (the Procfile's worker).")
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
        given = load_settings()
    except ConfigError as error:
        click.echo(error.report("hookrelay worker"), err=True)
        sys.exit(2)
    prepare_directory(VAR_DIR / "metrics", "worker")
    # Dramatiq's consumers wait this long (3 s by default) before they try a lost
    # broker again, and a stop waits for that pause to end: a second keeps Ctrl-C quick.
    os.environ.setdefault("dramatiq_restart_delay", "1000")
    argv = [sys.executable, "-m", "workers.main", "workers.app", "--skip-logging"]
    argv += ["--processes", str(processes), "--threads", str(threads)]
    if given.metrics_port:
        argv += ["--fork-function", "workers.metrics.exposition:serve"]
    os.execv(sys.executable, argv)


@click.command(short_help="Upgrade the store (the release step).")
def migrate() -> None:
    """Upgrade the stats store's schema and re-key what Redis keeps per identity into
    its normal form (the Procfile's release step); run it once per release, before the
    new web and worker."""
    given = settings()
    try:
        before, after = migrate_schema(given.database_url)
    except ConfigError as error:
        raise click.ClickException(error.report()) from None
    if before == after:
        click.echo(f"store schema already at {after}")
    else:
        click.echo(f"store schema upgraded: {before or 'empty'} -> {after}")
    if embedded_redis_absent(given):
        return
    try:
        for what, moved in rekey_identities(redis_client(given)):
            if moved:
                click.echo(f"redis: re-keyed {moved} of {what} to the identity normal form")
    except redis.RedisError as error:
        raise click.ClickException(f"cannot reach Redis to re-key identities: {error}") from None


@click.command(short_help="Check settings, Redis, store and platforms.")
def doctor() -> None:
    """Check the configuration, Redis, the store and each platform's credentials (one
    harmless read each); exit 1 if anything must be fixed."""
    failures = 0
    for finding in diagnose(devstack.cli_environ()):
        colour = {OK: "green", WARN: "yellow", FAIL: "red"}[finding.level]
        level = click.style(f"{finding.level:<4}", fg=colour)
        click.echo(f"{level}  {finding.subject:<13}  {finding.text}")
        failures += finding.level == FAIL
    if failures:
        click.echo(f"{failures} problem(s) to fix.")
        sys.exit(1)
    click.echo("All set.")

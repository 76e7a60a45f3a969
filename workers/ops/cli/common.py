"""What the ``hookrelay`` commands share: settings, the store, tables."""

from __future__ import annotations

import click

from workers.campaigns.store import Store
from workers.core.settings import VAR_DIR, ConfigError, Settings, load_settings
from workers.ops import devstack
from workers.ops.devstack import cli_environ


def settings() -> Settings:
    """The settings (with those of a ``make run`` running in this folder under the
    environment's), or a click error listing every bad one."""
    try:
        return load_settings(cli_environ())
    except ConfigError as error:
        raise click.ClickException(error.report()) from None


def store(given: Settings | None = None) -> Store:
    return Store((given or settings()).database_url)


def table(header: tuple[str, ...], rows: list[tuple]) -> None:
    cells = [tuple(map(str, header)), *(tuple(map(str, row)) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def receiver_url(given: Settings, url: str | None) -> str:
    """The receiver the commands that post to it call: ``--url``, else this host's."""
    return url or f"http://127.0.0.1:{given.port}"


def api_key(given: Settings, key: str | None) -> str:
    """``--key``, else the first of ``HOOKRELAY_API_KEYS``, else ``make run``'s."""
    if key or given.api_keys:
        return key or given.api_keys[0]
    path = devstack.dev_key_path(VAR_DIR)
    if not path.exists():
        raise click.ClickException("no API key: give --key or set HOOKRELAY_API_KEYS")
    return path.read_text().strip()

"""What the ``hookrelay`` commands share: settings, the store, tables."""

from __future__ import annotations

import click

from workers.campaigns.store import Store
from workers.core.settings import ConfigError, Settings, load_settings
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

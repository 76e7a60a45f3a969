"""The ``hookrelay`` command."""

from __future__ import annotations

import sys

import click

from .settings import ConfigError


@click.group()
def main() -> None:
    """hookrelay: relay application events to marketing platforms."""


@main.command()
def dev() -> None:
    """Run everything locally: embedded Redis, the sandbox, web and worker."""
    from . import devstack

    try:
        sys.exit(devstack.run())
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None

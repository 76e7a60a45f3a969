"""The ``hookrelay`` command: one group, its commands in the modules beside this one."""

from __future__ import annotations

import click

from workers.ops.cli import (
    campaigns,
    deadletters,
    events,
    forget,
    platform_campaigns,
    processes,
    sending,
)


@click.group()
def main() -> None:
    """hookrelay: relay application events to marketing platforms."""


for command in (
    processes.dev,
    processes.web,
    processes.worker,
    processes.migrate,
    processes.doctor,
    sending.send,
    deadletters.dlq,
    forget.forget,
    events.events,
    events.tail,
    campaigns.stats,
    campaigns.campaign,
    platform_campaigns.segment,
):
    main.add_command(command)

"""``hookrelay forget``: erase one person (workers/erasure/), as
``POST /v1/users/forget`` does."""

from __future__ import annotations

import json
import time

import click

from schemas.identities import named_key
from workers.core.connections import redis_client
from workers.core.door import Door
from workers.core.replication import Replication
from workers.erasure.requests import ForgetRequests
from workers.ops.cli.common import settings

#: How often ``--wait`` reads the request.
POLL_S = 0.5


@click.command()
@click.argument("identifiers", nargs=-1, required=True)
@click.option("--suppress", is_flag=True, help="Keep dropping this person's later events.")
@click.option("--wait", "wait_s", type=float, default=0, help="Wait this long for it to be done.")
def forget(identifiers: tuple[str, ...], suppress: bool, wait_s: float) -> None:
    """Erase one person from every store.

    IDENTIFIERS are theirs: email:a@example.com, phone:79160000001, uid:42,
    wp_token:<token>, or a bare address. Prints the request's id, and with --wait what
    it erased once a worker is done."""
    keys = sorted({_key(text) for text in identifiers})
    loaded = settings()
    client = redis_client(loaded)
    replication = Replication.from_settings(loaded)
    requests = ForgetRequests(client, Door(client, loaded.suppression_key), replication)
    request_id = requests.submit(keys, suppress=suppress)
    click.echo(request_id)
    deadline = time.monotonic() + wait_s
    while wait_s and time.monotonic() < deadline:
        found = requests.read(request_id)
        if found and found["state"] == "done":
            click.echo(json.dumps(found, indent=2))
            return
        time.sleep(POLL_S)
    if wait_s:
        raise click.ClickException(f"Not done after {wait_s:g} s: is a worker running?")


def _key(text: str) -> str:
    key = named_key(text)
    if key is None:
        raise click.BadParameter(f"{text!r} names no identifier (e.g. uid:42).")
    return key

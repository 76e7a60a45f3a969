"""``hookrelay campaign create|rewrite|show``, ``list --kind`` and ``hookrelay
segment``: the S2S platform's campaigns and segments through the receiver's API
(``/v1/campaigns/crm``, ``/v1/segments/crm``), which validates them, wires campaigns'
hooks and answers with the platform's answer."""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click
import httpx

from schemas.events import CAMPAIGN_KINDS
from workers.ops.cli.common import api_key, receiver_url, settings

#: A request to the receiver, as these commands make it (an admin call retries a busy
#: platform for up to 5 s before it answers).
TIMEOUT_S = 30.0
FILES = {"csv": "source_uploaded_csv", "additional": "additional_source_file"}


def receiver_options(command: Callable[..., Any]) -> Callable[..., Any]:
    url = click.option("--url", envvar="HOOKRELAY_URL", help="The receiver (env HOOKRELAY_URL).")
    key = click.option("--key", help="API key. Default: the first of HOOKRELAY_API_KEYS.")
    return url(key(command))


def file_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option, field in FILES.items():
        command = click.option(
            f"--{option}",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=f"A file sent as {field} (a data URL).",
        )(command)
    return command


@click.command("create", short_help="Create a campaign on the platform, hooks wired.")
@click.argument("file", type=click.File("r"))
@file_options
@receiver_options
def create(file: TextIO, url: str | None, key: str | None, **files: Path | None) -> None:
    """Create a campaign from FILE (JSON: its kind and the platform's fields), its hooks
    wired to this receiver; print the platform's answer."""
    _echo(_call("POST", "/v1/campaigns/crm", url, key, _body(file, files)))


@click.command("rewrite", short_help="Rewrite a campaign on the platform.")
@click.argument("campaign_id", type=int)
@click.argument("file", type=click.File("r"))
@file_options
@receiver_options
def rewrite(
    campaign_id: int, file: TextIO, url: str | None, key: str | None, **files: Path | None
) -> None:
    """Rewrite campaign CAMPAIGN_ID from FILE, its hooks kept wired."""
    _echo(_call("PUT", f"/v1/campaigns/crm/{campaign_id}", url, key, _body(file, files)))


@click.command("show", short_help="Print a campaign as the platform has it.")
@click.argument("kind", type=click.Choice(CAMPAIGN_KINDS))
@click.argument("campaign_id", type=int)
@receiver_options
def show(kind: str, campaign_id: int, url: str | None, key: str | None) -> None:
    """Print a campaign as the platform has it."""
    _echo(_call("GET", f"/v1/campaigns/crm/{campaign_id}?kind={kind}", url, key))


def platform_list(kind: str, url: str | None, key: str | None) -> None:
    """Print the platform's campaigns of KIND."""
    _echo(_call("GET", f"/v1/campaigns/crm?kind={kind}", url, key))


def _body(file: TextIO, files: dict[str, Path | None]) -> dict[str, Any]:
    try:
        body = json.load(file)
    except ValueError as error:
        raise click.ClickException(f"{file.name} is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise click.ClickException(f"{file.name} must hold one JSON object")
    for option, path in files.items():
        if path is not None:
            body[FILES[option]] = _data_url(path)
    return body


def _data_url(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _call(method: str, path: str, url: str | None, key: str | None, body: Any = None) -> Any:
    given = settings()
    headers = {"Authorization": f"Bearer {api_key(given, key)}"}
    try:
        answer = httpx.request(
            method, receiver_url(given, url) + path, json=body, headers=headers, timeout=TIMEOUT_S
        )
    except httpx.HTTPError as error:
        raise click.ClickException(f"the receiver did not answer: {error}") from None
    if answer.status_code >= 400:
        raise click.ClickException(f"{answer.status_code}: {answer.text.strip()}")
    return answer.json()


def _echo(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


#: The commands added to ``hookrelay campaign``.
COMMANDS = (create, rewrite, show)


@click.group(short_help="Create, change, read, list and generate the platform's segments.")
def segment() -> None:
    """The S2S platform's segments, through the receiver."""


@segment.command("create", short_help="Create a segment from a JSON file.")
@click.argument("file", type=click.File("r"))
@receiver_options
def segment_create(file: TextIO, url: str | None, key: str | None) -> None:
    """Create a segment from FILE (JSON: name, condition, and tags, segment_limit)."""
    _echo(_call("POST", "/v1/segments/crm", url, key, _body(file, {})))


@segment.command("rewrite", short_help="Rewrite a segment from a JSON file.")
@click.argument("segment_id", type=int)
@click.argument("file", type=click.File("r"))
@click.option("--partial", is_flag=True, help="Change only the fields FILE gives (PATCH).")
@receiver_options
def segment_rewrite(
    segment_id: int, file: TextIO, partial: bool, url: str | None, key: str | None
) -> None:
    """Rewrite segment SEGMENT_ID from FILE, or with --partial edit some of its fields."""
    method = "PATCH" if partial else "PUT"
    _echo(_call(method, f"/v1/segments/crm/{segment_id}", url, key, _body(file, {})))


@segment.command("show", short_help="Print a segment as the platform has it.")
@click.argument("segment_id", type=int)
@receiver_options
def segment_show(segment_id: int, url: str | None, key: str | None) -> None:
    """Print segment SEGMENT_ID as the platform has it."""
    _echo(_call("GET", f"/v1/segments/crm/{segment_id}", url, key))


@segment.command("list", short_help="Print the platform's segments.")
@receiver_options
def segment_list(url: str | None, key: str | None) -> None:
    """Print the platform's segments."""
    _echo(_call("GET", "/v1/segments/crm", url, key))


@segment.command("generate", short_help="Start a segment's generation.")
@click.argument("segment_id", type=int)
@receiver_options
def segment_generate(segment_id: int, url: str | None, key: str | None) -> None:
    """Start the generation of segment SEGMENT_ID on the platform."""
    _echo(_call("POST", f"/v1/segments/crm/{segment_id}/generate", url, key))

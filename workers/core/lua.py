"""Lua scripts live as files beside the Python that runs them; a fact several scripts
share (the clock, Dramatiq's message layout) is written once as a snippet and put in
front of each script that needs it when the script is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from redis.commands.core import Script


def read(package: str, filename: str) -> str:
    """The text of ``filename`` in ``package`` (the caller's ``__package__``)."""
    return files(package).joinpath(filename).read_text()


def source(package: str, filename: str, *snippets: str) -> str:
    """A script with ``snippets`` (e.g. :data:`CLOCK`) put before its own text."""
    return "\n".join([*snippets, read(package, filename)])


#: The first line of a script the workers need to drain a full Redis (see
#: :func:`draining`).
ALLOW_OOM = "#!lua flags=allow-oom\n"


def draining(script: str) -> str:
    """``script``, allowed to run while Redis is above its ``maxmemory``.

    With ``noeviction``, a Redis above ``maxmemory`` refuses every script that may write,
    and a worker's fetch, acknowledgement and retry are all scripts: a Redis that
    filled up (a burst past the receiver's high-water mark, retries piling up during an
    outage) would then never drain, since draining is what frees memory. So the scripts
    that move messages along (fetch, ack, retry, defer, promote, reclaim, heartbeat,
    rate-limit stamps) run regardless: they free at least about what they write, or
    write a few bytes. Scripts that grow Redis (the receiver's enqueue, profile
    flushes, which save states) are still refused until it is below ``maxmemory``.
    """
    return ALLOW_OOM + script


def constants(**values: str | int) -> str:
    """A snippet that defines each of ``values`` as a Lua local, for a script whose key
    prefixes and bounds are fixed when it loads: it is then passed only what varies."""
    lines = []
    for name, value in values.items():
        literal = str(value)
        if isinstance(value, str):
            if not (value.isascii() and value.isprintable()) or set(value) & {'"', "\\"}:
                raise ValueError(f"{name}: not a plain string: {value!r}")
            literal = f'"{value}"'
        lines.append(f"local {name} = {literal}")
    return "\n".join(lines)


#: ``now_ms()``: Redis's own clock in milliseconds, the same for every process.
CLOCK = read(__package__, "clock.lua")


@dataclass(frozen=True)
class ScriptCall:
    """One call of a registered script, to run with others
    (:func:`workers.core.roundtrip.run_together`)."""

    script: Script
    keys: list[str]
    args: list[Any]

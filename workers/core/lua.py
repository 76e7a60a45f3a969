"""Lua scripts live as files beside the Python that runs them; a fact several scripts
share (the clock, Dramatiq's message layout) is written once as a snippet and put in
front of each script that needs it when the script is loaded."""

from __future__ import annotations

from importlib.resources import files


def read(package: str, filename: str) -> str:
    """The text of ``filename`` in ``package`` (the caller's ``__package__``)."""
    return files(package).joinpath(filename).read_text()


def source(package: str, filename: str, *snippets: str) -> str:
    """A script with ``snippets`` (e.g. :data:`CLOCK`) put before its own text."""
    return "\n".join([*snippets, read(package, filename)])


#: ``now_ms()``: Redis's own clock in milliseconds, the same for every process.
CLOCK = read(__package__, "clock.lua")

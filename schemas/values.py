"""Values no platform can be sent, found anywhere in a parsed JSON body.

JSON lets a client write what no HTTP client can encode again: a number too large for
a double (``1e400`` parses as infinity) or a lone UTF-16 surrogate (``"\\ud800"``). Such
a value would be accepted, then fail every delivery attempt. :func:`unsendable` names
each one by its path, the way marshmallow names a field, so the receiver refuses the
event with a 422 instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

NOT_FINITE = "Not a finite number: no platform can take it (e.g. 1e400 is infinity)."
SURROGATE = "Holds a lone UTF-16 surrogate (\\ud800-\\udfff): it cannot be encoded as UTF-8."


def unsendable(value: Any) -> dict[str, Any]:
    """Errors for every unsendable value inside ``value``, nested like the value
    (``{"fields": {"level": [msg]}}``); empty when there is none."""
    if isinstance(value, float):
        return {} if math.isfinite(value) else {"_value": [NOT_FINITE]}
    if isinstance(value, str):
        return {} if _encodable(value) else {"_value": [SURROGATE]}
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(index), item) for index, item in enumerate(value))
    else:
        return {}
    errors: dict[str, Any] = {}
    for key, item in items:
        found = unsendable(item)
        if not _encodable(str(key)):
            found = {**found, "_key": [SURROGATE]}
        if found:
            errors[_printable(str(key))] = found.get("_value", found)
    return errors


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(key: str) -> str:
    """A key that can itself be written into the error answer."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")

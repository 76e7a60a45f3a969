"""Reading a request body the way every ingestion route does: whole, and parsed as
JSON refusing what no platform can take."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec
from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

#: A JSON escape of a UTF-16 surrogate, the only way a lone one gets into a body.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_DECODER = msgspec.json.Decoder()


def read_body() -> bytes:
    """The body; one over the limit is a 413. The server has read it whole and given
    its length, chunked or not (webhook/server.py)."""
    return request.get_data(cache=False)


def json_object(*, optional: bool = False) -> dict[str, Any]:
    """The body of a route that changes state, as a JSON object. A body that cannot be
    read as one never reads as "nothing asked": a body that is not
    ``application/json`` is a 415, one that is not JSON or not an object a 400.
    ``optional``: no body at all is ``{}``, where the route has defaults for it."""
    if optional and not request.content_length:
        return {}
    if not request.is_json:
        raise UnsupportedMediaType("The body must be JSON, sent as application/json.")
    # What no platform can take (a lone surrogate ...) the route's schema refuses.
    body, _ = parse_json(read_body())
    if not isinstance(body, dict):
        raise BadRequest(f"The body must be a JSON object, not {_json_type(body)}.")
    return body


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def parse_json(raw: bytes) -> tuple[Any, bool]:
    """The body, and whether it may hold a value no platform can take (a float out of
    range, a lone surrogate escape), which only then is looked for (schemas/values.py).
    Raises :class:`BadRequest` when it is not JSON.

    msgspec parses the body (twice as fast as :mod:`json`, which counts in a 100-event
    batch). It reads every number exactly, an integer of any size too, and refuses
    exactly those values besides what is not JSON, so a body it takes holds none. A
    body it refuses is parsed again by :mod:`json`, which takes them and lets the
    schemas name the field that holds one, or says why the body is not JSON (msgspec's
    own words for a lone surrogate are "truncated")."""
    try:
        return _DECODER.decode(raw), False
    except (msgspec.DecodeError, RecursionError):
        pass
    out_of_range: list[str] = []

    def parse_float(text: str) -> float:
        value = float(text)
        if math.isinf(value):
            out_of_range.append(text)
        return value

    try:
        payload = json.loads(raw, parse_float=parse_float, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}") from None
    return payload, bool(out_of_range) or SURROGATE_ESCAPE.search(raw) is not None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")

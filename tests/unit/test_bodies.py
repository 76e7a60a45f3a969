"""Parsing a request body: the fast parser and the careful one give the same values, and
a body that may hold a value no platform takes is always flagged for the schemas."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.exceptions import BadRequest

from webhook.api.bodies import parse_json

#: Text with lone surrogates too (JSON escapes them; hypothesis leaves them out by default).
TEXT = st.text(st.characters(exclude_categories=()), max_size=6)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def poisoned(value) -> bool:
    """Whether ``value`` holds an infinite number or a lone surrogate anywhere."""
    if isinstance(value, float):
        return math.isinf(value)
    if isinstance(value, str):
        return any(0xD800 <= ord(char) <= 0xDFFF for char in value)
    if isinstance(value, dict):
        return any(poisoned(key) or poisoned(item) for key, item in value.items())
    return isinstance(value, list) and any(map(poisoned, value))


@given(JSON | st.integers(min_value=-(2**80), max_value=2**80).map(lambda n: [n, float(n)]))
def test_any_json_parses_to_what_the_standard_library_reads(value):
    raw = json.dumps(value).encode()
    payload, suspicious = parse_json(raw)
    assert payload == json.loads(raw)
    assert [type(item) for item in _leaves(payload)] == [type(i) for i in _leaves(json.loads(raw))]
    if poisoned(payload):
        assert suspicious, "the schemas must look for it"


def _leaves(value) -> list:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


@pytest.mark.parametrize(
    "raw",
    [b'{"total": 1e400}', b'{"total": -1e400}', b'{"name": "a\\ud800"}', b'["\\udfff"]'],
)
def test_a_value_no_platform_takes_is_parsed_and_flagged(raw):
    payload, suspicious = parse_json(raw)
    assert suspicious
    assert payload == json.loads(raw)


@pytest.mark.parametrize("raw", [b"NaN", b'{"a": Infinity}', b"{", b"", b"[1,]"])
def test_what_is_not_json_is_a_400(raw):
    with pytest.raises(BadRequest):
        parse_json(raw)


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
def test_an_integer_past_64_bits_is_read_exactly(number):
    [parsed], _ = parse_json(f"[{number}]".encode())
    assert (type(parsed), parsed) == (int, number)

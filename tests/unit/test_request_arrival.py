"""RequestArrival says "complete" exactly when the last byte of a request has arrived,
however the bytes are split, for requests written by a real HTTP/1.1 client library (h11);
and early (never late) for what it cannot make sense of."""

from __future__ import annotations

import h11
from hypothesis import given
from hypothesis import strategies as st

from webhook.arrival import RequestArrival

LIMIT = 64 * 1024


@st.composite
def requests(draw) -> bytes:
    """One request as h11 writes it: no body, a Content-Length body, or chunks with
    optional trailers."""
    client = h11.Connection(h11.CLIENT)
    kind = draw(st.sampled_from(["none", "length", "chunked"]))
    chunks = draw(st.lists(st.binary(min_size=1, max_size=300), max_size=5))
    body = b"".join(chunks)
    headers = [("Host", "x"), ("Content-Type", "application/json")]
    if kind == "length":
        headers.append(("Content-Length", str(len(body))))
    elif kind == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
    method = "GET" if kind == "none" else "POST"
    wire = client.send(h11.Request(method=method, target="/v1/events", headers=headers))
    if kind != "none":
        for chunk in chunks:
            wire += client.send(h11.Data(data=chunk))
    trailers = [("X-Sum", "1")] if kind == "chunked" and draw(st.booleans()) else []
    wire += client.send(h11.EndOfMessage(headers=trailers))
    return wire


@given(requests(), st.data())
def test_complete_exactly_at_the_last_byte(wire, data):
    cuts = sorted(data.draw(st.sets(st.integers(1, len(wire) - 1), max_size=8)))
    arrival = RequestArrival(LIMIT)
    start = 0
    for cut in [*cuts, len(wire)]:
        assert not arrival.complete, f"complete after {start} of {len(wire)} bytes"
        arrival.feed(wire[start:cut])
        start = cut
    assert arrival.complete
    assert arrival.take() == wire


def feed(*parts: bytes, limit: int = LIMIT) -> RequestArrival:
    arrival = RequestArrival(limit)
    for part in parts:
        arrival.feed(part)
    return arrival


def test_a_trickled_head_is_not_complete():
    assert not feed(b"POST / HTTP/1.1\r\n", b"Host: x\r\n", b"X-Slow: aaaa").complete


def test_a_body_still_coming_is_not_complete():
    assert not feed(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345").complete


def test_what_the_parser_must_refuse_is_handed_over_at_once():
    assert feed(b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n").complete
    assert feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").complete


def test_a_client_waiting_for_100_continue_is_handed_over_after_its_head():
    assert feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n").complete


def test_a_declared_body_over_the_limit_is_handed_over_after_its_head():
    assert feed(b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", limit=1024).complete


def test_anything_at_the_limit_is_handed_over():
    assert feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 2000, limit=1024).complete

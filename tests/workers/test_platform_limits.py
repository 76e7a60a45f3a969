"""A platform is input too: over real HTTP on loopback, a platform answering without
end, one trickling its answer, and one too slow for its share of a worker's threads
are all bounded by the client (workers/platforms/base.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.wrappers import Response

from workers.core.platform_settings import CallLimits, CrmConfig
from workers.platforms import errors
from workers.platforms.crm import CrmClient

from ..support import serving


def platform(body: Iterator[bytes], status: int = 201, **headers: str):
    """A WSGI platform that answers ``status`` and streams ``body``."""

    named = {name.replace("_", "-"): value for name, value in headers.items()}

    def app(environ, start_response):
        return Response(body, status=status, headers=named)(environ, start_response)

    return app


def endless() -> Iterator[bytes]:
    while True:
        yield b"x" * 65536


def trickle(every_s: float) -> Iterator[bytes]:
    yield b"{"
    while True:
        time.sleep(every_s)
        yield b" "


def client(url: str, **limits) -> CrmClient:
    config = CrmConfig(base_url=url, login="a", secret="b")
    return CrmClient(config, limits=CallLimits(**limits))


def test_an_answer_without_end_is_read_up_to_the_limit_and_fails_naming_it():
    with serving(platform(endless())) as url:
        started = time.monotonic()
        with pytest.raises(errors.AnswerTooLarge) as caught:
            client(url, max_answer_bytes=1_000_000).post_event({"name": "x"})
    assert "answer over 1,000,000 bytes" in str(caught.value)
    assert isinstance(caught.value, errors.RetryableError)
    assert time.monotonic() - started < 5


def test_a_trickled_answer_fails_at_the_call_deadline():
    with serving(platform(trickle(0.2), content_type="application/json")) as url:
        started = time.monotonic()
        with pytest.raises(errors.Timeout) as caught:
            client(url, deadline_s=1.0).post_event({"name": "x"})
    took = time.monotonic() - started
    assert 1.0 <= took < 2.0, took
    assert "within 1 s (PLATFORM_CALL_DEADLINE_S" in str(caught.value)


def test_a_slow_platform_holds_no_more_than_its_share_of_threads():
    release = threading.Event()

    def slow(environ, start_response):
        release.wait(10)
        return Response("{}", status=201)(environ, start_response)

    with serving(slow) as slow_url, serving(platform(iter([b"{}"]))) as quick_url:
        crm = client(slow_url, max_threads=2)
        with ThreadPoolExecutor(2) as pool:
            held = [pool.submit(crm.post_event, {"name": "x"}) for _ in range(2)]
            time.sleep(0.3)
            with pytest.raises(errors.Crowded) as caught:
                crm.post_event({"name": "x"})
            assert caught.value.delay_ms > 0
            assert client(quick_url, max_threads=2).post_event({"name": "x"}) == {}
            release.set()
            assert [future.result(5) for future in held] == [{}, {}]
        assert crm.post_event({"name": "x"}) == {}, "its threads are given back"


def test_a_compressed_answer_is_read_decompressed():
    import gzip

    packed = gzip.compress(b'{"name": "x"}')
    answer = platform(iter([packed]), content_type="application/json", content_encoding="gzip")
    with serving(answer) as url:
        assert client(url).post_event({"name": "x"}) == {"name": "x"}

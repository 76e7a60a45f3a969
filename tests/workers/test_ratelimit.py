"""The shared rate limiter against a real Redis, from several threads at once."""

from __future__ import annotations

import threading
import time

import redis

from workers.ratelimit.limiter import SharedRateLimiter


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    start, most = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def hammer(limiter_factory, *, threads: int, seconds: float) -> list[float]:
    grants: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run() -> None:
        limiter = limiter_factory()
        while time.monotonic() < deadline:
            grant = limiter.acquire()
            with lock:
                grants.append(time.monotonic())
            limiter.sent(grant)  # as a platform call does once it is answered

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [t for t in grants if t < deadline]


def test_never_more_than_the_limit_in_any_second_and_most_of_it_used(redis_url):
    client = redis.Redis.from_url(redis_url)
    grants = hammer(lambda: SharedRateLimiter(client, "t", rate=40), threads=8, seconds=3)
    assert most_in_any_second(grants) <= 40
    assert len(grants) >= 0.9 * 40 * 3 - 40, f"only {len(grants)} grants in 3 s"


def test_429_halves_the_rate_once_per_window_then_it_climbs_back(redis_url):
    client = redis.Redis.from_url(redis_url)
    limiter = SharedRateLimiter(client, "t", rate=20, quiet_s=0.3, recovery_per_s=40)
    assert limiter.current_rate() == 20
    assert limiter.slow_down() == 10
    assert limiter.slow_down() == 10, "a burst of 429s counts once"
    time.sleep(0.1)
    assert limiter.current_rate() == 10, "no recovery before the quiet period"
    time.sleep(0.5)
    assert limiter.current_rate() == 20, "climbed back to the ceiling"


def test_rate_never_drops_below_the_minimum(redis_url):
    client = redis.Redis.from_url(redis_url)
    limiter = SharedRateLimiter(client, "t", rate=4, min_rate=3)
    assert limiter.slow_down() == 3


def test_waiting_returns_time_and_raises_nothing(redis_url):
    client = redis.Redis.from_url(redis_url)
    limiter = SharedRateLimiter(client, "t", rate=2, margin_ms=0)
    assert limiter.acquire().waited_s == 0
    assert limiter.acquire().waited_s == 0
    began = time.monotonic()
    waited = limiter.acquire().waited_s
    assert 0.5 < waited <= 1.1
    assert time.monotonic() - began >= 0.5


def test_a_request_that_waited_to_go_out_still_keeps_the_platform_under_its_limit(redis_url):
    """Arrivals are recorded as the platform would see them. The first grant's thread
    gets to send only half a second late; stamped again when sent, it still holds its
    slot a whole second from its arrival."""
    limiter = SharedRateLimiter(redis.Redis.from_url(redis_url), "t", rate=3, margin_ms=0)
    arrivals: list[float] = []

    def send(grant) -> None:
        arrivals.append(time.monotonic())
        limiter.sent(grant)

    late = limiter.acquire()
    send(limiter.acquire())
    send(limiter.acquire())
    time.sleep(0.5)
    send(late)
    for _ in range(3):
        send(limiter.acquire())
    assert most_in_any_second(arrivals) <= 3

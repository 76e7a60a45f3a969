"""Copies of one stop signal count once; a later one still means "stop now"."""

from __future__ import annotations

import os
import signal
import time

import pytest

from workers.core.stopping import single_stop


@pytest.fixture
def stops():
    """Counts the SIGTERMs the wrapped handler lets through; restores the handler after."""
    seen: list[float] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(time.monotonic()))
    yield seen
    signal.signal(signal.SIGTERM, previous)


def test_copies_of_one_stop_count_once_and_a_later_stop_counts(stops):
    single_stop(same_stop_s=0.3)
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)
    assert len(stops) == 1
    time.sleep(0.35)
    os.kill(os.getpid(), signal.SIGTERM)
    assert len(stops) == 2

"""One time format wherever people read times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from workers.core.readable import NEVER, readable_time


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 1, 16, 58, 55, 810985, tzinfo=UTC),
        datetime(2026, 12, 1, 16, 58, 55),
        datetime(2026, 12, 1, 18, 58, 55, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 1, 16, 58, 55, tzinfo=UTC).timestamp() + 0.81,
        "2026-12-01T16:58:55.810985+00:00",
    ],
)
def test_every_kind_of_time_reads_the_same(moment):
    assert readable_time(moment) == "2026-12-01T16:58:55Z"


def test_an_unknown_time():
    assert readable_time(None) == NEVER

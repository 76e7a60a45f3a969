"""The limits an inbound event is held to, shared by its schema (schemas/events.py) and
its fast path (schemas/fast.py), so the two cannot drift apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

IDENTIFIERS = ("uid", "email", "phone", "wp_token")
#: The range of an event's time: no earlier than this, no later than this after now.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=1)
ID_LENGTH = (1, 200)
UID_LENGTH = (1, 256)
EMAIL_MAX = 320
PHONE_PATTERN = r"^\+?[0-9]{5,20}$"
WP_TOKEN_LENGTH = (1, 4096)
NAME_LENGTH = (1, 256)
FIELD_NAME_LENGTH = (1, 256)

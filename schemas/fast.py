"""The fast path of :func:`schemas.events.load_event`, for the events nearly every
request carries.

The marshmallow schemas in schemas/events.py are the one definition of an event's
shape, and running them is most of what a request costs. :func:`fast_event` takes the
plain case: a ``profile`` or ``event`` whose every field has the type the schema
expects (strings where it wants strings, objects where it wants objects) and passes
the same checks, the limits taken from schemas/limits.py and the e-mail check being
marshmallow's own validator. It then builds the same canonical dict the schema would.
Anything else (a campaign start, a number as an id, a missing or unknown field, a
value of another type) is ``None`` and goes through the schema, which says what is
wrong. It never refuses anything itself.

tests/unit/test_fast_events.py checks, with hypothesis, that whenever it answers the
schema accepts the same input and answers the same.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, validate

from .limits import (
    EARLIEST_EVENT,
    EMAIL_MAX,
    FIELD_NAME_LENGTH,
    ID_LENGTH,
    IDENTIFIERS,
    MAX_AHEAD,
    NAME_LENGTH,
    PHONE_PATTERN,
    UID_LENGTH,
    WP_TOKEN_LENGTH,
)

_KEYS = {
    "profile": frozenset({"id", "type", "timestamp", "user", "fields", "unsubscribe"}),
    "event": frozenset({"id", "type", "timestamp", "user", "name", "payload"}),
}
_IDENTIFIER_KEYS = frozenset(IDENTIFIERS)
_EMAIL = validate.Email()
_EMAIL_USER, _EMAIL_DOMAIN = _EMAIL.USER_REGEX.match, _EMAIL.DOMAIN_REGEX.match
_PHONE = re.compile(PHONE_PATTERN)


def fast_event(data: Any) -> dict | None:
    """The canonical event, or ``None`` where only the schema may decide."""
    if type(data) is not dict:
        return None
    kind = data.get("type")
    allowed = _KEYS.get(kind) if type(kind) is str else None
    if allowed is None or not data.keys() <= allowed:
        return None
    event_id, when, user = (
        data.get("id"),
        _time(data.get("timestamp")),
        valid_user(data.get("user")),
    )
    if not _is_text(event_id, ID_LENGTH) or when is None or user is None:
        return None
    event = {"id": event_id, "type": kind, "timestamp": when, "user": user}
    rest = _profile(data) if kind == "profile" else _track(data)
    return None if rest is None else {**event, **rest}


def _profile(data: dict) -> dict | None:
    rest: dict[str, Any] = {}
    if "unsubscribe" in data:
        if type(data["unsubscribe"]) is not bool:
            return None
        rest["unsubscribe"] = data["unsubscribe"]
    if "fields" in data:
        fields = _plain_mapping(data["fields"], FIELD_NAME_LENGTH)
        if fields is None:
            return None
        rest["fields"] = fields
    return rest


def _track(data: dict) -> dict | None:
    name = data.get("name")
    if not _is_text(name, NAME_LENGTH):
        return None
    rest: dict[str, Any] = {"name": name}
    if "payload" in data:
        payload = _plain_mapping(data["payload"], None)
        if payload is None:
            return None
        rest["payload"] = payload
    return rest


def valid_user(user: Any) -> dict | None:
    """A copy of ``user`` if every identifier in it is one the schema takes."""
    if type(user) is not dict or not user or not user.keys() <= _IDENTIFIER_KEYS:
        return None
    return dict(user) if _valid_identifiers(user) else None


def _valid_identifiers(user: dict[str, Any]) -> bool:
    """Whether every identifier of ``user``, whose keys are all in ``IDENTIFIERS``, is a
    string the schema takes."""
    for kind, value in user.items():
        if type(value) is not str or not _CHECKS[kind](value):
            return False
    return True


def _uid(value: str) -> bool:
    return _is_text(value, UID_LENGTH)


def _email(value: str) -> bool:
    """The schema's check: marshmallow's ``Email`` validator, whose own patterns accept
    a plain address here without it (the validator formats its error message before
    checking anything, half of what it costs); the validator decides the rest."""
    if len(value) > EMAIL_MAX:
        return False
    user, at, domain = value.rpartition("@")
    if at and _EMAIL_USER(user) and (domain in _EMAIL.DOMAIN_WHITELIST or _EMAIL_DOMAIN(domain)):
        return True
    try:
        _EMAIL(value)
    except ValidationError:
        return False
    return True


def _phone(value: str) -> bool:
    return _PHONE.match(value) is not None


def _wp_token(value: str) -> bool:
    return _is_text(value, WP_TOKEN_LENGTH)


#: Each identifier's check, as the schema's validators check it.
_CHECKS = {"uid": _uid, "email": _email, "phone": _phone, "wp_token": _wp_token}


def aware_time(value: Any) -> datetime | None:
    """``value`` as marshmallow's ``AwareDateTime`` reads it (``datetime.fromisoformat``,
    with an offset), or ``None`` where it would not."""
    if type(value) is not str:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None and moment.utcoffset() is not None else None


def _time(value: Any) -> str | None:
    """The time as the schema stores it (UTC, ``Z``), if it is one the schema takes: the
    text of an aware time, or an aware time itself (what schemas/segment.py maps a
    message's corrected time to, as marshmallow takes one too)."""
    if type(value) is datetime:
        moment = value if value.utcoffset() is not None else None
    else:
        moment = aware_time(value)
    return None if moment is None else _canonical_time(moment)


def _canonical_time(moment: datetime) -> str | None:
    """An aware time as the schema stores it, if it is within the range it takes: from
    ``EARLIEST_EVENT`` to ``MAX_AHEAD`` past the current time."""
    try:
        if not EARLIEST_EVENT <= moment <= datetime.now(UTC) + MAX_AHEAD:
            return None
        return stored_time(moment)
    except OverflowError:
        return None


def stored_time(moment: datetime) -> str:
    """An aware time in the form every event time is stored in: UTC, ISO 8601, ``Z``
    (raises :class:`OverflowError` where UTC cannot hold it)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain_mapping(value: Any, key_length: tuple[int, int] | None) -> dict | None:
    """A copy of an object whose keys are within ``key_length`` (any, if ``None``)."""
    if type(value) is not dict:
        return None
    if key_length is not None:
        shortest, longest = key_length
        for key in value:
            if type(key) is not str or not shortest <= len(key) <= longest:
                return None
    return dict(value)


def _is_text(value: Any, length: tuple[int, int]) -> bool:
    """Whether ``value`` is a string of a length within ``length``."""
    return type(value) is str and length[0] <= len(value) <= length[1]

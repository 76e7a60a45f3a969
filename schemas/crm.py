"""Outbound payloads for the S2S marketing platform (docs/platforms.md).

The platform identifies a profile by any of uid, phone, email or wp_token, keeps only
the custom fields declared in its project settings, and uses the system field
``update_profile_last_updated_at`` to refuse an update older than the one it has.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import Schema

from .events import IDENTIFIERS


class ProfileUpsertSchema(Schema):
    """One hashmap of ``POST /api/v1/users/batch/``: identifiers, fields, event time."""

    uid = ma.fields.String()
    email = ma.fields.String()
    phone = ma.fields.String()
    wp_token = ma.fields.String()
    fields = ma.fields.Dict()  # type: ignore[assignment]  # not Schema.fields: see events.py
    update_profile_last_updated_at = ma.fields.String()


class EventPostSchema(Schema):
    """The body of ``POST /api/v1/events/``."""

    name = ma.fields.String(required=True)
    payload = ma.fields.Dict()


_PROFILE = ProfileUpsertSchema()
_EVENT = EventPostSchema()


def profile_hashmap(ids: dict[str, str], fields: dict[str, Any], stamp: str) -> dict[str, Any]:
    """One profile's hashmap: its identifiers, its fields, the newest event time."""
    known = {key: ids[key] for key in IDENTIFIERS if key in ids}
    return _PROFILE.dump({**known, "fields": fields, "update_profile_last_updated_at": stamp})


def event_post(event: dict[str, Any]) -> dict[str, Any]:
    """The body for one canonical ``event`` event.

    The platform's event has only a name and a payload, so the user's identifiers go
    into the payload wherever the payload does not already name them.
    """
    payload = {key: value for key, value in event["user"].items() if key in IDENTIFIERS}
    payload.update(event.get("payload", {}))
    return _EVENT.dump({"name": event["name"], "payload": payload})

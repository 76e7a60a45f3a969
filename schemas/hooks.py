"""Inbound hooks (``POST /v1/hooks/<platform>``) and suppressions (``/v1/suppressions``).

A hook's parameters come from the query string and/or a JSON body, because the
platform's ``hook_url_template`` decides what it sends; the body wins where both name a
field. Unknown fields are excluded, not refused: the platform may add its own, and
refusing them would block its sends.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    pre_load,
    validate,
    validates_schema,
)

from .events import CAMPAIGN_KINDS, IDENTIFIERS, MAX_CAMPAIGN_ID
from .values import unsendable

STAGES = ("pre", "post")


#: A template placeholder the platform left unfilled: ``{email}``, ``{{uid}}``,
#: ``${phone}``, ``%7Bemail%7D`` (URL-encoded), ``[email]``...
PLACEHOLDER = re.compile(
    r"^\s*(\{\{?[^{}]*\}\}?|\$\{[^{}]*\}|%7B%7B.*%7D%7D|%7B.*%7D|\[[a-z_]+\]|%[a-z_]+%)\s*$",
    re.IGNORECASE,
)


def _filled_in(value: str) -> None:
    if PLACEHOLDER.match(value):
        raise ValidationError(
            f"{value!r} is an unfilled placeholder: the platform did not substitute it;"
            " check the campaign's hook_url_template."
        )


def _identifier(low: int, high: int) -> ma.fields.String:
    return ma.fields.String(validate=[validate.Length(min=low, max=high), _filled_in])


class _Recipient(Schema):
    """A recipient's identifiers, as the platform passes them (checked for length only:
    they are the platform's own copy of what it stores)."""

    uid = _identifier(1, 256)
    email = _identifier(3, 320)
    phone = _identifier(5, 32)
    wp_token = _identifier(1, 4096)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _sendable(self, data: dict, original_data: Any, **kwargs: Any) -> None:
        """Refuse what could not be written to Redis or sent on (schemas/values.py), in
        the fields read (others are ignored, as unknown fields are)."""
        if not isinstance(original_data, dict):
            return
        found = unsendable({k: v for k, v in original_data.items() if k in self.fields})
        if found:
            raise ValidationError(found)


class HookSchema(_Recipient):
    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _drop_empty_identifiers(self, data: Any, **kwargs: Any) -> Any:
        """An empty identifier (``email=`` in a template whose recipient has none) is
        no identifier: ignored, so the others decide."""
        if not isinstance(data, dict):
            return data
        return {
            key: value
            for key, value in data.items()
            if not (key in IDENTIFIERS and isinstance(value, str) and not value.strip())
        }

    #: A call that names no stage is read as a ``pre`` hook: it is answered with the
    #: recipient's decision and counts no send (read as a ``post``, a suppressed
    #: recipient would be sent to by a platform taking the answer as consent).
    stage = ma.fields.String(load_default="pre", validate=validate.OneOf(STAGES))
    campaign_id = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_CAMPAIGN_ID))
    message_id = ma.fields.String(validate=validate.Length(min=1, max=128))
    #: The campaign's kind, which its report filter needs; the platform's hook does not
    #: say, so put it in the hook_url_template of A/B and automated campaigns.
    kind = ma.fields.String(load_default="mailing", validate=validate.OneOf(CAMPAIGN_KINDS))

    @validates_schema
    def _needs_recipient_and_campaign(self, data: dict, **kwargs: Any) -> None:
        if not any(data.get(key) for key in IDENTIFIERS):
            raise ValidationError(f"Needs at least one of: {', '.join(IDENTIFIERS)}.")
        if data.get("stage") == "post" and "campaign_id" not in data:
            raise ValidationError("A post hook needs campaign_id.", "campaign_id")


class SuppressionSchema(_Recipient):
    """One identifier to suppress, e.g. ``{"email": "a@example.com", "reason": "..."}``."""

    class Meta:
        unknown = RAISE

    reason = ma.fields.String(validate=validate.Length(max=500))

    @validates_schema
    def _exactly_one_identifier(self, data: dict, **kwargs: Any) -> None:
        given = [key for key in IDENTIFIERS if data.get(key)]
        if len(given) != 1:
            raise ValidationError(f"Give exactly one of: {', '.join(IDENTIFIERS)}.")


HOOK = HookSchema()
SUPPRESSION = SuppressionSchema()

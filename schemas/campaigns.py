"""The S2S platform's campaigns as hookrelay creates and rewrites them
(``POST /v1/campaigns/crm``, ``PUT /v1/campaigns/crm/<id>``): one schema per kind, from
the tables of the platform's documentation, so that a bad request is refused naming the
field before anything is sent.

Two fields are hookrelay's own: ``kind`` (which of the platform's three collections)
and ``hooks`` (whether hookrelay writes the hook part of ``config``). The rest is the
platform's, sent as loaded: times as ISO 8601 with their offset, files (the
documentation types them ``datafile`` without saying how) as data URLs
(``data:text/csv;base64,…``), the form the same documentation gives for attachments.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

import marshmallow as ma
from marshmallow import RAISE, Schema, ValidationError, post_load, validate, validates_schema

from .events import CAMPAIGN_KINDS

#: ``message_type`` / ``messages_type``: only email ("L") is documented.
MESSAGE_TYPES = ("L",)
#: ``source_type``: uploaded ("U"), a segment ("S"), the API ("A").
SOURCE_TYPES = ("U", "S", "A")
#: ``win_parameter`` of an A/B campaign: opens, clicks, clicks to opens.
WIN_PARAMETERS = ("O", "C", "U")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(;[\w-]+=[\w.+-]+)*;base64,(.*)$", re.S)
#: One crontab field: ``*``, a number or a range, each with an optional ``/step``,
#: separated by commas.
_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
#: Each field's bounds: minute, hour, day of month, month, day of week.
_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _strict_int(
    *, required: bool = False, min: int | None = None, max: int | None = None
) -> ma.fields.Integer:
    """A JSON whole number (never a string of one) within ``min``..``max``."""
    bounds = validate.Range(min=min, max=max)
    return ma.fields.Integer(required=required, strict=True, validate=bounds)


def _flag(**options: Any) -> ma.fields.Boolean:
    """A JSON ``true`` or ``false``, nothing that merely reads as one."""
    return ma.fields.Boolean(truthy={True}, falsy={False}, **options)


class DataFile(ma.fields.String):
    """A file as a data URL: ``data:[mediatype];base64,<the file in base64>``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        found = _DATA_URL.match(text)
        try:
            valid = found is not None and base64.b64decode(found[3], validate=True) != b""
        except binascii.Error:
            valid = False
        if not valid:
            raise ValidationError(
                "A file is a data URL: data:text/csv;base64,<the file in base64>."
            )
        return text


class Crontab(ma.fields.String):
    """Five crontab fields: minute, hour, day of month, month, day of week."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        fields = text.split()
        if len(fields) != len(_CRON_BOUNDS) or not all(map(_cron_field_ok, fields, _CRON_BOUNDS)):
            raise ValidationError(
                "Five crontab fields (minute hour day month weekday), e.g. '0 9 * * 1-5'."
            )
        return " ".join(fields)


def _cron_field_ok(field: str, bounds: tuple[int, int]) -> bool:
    if not _CRON_FIELD.match(field):
        return False
    low, high = bounds
    numbers = [int(n) for n in re.findall(r"(?<![/\d])\d+", field)]
    return all(low <= n <= high for n in numbers)


class ConfigSchema(Schema):
    """A campaign's ``config``, as the documentation types it."""

    class Meta:
        unknown = RAISE

    not_check_subscription = _flag()
    not_check_sent_quarantine = _flag()
    retry_sent_quarantine_rejected = _flag()
    retry_sent_quarantine_rejected_interval = _strict_int(min=0)
    min_send_interval = _strict_int(min=0)
    hook_url_template = ma.fields.Url(schemes={"http", "https"})
    hook_use_auth = _flag()
    hook_pre_post = _flag()
    not_check_spam_quarantine = _flag()
    send_to_corp = _flag()
    send_by_uid = _flag()


class _CampaignSchema(Schema):
    """What every kind has."""

    class Meta:
        unknown = RAISE

    kind = ma.fields.String(required=True, validate=validate.OneOf(CAMPAIGN_KINDS))
    hooks = _flag(
        load_default=True,
        metadata={"description": "Let hookrelay write config's hook part (default: yes)."},
    )
    message_id = _strict_int(required=True, min=1)
    source_type = ma.fields.String(required=True, validate=validate.OneOf(SOURCE_TYPES))
    source_id = _strict_int(min=1)
    config = ma.fields.Nested(ConfigSchema, load_default=dict)
    tags = ma.fields.String()
    priority = ma.fields.Integer(strict=True)

    @validates_schema
    def _source(self, data: dict, **kwargs: Any) -> None:
        if data.get("source_uploaded_csv") and "source_id" in data:
            raise ValidationError("Not sent with an uploaded file.", "source_id")
        if data.get("source_type") in ("S", "A") and "source_id" not in data:
            raise ValidationError("Needed for a segment or API source.", "source_id")

    @validates_schema
    def _hooks_left_to_hookrelay(self, data: dict, **kwargs: Any) -> None:
        written = data.get("hooks", True) and "hook_url_template" in data.get("config", {})
        if written:
            raise ValidationError(
                'hookrelay writes it: leave it out, or say "hooks": false.',
                "config",
            )

    @post_load
    def _times_as_text(self, data: dict, **kwargs: Any) -> dict:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


class MailingSchema(_CampaignSchema):
    message_type = ma.fields.String(required=True, validate=validate.OneOf(MESSAGE_TYPES))
    source_uploaded_csv = DataFile()
    planned_at = ma.fields.AwareDateTime()
    send_during_hours = _strict_int(min=1)
    additional_source_file = DataFile()
    start_immediately = _flag()


class AbMailingSchema(_CampaignSchema):
    messages_type = ma.fields.String(required=True, validate=validate.OneOf(MESSAGE_TYPES))
    source_uploaded_csv = DataFile()
    planned_at = ma.fields.AwareDateTime()
    send_during_hours = _strict_int(min=1)
    ab_percent = _strict_int(min=1, max=99)
    win_parameter = ma.fields.String(validate=validate.OneOf(WIN_PARAMETERS))
    test_planned_at = ma.fields.AwareDateTime()
    main_planned_at = ma.fields.AwareDateTime()
    additional_source_file = DataFile()
    start_immediately = _flag()


class AutomatedSchema(_CampaignSchema):
    message_type = ma.fields.String(required=True, validate=validate.OneOf(MESSAGE_TYPES))
    source_id = _strict_int(required=True, min=1)
    active = _flag()
    crontab = Crontab()
    run_from = ma.fields.AwareDateTime()
    run_to = ma.fields.AwareDateTime()

    @validates_schema
    def _runs_forward(self, data: dict, **kwargs: Any) -> None:
        if "run_from" in data and "run_to" in data and data["run_to"] <= data["run_from"]:
            raise ValidationError("Must be after run_from.", "run_to")


CAMPAIGN_SCHEMAS: dict[str, Schema] = {
    "mailing": MailingSchema(),
    "ab": AbMailingSchema(),
    "automated": AutomatedSchema(),
}


def load_campaign(body: Any) -> dict[str, Any]:
    """A create or rewrite request, loaded by its kind's schema; raises
    :class:`ValidationError` naming each bad field."""
    kind = body.get("kind") if isinstance(body, dict) else None
    schema = CAMPAIGN_SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise ValidationError({"kind": [f"Must be one of: {', '.join(CAMPAIGN_KINDS)}."]})
    return schema.load(body)


class SegmentSchema(Schema):
    """A segment of the S2S platform (create, rewrite, or with ``partial`` edit)."""

    class Meta:
        unknown = RAISE

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=255))
    tags = ma.fields.String()
    condition = ma.fields.Raw(
        required=True,
        metadata={"description": "The segment's condition, a JSON object or array."},
    )
    segment_limit = _strict_int(min=1)

    @validates_schema
    def _condition_is_json_structure(self, data: dict, **kwargs: Any) -> None:
        if "condition" in data and not isinstance(data["condition"], dict | list):
            raise ValidationError("A JSON object or array.", "condition")


SEGMENT = SegmentSchema()

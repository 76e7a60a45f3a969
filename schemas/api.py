"""What the receiver's API answers: the one place each answer's shape is defined.

The views build these answers as plain dicts; the OpenAPI document (``/openapi.json``)
is generated from these schemas, and the API tests check live answers against it.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import RAISE, Schema, validate

from .events import CAMPAIGN_KINDS, PLATFORMS

_Str = ma.fields.String
_Int = ma.fields.Integer


class ErrorSchema(Schema):
    """Any refusal other than a validation error (400, 401, 404, 413, 415, 503)."""

    error = _Str(required=True, metadata={"description": "The HTTP status's name."})
    message = _Str(required=True, metadata={"description": "What was wrong, and what to do."})


class ValidationErrorsSchema(Schema):
    """422: ``errors`` maps each bad event's index (or ``_schema``, or a field) to its
    field errors, e.g. ``{"0": {"user": {"email": ["Not a valid email address."]}}}``."""

    errors = ma.fields.Dict(required=True)


class AcceptedSchema(Schema):
    accepted = _Int(required=True, metadata={"description": "New events, durably enqueued."})
    duplicates = _Int(
        required=True, metadata={"description": "Ids seen in the last 24 h, not enqueued again."}
    )


class HookDecisionSchema(Schema):
    """A pre-send hook's answer."""

    allow = ma.fields.Boolean(required=True)
    reason = _Str(metadata={"description": "Why not (suppressed, frequency cap)."})


class HookRecordedSchema(Schema):
    """A post-send hook's answer."""

    recorded = ma.fields.Boolean(required=True)
    sends = _Int(required=True, metadata={"description": "The campaign's sends so far."})


class SuppressionCreatedSchema(Schema):
    id = _Str(required=True, metadata={"example": "email:a@example.com"})


class SuppressionEntrySchema(Schema):
    id = _Str(required=True)
    reason = _Str(required=True)
    source = _Str(
        metadata={
            "description": "Who suppressed it: api, event, or the platform report "
            "(pushwoosh.bounces: Hardbounce)."
        }
    )
    at = ma.fields.Float(required=True, metadata={"description": "Unix seconds."})


class SuppressionListSchema(Schema):
    count = _Int(required=True)
    suppressions = ma.fields.List(ma.fields.Nested(SuppressionEntrySchema), required=True)


class DeadLetterSummarySchema(Schema):
    id = _Str(required=True)
    actor = _Str(required=True)
    queue = _Str(required=True)
    event_id = _Str(required=True, allow_none=True)
    reason = _Str(required=True)
    error = ma.fields.Dict(required=True, metadata={"description": "Status, URL, answer."})
    attempts = _Int(required=True)
    failed_at = ma.fields.Float(required=True, metadata={"description": "Unix seconds."})


#: Where an event can be (workers/trace/reader.py).
TRACE_STATES = (
    "queued",
    "buffered",
    "in_flight",
    "retrying",
    "postponed",
    "paused",
    "delivered",
    "dead_lettered",
    "up_to_date",
    "unknown",
)
_Time = _Str  # ISO 8601 in UTC, to the millisecond


class TraceAttemptSchema(Schema):
    """One attempt's outcome. ``wait_ms``: its wait for the rate limit; ``answer``: a
    failed call's answer, truncated to 200 characters and masked."""

    at = _Time(required=True)
    outcome = _Str(
        required=True,
        validate=validate.OneOf(("delivered", "retried", "postponed", "paused", "dead_lettered")),
    )
    actor = _Str()
    attempt = _Int()
    platform = _Str()
    status = _Int()
    error = _Str(metadata={"description": "The error's class: ServerError, Timeout ..."})
    reason = _Str()
    answer = _Str()
    wait_ms = _Int()
    next_attempt_at = _Time()
    dlq = _Str(metadata={"description": "The dead letter's id."})


class TraceBatchSchema(Schema):
    """The profile batch a profile update's fields went out in; ``behind``: the batch
    its profile was still in, which the update waits behind for the next one."""

    id = _Str(required=True, allow_none=True)
    at = _Time()
    behind = ma.fields.Boolean()
    state = _Str(required=True, validate=validate.OneOf(TRACE_STATES))
    attempts = ma.fields.List(ma.fields.Nested(TraceAttemptSchema), required=True)
    next_attempt_at = _Time(allow_none=True)
    dead_letter = _Str(allow_none=True)


class EventTraceSchema(Schema):
    """Where an event is, and its delivery attempts (no payload is kept)."""

    id = _Str(required=True)
    state = _Str(required=True, validate=validate.OneOf(TRACE_STATES))
    type = _Str(required=True, allow_none=True)
    accepted_at = _Time(required=True, allow_none=True)
    attempts = ma.fields.List(ma.fields.Nested(TraceAttemptSchema), required=True)
    duplicates = ma.fields.List(_Time(), required=True)
    next_attempt_at = _Time(required=True, allow_none=True)
    dead_letter = _Str(required=True, allow_none=True)
    batch = ma.fields.Nested(TraceBatchSchema, required=True, allow_none=True)
    traceparent = _Str(
        required=True,
        allow_none=True,
        metadata={"description": "The W3C traceparent the caller sent with the event."},
    )
    not_waited_for = ma.fields.List(
        _Str(),
        required=True,
        metadata={
            "description": "A campaign start's: the dead letters of profile updates it "
            "waited for that were let go unacknowledged, so it went without them."
        },
    )


class DeadLetterSchema(DeadLetterSummarySchema):
    message = ma.fields.Dict(required=True, metadata={"description": "The Dramatiq message."})


class DeadLetterListSchema(Schema):
    count = _Int(required=True)
    letters = ma.fields.List(ma.fields.Nested(DeadLetterSummarySchema), required=True)


class ReplayedSchema(Schema):
    replayed = _Int(required=True)


class ReplaySelectionSchema(Schema):
    """``POST /v1/dlq/replay``'s body: which dead letters to replay. Every one only
    when it says ``"all": true``, and then no filter: a body that names nothing
    replays nothing."""

    class Meta:
        unknown = RAISE

    all = ma.fields.Boolean(
        truthy={True},
        falsy={False},
        load_default=False,
        metadata={"description": "Replay every dead letter (and name no filter)."},
    )
    platform = ma.fields.String(validate=validate.OneOf(PLATFORMS))
    actor = ma.fields.String(validate=validate.Length(min=1, max=64))
    reason = ma.fields.String(
        validate=validate.Length(min=1, max=500), metadata={"description": "A substring."}
    )
    status = ma.fields.Integer(strict=True, validate=validate.Range(min=100, max=599))
    since = ma.fields.AwareDateTime(metadata={"description": "Failed at or after."})
    until = ma.fields.AwareDateTime(metadata={"description": "Failed before."})
    ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=256)),
        validate=validate.Length(max=100_000),
        metadata={"description": "Letter ids or event ids."},
    )
    dry_run = ma.fields.Boolean(
        load_default=False, metadata={"description": "Count them, replay nothing."}
    )

    @ma.validates_schema
    def _all_or_filters(self, data: dict, **kwargs: Any) -> None:
        filters = sorted(set(data) - {"all", "dry_run"})
        if data["all"] and filters:
            raise ma.ValidationError(f"Not with a filter ({', '.join(filters)}).", "all")
        if not data["all"] and not filters:
            raise ma.ValidationError(
                'Name a filter, or send {"all": true} to replay every dead letter.', "_schema"
            )


class SelectionReplayedSchema(Schema):
    matched = _Int(required=True)
    replayed = _Int(required=True)


class PurgedSchema(Schema):
    purged = _Int(required=True)


class CampaignRunSchema(Schema):
    platform = _Str(required=True, validate=validate.OneOf(PLATFORMS))
    id = _Int(required=True)
    kind = _Str(required=True, validate=validate.OneOf(CAMPAIGN_KINDS))
    pushwoosh_message_code = _Str(required=True, allow_none=True)
    state = _Str(required=True)
    created_at = _Str(required=True)
    started_at = _Str(required=True, allow_none=True)


class CampaignStatsSchema(Schema):
    campaign = ma.fields.Nested(CampaignRunSchema, required=True)
    fetched_at = _Str(required=True, allow_none=True)
    totals = ma.fields.Dict(
        required=True, metadata={"description": "totals[source][subject][metric] = value"}
    )
    series = ma.fields.Dict(
        required=True,
        metadata={"description": "series[source][subject][metric] = [[interval, value], …]"},
    )
    log_rows = ma.fields.Dict(
        keys=_Str(), values=_Int(), required=True, metadata={"description": "Raw rows kept."}
    )


class CampaignActionTargetSchema(Schema):
    platform = _Str(required=True)
    id = _Int(required=True)
    kind = _Str(required=True, validate=validate.OneOf(CAMPAIGN_KINDS))


class CampaignActionSchema(Schema):
    """The optional body of a campaign action: the kind, when it was not started here."""

    kind = _Str(validate=validate.OneOf(CAMPAIGN_KINDS))


class CampaignActionQueuedSchema(Schema):
    queued = _Str(required=True)
    campaign = ma.fields.Nested(CampaignActionTargetSchema, required=True)
    message_id = _Str(required=True)


class HealthSchema(Schema):
    status = _Str(required=True, validate=validate.OneOf(("ok",)))


class ReadySchema(Schema):
    status = _Str(required=True, validate=validate.OneOf(("ok", "unavailable")))
    redis = _Str(required=True)
    store = _Str(required=True)


class SegmentErrorSchema(Schema):
    """What the Segment-spec routes answer when they refuse a request (the SDKs read
    both keys)."""

    code = _Str(required=True, metadata={"example": "unauthorized"})
    message = _Str(required=True)


class SegmentReportSchema(Schema):
    """One message of the request that was not enqueued."""

    index = _Int(required=True, metadata={"description": "Its place in the batch."})
    code = _Str(metadata={"description": "Why it is invalid."})
    message = _Str(metadata={"description": "What is wrong with it."})
    messageId = ma.fields.Raw(allow_none=True)
    reason = _Str(metadata={"description": "Why it is sent nowhere (dropped)."})


class SegmentAcceptedSchema(Schema):
    success = ma.fields.Boolean(required=True)
    accepted = _Int(required=True, metadata={"description": "New messages, durably enqueued."})
    duplicates = _Int(required=True, metadata={"description": "messageIds seen in 24 h."})
    dropped = ma.fields.List(
        ma.fields.Nested(SegmentReportSchema),
        required=True,
        metadata={"description": "Valid, but sent nowhere (anonymous, alias, page)."},
    )
    invalid = ma.fields.List(
        ma.fields.Nested(SegmentReportSchema),
        required=True,
        metadata={"description": "Refused, each with its index; the others were accepted."},
    )

"""``POST /v1/users/forget``: the request, and the answers about it."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import RAISE, Schema

from schemas.events import UserSchema


class ForgetRequestSchema(Schema):
    """One person to forget, by any identifiers of theirs; with ``suppress``, their
    later events are dropped too, until the suppression is deleted."""

    class Meta:
        unknown = RAISE

    user = ma.fields.Nested(UserSchema, required=True)
    suppress = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Keep dropping this person's events after the erasure."},
    )


class ForgetAcceptedSchema(Schema):
    id = ma.fields.String(required=True, metadata={"description": "The request's id."})


class ForgetPlatformSchema(Schema):
    platform = ma.fields.String(required=True)
    what = ma.fields.String(required=True, metadata={"example": "profile"})
    last = ma.fields.String(required=True, metadata={"description": "When, at the latest."})


class ForgetStateSchema(Schema):
    id = ma.fields.String(required=True)
    state = ma.fields.String(required=True, metadata={"enum": ["pending", "done"]})
    suppress = ma.fields.Boolean(required=True)
    requested_at = ma.fields.Float(required=True, metadata={"description": "Unix seconds."})
    done_at = ma.fields.Float(allow_none=True, metadata={"description": "Unix seconds."})
    erased = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "Entries erased, per store."},
    )
    platforms = ma.fields.List(
        ma.fields.Nested(ForgetPlatformSchema),
        required=True,
        metadata={"description": "Where this person's data had gone, to ask there."},
    )


FORGET_REQUEST = ForgetRequestSchema()

"""The S2S platform's segments: created, rewritten (``PUT``), edited (``PATCH``), read,
listed, and generated: a generation reads ``generating`` for the first
``segment_generating_reads`` reads of the segment (a knob), then ``generated``. What the
documentation requires of one (``name``, ``condition``)
is required here, so a client that leaves it out fails."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from .simulation import missing_fields, simulated, state

crm_segments = Blueprint("crm_segments", __name__, url_prefix="/crm")
COLLECTION = "segments"
REQUIRED = ("name", "condition")


@crm_segments.get("/api/v1/segments/")
@simulated("crm.segments")
def segments_list(body):
    return state().stats.created(COLLECTION), 200


@crm_segments.post("/api/v1/segments/")
@simulated("crm.segment_create")
def segment_create(body):
    refusal = missing_fields(body, REQUIRED)
    if refusal:
        return refusal
    segment_id = state().stats.create(COLLECTION, body)
    return state().stats.created(COLLECTION, segment_id)[0], 201


@crm_segments.get("/api/v1/segments/<int:segment_id>/")
@simulated("crm.segment")
def segment_show(body, segment_id: int):
    state().stats.segment_read(segment_id)
    return _one(segment_id)


@crm_segments.route("/api/v1/segments/<int:segment_id>/", methods=["PUT", "PATCH"])
@simulated("crm.segment_change")
def segment_change(body, segment_id: int):
    partial = request.method == "PATCH"
    refusal = missing_fields(body, () if partial else REQUIRED)
    if refusal:
        return refusal
    world = state().stats
    [current] = world.created(COLLECTION, segment_id) or [None]
    if current is None:
        return {"detail": "Not found."}, 404
    kept = {k: v for k, v in current.items() if k not in ("id", "status")} if partial else {}
    world.rewrite(COLLECTION, segment_id, {**kept, **body})
    return _one(segment_id)


@crm_segments.post("/api/v1/segments/<int:segment_id>/generate/")
@simulated("crm.segment_generate")
def segment_generate(body, segment_id: int):
    world = state().stats
    if not world.created(COLLECTION, segment_id):
        return {"detail": "Not found."}, 404
    world.generate(segment_id)
    return {"id": segment_id, "status": "generating"}, 200


def _one(segment_id: int) -> tuple[Any, int]:
    found = state().stats.created(COLLECTION, segment_id)
    return (found[0], 200) if found else ({"detail": "Not found."}, 404)

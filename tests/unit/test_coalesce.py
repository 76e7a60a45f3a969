"""Merging profile updates: one hashmap per profile, newest field values, batch packing."""

from __future__ import annotations

import random

from workers.profiles.coalesce import batches, merge


def update(ts: str, fields: dict, **user) -> dict:
    return {
        "id": f"e-{ts}",
        "type": "profile",
        "timestamp": f"2026-11-23T10:00:{ts}Z",
        "user": user,
        "fields": fields,
    }


def hashmaps(profiles):
    return sorted((p.hashmap() for p in profiles), key=lambda h: sorted(h.items(), key=str))


def test_newest_value_per_field_wins_by_event_time_not_arrival():
    profiles = merge(
        [update("05", {"a": "new", "b": 1}, uid="1"), update("01", {"a": "old", "c": 3}, uid="1")],
        {},
    )
    assert [p.hashmap() for p in profiles] == [
        {
            "uid": "1",
            "fields": {"a": "new", "b": 1, "c": 3},
            "update_profile_last_updated_at": "2026-11-23T10:00:05Z",
        }
    ]


def test_equal_times_the_later_arrival_wins():
    [profile] = merge([update("01", {"a": 1}, uid="1"), update("01", {"a": 2}, uid="1")], {})
    assert profile.hashmap()["fields"] == {"a": 2}


def test_shared_identifiers_merge_transitively():
    profiles = merge(
        [
            update("01", {"a": 1}, uid="1", email="x@e.com"),
            update("02", {"b": 2}, email="x@e.com", phone="+15550100"),
        ],
        {},
    )
    assert [p.ids for p in profiles] == [{"uid": "1", "email": "x@e.com", "phone": "+15550100"}]


def test_an_update_bridging_two_profiles_folds_them():
    profiles = merge(
        [
            update("01", {"a": 1}, uid="1"),
            update("02", {"b": 2}, email="x@e.com"),
            update("03", {"c": 3}, uid="1", email="x@e.com"),
        ],
        {},
    )
    assert len(profiles) == 1
    assert profiles[0].hashmap()["fields"] == {"a": 1, "b": 2, "c": 3}


def test_conflicting_identifiers_stay_apart_and_never_share_a_batch():
    profiles = merge(
        [
            update("01", {"a": 1}, uid="1", email="x@e.com"),
            update("02", {"a": 2}, uid="2", email="x@e.com"),
        ],
        {},
    )
    assert [p.ids["uid"] for p in profiles] == ["1", "2"]
    packed = batches(profiles, batch_max=500)
    assert [len(batch) for batch in packed] == [1, 1]


def test_a_state_saved_before_acknowledgements_counts_as_sent():
    saved = {
        "ids": {"uid": "1"},
        "fields": {"a": ["new", "2026-11-23T10:00:09Z"]},
        "sent": "2026-11-23T10:00:09Z",
    }
    [profile] = merge([update("03", {"b": "late"}, uid="1")], {"uid:1": saved})
    assert profile.hashmap() == {
        "uid": "1",
        "fields": {"b": "late"},
        "update_profile_last_updated_at": "2026-11-23T10:00:09.001000Z",
    }, "only the changed field, stamped later than the last acknowledged stamp"


def acked_state(fields: dict, sent: str, **extra) -> dict:
    return {"ids": {"uid": "1"}, "fields": fields, "sent": sent, "acked": list(fields), **extra}


def test_each_batch_of_a_profile_is_stamped_strictly_later_than_the_last_acknowledged():
    saved = acked_state({"a": ["x", "2026-11-23T10:00:09Z"]}, "2026-11-23T10:00:09Z")
    [same_time] = merge([update("09", {"b": 1}, uid="1")], {"uid:1": saved})
    assert same_time.hashmap()["update_profile_last_updated_at"] == "2026-11-23T10:00:09.001000Z"
    [newer] = merge([update("12", {"b": 2}, uid="1")], {"uid:1": saved})
    assert newer.hashmap()["update_profile_last_updated_at"] == "2026-11-23T10:00:12Z"


def test_an_acknowledgement_marks_the_values_sent_and_frees_the_profile():
    [profile] = merge([update("01", {"a": 1, "b": 2}, uid="1")], {})
    profile.owner = "batch-1"
    ack = profile.acknowledgement("batch-1")
    state = profile.to_state()
    [later] = merge([update("02", {"b": 3}, uid="1"), ack], {"uid:1": state})
    assert later.owner is None
    assert later.hashmap()["fields"] == {"b": 3}, "a acknowledged; b changed since it was sent"
    assert later.sent == "2026-11-23T10:00:01Z"


def test_an_acknowledgement_of_another_batch_leaves_the_owner():
    [profile] = merge([update("01", {"a": 1}, uid="1")], {})
    profile.owner = "batch-2"
    [same] = merge([{**profile.acknowledgement("batch-1")}], {"uid:1": profile.to_state()})
    assert same.owner == "batch-2"


def test_a_value_posted_again_after_its_acknowledgement_is_not_resent():
    saved = acked_state({"a": [1, "2026-11-23T10:00:01Z"]}, "2026-11-23T10:00:01Z")
    [profile] = merge([update("05", {"a": 1}, uid="1")], {"uid:1": saved})
    assert not profile.unsent
    [changed] = merge([update("05", {"a": True}, uid="1")], {"uid:1": saved})
    assert changed.hashmap()["fields"] == {"a": True}, "true is not 1"


def test_a_refused_release_forgets_the_refused_values_unless_replaced():
    [profile] = merge([update("01", {"a": "bad", "b": "bad"}, uid="1")], {})
    profile.owner = "batch-1"
    release = {
        "type": "release",
        "batch": "batch-1",
        "user": {"uid": "1"},
        "refused": {name: list(pair) for name, pair in profile.changed.items()},
    }
    [after] = merge([update("02", {"b": "good"}, uid="1"), release], {"uid:1": profile.to_state()})
    assert after.owner is None
    assert after.hashmap()["fields"] == {"b": "good"}


def test_records_for_unknown_profiles_create_nothing():
    assert merge([{"type": "nudge", "user": {"uid": "9"}}], {}) == []


def test_batches_respect_the_maximum_and_hold_no_shared_identifier():
    updates = [update(f"{i % 60:02d}", {"n": i}, uid=str(i % 300)) for i in range(3000)]
    random.Random(7).shuffle(updates)
    packed = batches(merge(updates, {}), batch_max=128)
    assert sum(len(batch) for batch in packed) == 300
    assert [len(batch) for batch in packed] == [128, 128, 44]
    for batch in packed:
        keys = [key for profile in batch for key in profile.keys]
        assert len(keys) == len(set(keys))


def test_identifiers_are_compared_in_their_normal_form_and_sent_as_given():
    [profile] = merge(
        [
            update("01", {"a": 1}, email="Ann@Example.COM", phone="+7 916 000-00-01"),
            update("02", {"b": 2}, email=" ann@example.com", phone="79160000001", uid="9"),
        ],
        {},
    )
    assert profile.keys == ["email:ann@example.com", "phone:79160000001", "uid:9"]
    assert profile.hashmap()["email"] == " ann@example.com", "the platform gets what was sent"

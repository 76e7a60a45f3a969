"""The sandbox keeps profiles the way the platform documents it."""

from __future__ import annotations

import pytest

from sandbox.state import ProfileStore


def test_profile_found_by_any_identifier_and_fields_merged():
    store = ProfileStore(declared_fields=None)
    store.upsert({"uid": "1", "fields": {"a": 1}})
    store.upsert({"uid": "1", "email": "x@example.com", "fields": {"b": 2}})
    store.upsert({"email": "x@example.com", "fields": {"a": 3}})
    [profile] = store.profiles
    assert profile["fields"] == {"a": 3, "b": 2}
    assert profile["email"] == "x@example.com"


@pytest.mark.parametrize(("order", "kept"), [("stamp", "new"), ("arrival", "old")])
def test_an_older_update_arriving_last_is_ignored_by_stamp_and_wins_in_arrival_order(order, kept):
    store = ProfileStore(declared_fields=None, order=order)
    for value, stamp in (("new", "2026-11-23T10:00:05Z"), ("old", "2026-11-23T10:00:00Z")):
        store.upsert({"uid": "1", "fields": {"a": value}, "update_profile_last_updated_at": stamp})
    assert store.profiles[0]["fields"] == {"a": kept}


def test_undeclared_fields_are_ignored_and_not_echoed():
    store = ProfileStore(declared_fields=frozenset({"pole2"}))
    echo = store.upsert({"email": "u@example.com", "fields": {"pole1": "x", "pole2": 123}})
    assert echo == {"email": "u@example.com", "fields": {"pole2": 123}}
    assert store.profiles[0]["fields"] == {"pole2": 123}


def test_an_event_for_a_user_no_profile_has_yet_is_noted():
    store = ProfileStore(declared_fields=None)
    store.note_event({"name": "paid", "payload": {"uid": "1"}})
    store.upsert({"uid": "1", "fields": {}})
    store.note_event({"name": "paid", "payload": {"uid": "1"}})
    store.note_event({"name": "anonymous", "payload": {}})
    assert [event["payload"] for event in store.early_events] == [{"uid": "1"}]

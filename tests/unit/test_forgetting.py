"""The pure parts of forgetting a person: who a value names, what a door mark stops,
and what is cut out of a message."""

from __future__ import annotations

import dramatiq

from schemas.identities import identity_key
from workers.core.door import Closed
from workers.erasure.person import Person
from workers.queue.forgotten import FORGOTTEN, scrubbed
from workers.queue.routes import PROFILE_BATCH, ROUTES

PERSON = Person([identity_key("email", "a@example.com"), identity_key("uid", "42")])


def test_a_person_is_named_in_any_spelling_under_any_identifier_name():
    assert PERSON.mentions({"user": {"email": "A@EXAMPLE.com"}})
    assert PERSON.mentions([{"rows": [{"recipient": "a@example.com."}]}])
    assert PERSON.mentions({"userId": 42})
    assert not PERSON.mentions({"level": 42, "note": "42", "uid": "420"})
    assert not PERSON.mentions({"email": "b@example.com", "flag": True})


def test_linking_adds_the_identifiers_stored_beside_one_of_theirs():
    person = Person([identity_key("uid", "42")])
    assert not person.link({"uid": "7", "email": "x@example.com"})
    assert person.link({"uid": "42", "phone": "+7 916 000-00-01"})
    assert identity_key("phone", "79160000001") in person.keys
    assert not person.link({"uid": "42"}), "nothing new"


def test_a_mark_stops_what_was_accepted_before_it_and_suppression_everything():
    mark = Closed(suppressed=False, at_ms=1000, number=10)
    assert mark.stops(accepted_ms=1000) and not mark.stops(accepted_ms=1001)
    assert mark.stops(number=10) and not mark.stops(number=11)
    assert mark.stops(), "data of unknown age is stopped"
    assert Closed(suppressed=True).stops(accepted_ms=10**15)


def stops_person(user, _message):
    return PERSON.mentions(user)


def test_a_message_loses_only_the_forgotten_person():
    batch = dramatiq.Message(
        "crm", PROFILE_BATCH.actor_name, ([{"uid": "42"}, {"uid": "7"}], "b1"), {}, {}
    )
    assert scrubbed(batch, stops_person).args == ([{"uid": "7"}], "b1")
    event = dramatiq.Message(
        "crm", ROUTES["event"].actor_name, ({"id": "e", "user": {"uid": "42"}},), {}, {"x": 1}
    )
    stone = scrubbed(event, stops_person)
    assert stone.args == () and stone.options == {"x": 1, FORGOTTEN: True}
    assert stone.message_id == event.message_id, "acknowledged by the same id"
    assert scrubbed(stone, stops_person) is None
    other = dramatiq.Message("crm", ROUTES["event"].actor_name, ({"user": {"uid": "7"}},), {}, {})
    assert scrubbed(other, stops_person) is None

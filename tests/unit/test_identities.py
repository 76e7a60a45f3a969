"""One mailbox, one key; one phone number, one key: every spelling a mail system
delivers to the same mailbox (or a phone network routes to the same number) gives the
same identity key."""

from __future__ import annotations

import unicodedata

import idna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.identities import (
    _normal_any_email,
    _normal_ascii_email,
    identity_key,
    named_key,
    normal_identifier,
)

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e"]
LETTERS = st.sampled_from("abcdefghijklmnopqrstuvwxyzéüöçñåßøяжщ")
LABEL = st.text(LETTERS, min_size=1, max_size=8)
DIGIT_SCRIPTS = [0x30, 0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50]


def full_width(text: str) -> str:
    """ASCII letters, digits and ``@`` as their full-width forms."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def mailboxes(draw) -> tuple[str, str]:
    """(local part, domain) of one mailbox, in a plain spelling."""
    local = draw(st.text(LETTERS, min_size=1, max_size=10))
    labels = draw(st.lists(LABEL, min_size=1, max_size=3))
    return local, ".".join([*labels, draw(st.sampled_from(["com", "example", "рф"]))])


@st.composite
def respelled(draw, mailbox: tuple[str, str]) -> str:
    """One of the mailbox's many spellings."""
    local, domain = mailbox
    case = draw(st.sampled_from([str.lower, str.upper, str.title]))
    local, domain = case(local), case(domain)
    if draw(st.booleans()):
        form = draw(st.sampled_from(["NFC", "NFD"]))
        local, domain = unicodedata.normalize(form, local), unicodedata.normalize(form, domain)
    if draw(st.booleans()):
        domain = idna.encode(domain.lower(), uts46=True).decode()
    if draw(st.booleans()):
        domain += "."
    at = draw(st.sampled_from(["@", "\uff20", "\ufe6b"]))
    address = local + at + domain
    if draw(st.booleans()):
        address = full_width(address)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(0, len(address)))
        address = address[:where] + draw(st.sampled_from(INVISIBLE)) + address[where:]
    return draw(st.sampled_from(["", " ", "\u00a0", "\t"])) + address


@given(st.data())
def test_every_spelling_of_a_mailbox_has_one_key(data):
    mailbox = data.draw(mailboxes())
    first, second = data.draw(respelled(mailbox)), data.draw(respelled(mailbox))
    assert identity_key("email", first) == identity_key("email", second), (first, second)


@given(st.text(st.characters(max_codepoint=127), max_size=30))
def test_an_ascii_address_takes_a_short_way_to_the_same_key(address):
    assert _normal_ascii_email(address) == _normal_any_email(address)


@given(st.text("0123456789", min_size=6, max_size=15), st.data())
def test_every_spelling_of_a_phone_number_has_one_key(number, data):
    script = data.draw(st.sampled_from(DIGIT_SCRIPTS))
    digits = "".join(chr(script + int(d)) for d in number)
    separator = data.draw(st.sampled_from(["", " ", "-", "\u00a0", "\u200b"]))
    spelled = "+" + separator.join(digits[i : i + 3] for i in range(0, len(digits), 3))
    assert normal_identifier("phone", spelled) == number


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("Café@Example.COM", "email:café@example.com"),
        ("cafe\u0301@example.com", "email:café@example.com"),
        ("u@bücher.example", "email:u@xn--bcher-kva.example"),
        ("u@XN--BCHER-KVA.example.", "email:u@xn--bcher-kva.example"),
        (full_width("admin@example.com"), "email:admin@example.com"),
        ("ad\u200bmin@exam\u00adple.com", "email:admin@example.com"),
        ("u@ex_ample.com", "email:u@ex_ample.com"),
        ("+7 (916) 000-00-01", "phone:79160000001"),
        ("+٧٩١٦٠٠٠٠٠٠١", "phone:79160000001"),
        ("8 916 000 00 01", "phone:89160000001"),
        ("User-42", "uid:User-42"),
    ],
)
def test_normal_keys(given, key):
    assert identity_key(key.partition(":")[0], given) == key


def test_a_named_bare_address_is_an_email_key():
    assert named_key(full_width("A") + "@Example.com.") == "email:a@example.com"
    assert named_key("nothing") is None

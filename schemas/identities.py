"""The one form identifiers are compared in, wherever hookrelay decides by identity:
coalescing profiles, event order, suppressions, the frequency cap. What reaches a
platform is what the app sent.

Every spelling of one mailbox gives one key, and so does every spelling of one phone
number. Where matching more and matching less conflict, this matches more: a
suppression must never be bypassed by a respelling, and two addresses that share a key
only ever get fewer sends between them, never more (docs/api.md, "One person, one
key").
"""

from __future__ import annotations

import unicodedata
from typing import Any

import idna

from .events import IDENTIFIERS


def normal_identifier(kind: str, value: str) -> str:
    """How hookrelay compares an identifier (a uid or push token: as given).

    An email address: in Unicode's compatibility form (NFKC: full-width letters and
    at sign are the ASCII ones, a decomposed ``é`` the composed one), without invisible
    characters or spaces, case-folded, its domain without a trailing dot and in its
    ASCII (IDNA) form: ``Café@Bücher.Example.`` is ``café@xn--bcher-kva.example``.
    ``+tags`` and dots in the local part are kept: whether they reach the same
    mailbox depends on the provider.

    A phone number: its digits, of whichever script (full-width, Arabic-Indic ...), as
    ASCII digits: ``+7 916 000-00-01`` is ``79160000001`` (E.164 without the ``+``; a
    national form such as ``8 916 ...`` stays a different number)."""
    value = str(value)
    if kind == "email":
        return normal_email(value)
    if kind == "phone":
        text = unicodedata.normalize("NFKC", value)
        digits = "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())
        return digits or value.strip()
    return value


def normal_email(address: str) -> str:
    if address.isascii():
        return _normal_ascii_email(address)
    return _normal_any_email(address)


def _normal_any_email(address: str) -> str:
    visible = "".join(c for c in address if _visible(c))
    local, at, domain = unicodedata.normalize("NFKC", visible).rpartition("@")
    if not at:
        return _folded(domain)
    return f"{_folded(local)}@{_normal_domain(domain.rstrip('.'))}"


#: The ASCII characters :func:`_visible` leaves out: the spaces (``str.isspace``).
_ASCII_SPACES = {code: None for code in range(128) if chr(code).isspace()}


def _normal_ascii_email(address: str) -> str:
    """:func:`normal_email` of an ASCII address (most of them) in a quarter of the time:
    ASCII holds no format character, NFKC leaves it as it is, and folding its case is
    lowering it."""
    local, at, domain = address.translate(_ASCII_SPACES).rpartition("@")
    if not at:
        return domain.lower()
    return f"{local.lower()}@{_normal_domain(domain.rstrip('.'))}"


def _folded(text: str) -> str:
    """Case-folded, then composed again (folding may decompose: ``İ`` is ``i̇``)."""
    return unicodedata.normalize("NFKC", text.casefold())


def _visible(char: str) -> bool:
    """Not a format character (zero-width spaces and joiners, soft hyphens, marks of
    direction) nor a space of any kind."""
    return not char.isspace() and unicodedata.category(char) != "Cf"


def _normal_domain(domain: str) -> str:
    """A domain case-folded in its Unicode form, then in its ASCII form: ``Bücher.example``
    and ``xn--bcher-kva.example`` are ``xn--bcher-kva.example``, and ``ß.com``,
    ``xn--zca.com`` and ``ss.com`` all ``ss.com``. One that is no valid international
    name (``ex_ample.com``) is only case-folded."""
    if domain.isascii() and "xn--" not in domain.lower():
        return domain.lower()
    try:
        unicode = _folded(idna.decode(domain, uts46=True))
        return idna.encode(unicode, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return _folded(domain)


def identity_key(kind: str, value: str) -> str:
    """The key hookrelay decides by (coalescing, suppressions, the frequency cap)."""
    return f"{kind}:{normal_identifier(kind, value)}"


def keys_of(ids: Any) -> list[str]:
    """The identity keys of an identifier dict (a user, a batch's profile reference, a
    hashmap): one per identifier it has, in :data:`IDENTIFIERS` order."""
    if not isinstance(ids, dict):
        return []
    return [identity_key(kind, str(ids[kind])) for kind in IDENTIFIERS if ids.get(kind)]


def normal_key(key: str) -> str:
    """An identity key as given (``email:A@Example.COM``) in its normal form; a key of
    no known kind is left as it is."""
    kind, _, value = key.partition(":")
    return identity_key(kind, value) if kind in IDENTIFIERS else key


def named_key(text: str) -> str | None:
    """The identity key someone names (``email:a@example.com``, ``uid:42``), a bare
    email address taken as ``email:``; ``None`` when it names no kind."""
    kind, _, value = text.partition(":")
    if kind in IDENTIFIERS and value:
        return normal_key(text)
    return identity_key("email", text) if "@" in text else None


#: Field names that hold an identifier of the kind they map to, in what hookrelay keeps
#: (its own events, and rows the platforms answer).
NAMED = {
    **{kind: kind for kind in IDENTIFIERS},
    "user_id": "uid",
    "userId": "uid",
    "external_id": "uid",
    "push_token": "wp_token",
    "hwid": "wp_token",
    "phone_number": "phone",
    "msisdn": "phone",
}


def named_keys(value: Any) -> set[str]:
    """The identity keys a JSON-like value names, at any depth: identifiers under their
    own names (:data:`NAMED`), and every string that looks like an email address."""
    keys: set[str] = set()
    if isinstance(value, dict):
        for name, item in value.items():
            kind = NAMED.get(name) if isinstance(name, str) else None
            if kind and isinstance(item, str | int) and not isinstance(item, bool):
                keys.add(identity_key(kind, str(item)))
            keys |= named_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            keys |= named_keys(item)
    elif isinstance(value, str) and "@" in value:
        keys.add(identity_key("email", value))
    return keys

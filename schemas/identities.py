"""The one form identifiers are compared in, wherever hookrelay decides by identity:
coalescing profiles, event order, suppressions, the frequency cap. What reaches a
platform is what the app sent."""

from __future__ import annotations

import re

from .events import IDENTIFIERS

_NOT_DIGITS = re.compile(r"\D")


def normal_identifier(kind: str, value: str) -> str:
    """How hookrelay compares an identifier: an email trimmed and in lower case
    (``A@Example.COM `` is ``a@example.com``), a phone number as its digits (``+7 916
    000-00-01`` is ``79160000001``: E.164 without the ``+``; a national form such as
    ``8 916 ...`` stays a different number), a uid or push token as given."""
    value = str(value)
    if kind == "email":
        return value.strip().lower()
    if kind == "phone":
        return _NOT_DIGITS.sub("", value) or value.strip()
    return value


def identity_key(kind: str, value: str) -> str:
    """The key hookrelay decides by (coalescing, suppressions, the frequency cap)."""
    return f"{kind}:{normal_identifier(kind, value)}"


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

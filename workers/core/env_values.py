"""Reading settings beyond what environs does: comma-separated items, and the checks of
values that marshmallow's validators do not cover, each raising the
``ValidationError`` that names the variable in the settings' report
(workers/core/settings.py)."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import environs
import marshmallow

from schemas.segment import FORWARDABLE

#: How a Standard Webhooks secret starts.
STANDARD_WEBHOOKS_PREFIX = "whsec_"
#: How hook placeholders are written by default (``HOOKRELAY_HOOK_PLACEHOLDER``):
#: ``name`` stands for each field's name.
HOOK_PLACEHOLDER = "{name}"
#: The shortest hook key (``HOOKRELAY_HOOK_KEYS``): 128 bits as hex.
HOOK_KEY_MIN = 32
#: What a platform can report about an address (``SUPPRESS_FROM_FEEDBACK``).
FEEDBACK_KINDS = ("hardbounce", "softbounce", "complaint", "unsubscribe")


def items(env: environs.Env, name: str, default: Iterable[str] = (), **options: Any) -> list[str]:
    """A comma-separated variable's items, stripped, the empty ones left out."""
    values = env.list(name, list(default), subcast=str, **options) or []
    return [value.strip() for value in values if value.strip()]


def signing_secrets(values: list[str]) -> None:
    """A secret is ``whsec_`` and base64 of 24 to 64 bytes, as Standard Webhooks says."""
    for value in (v.strip() for v in values if v.strip()):
        encoded = value.removeprefix(STANDARD_WEBHOOKS_PREFIX)
        try:
            key = base64.b64decode(encoded, validate=True) if encoded != value else b""
        except ValueError:
            key = b""
        if not 24 <= len(key) <= 64:
            raise marshmallow.ValidationError(
                "a signing secret is whsec_ and the base64 of 24 to 64 random bytes "
                "(e.g. whsec_$(openssl rand -base64 32)), as Standard Webhooks has it"
            )


def forwardable(values: list[str]) -> None:
    unknown = sorted({v.strip().lower() for v in values if v.strip()} - set(FORWARDABLE))
    if unknown:
        raise marshmallow.ValidationError(
            f"unknown type(s) {', '.join(unknown)}; expected some of {', '.join(FORWARDABLE)}"
        )


def path_prefix(value: str) -> None:
    if value and (not value.startswith("/") or "//" in value or not value.strip("/")):
        raise marshmallow.ValidationError(f"expected a path such as /segment, got {value!r}")


def address(value: str) -> None:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise marshmallow.ValidationError(
            f"expected an IPv4 address to listen on (0.0.0.0, 127.0.0.1), got {value!r}"
        ) from None


def redis_url(value: str) -> None:
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise marshmallow.ValidationError(
            f"expected a redis://, rediss:// or unix:// URL, got {value!r}"
        )


def feedback_kinds(values: list[str]) -> None:
    unknown = sorted({v.strip().lower() for v in values if v.strip()} - set(FEEDBACK_KINDS))
    if unknown:
        raise marshmallow.ValidationError(
            f"unknown kind(s) {', '.join(unknown)}; expected some of {', '.join(FEEDBACK_KINDS)}"
        )


def seconds(values: list[str]) -> None:
    """Whole seconds, each ≥ 1 (checked here: environs drops the messages of a list's
    items and keeps only their indexes)."""
    if not values or not all(value.strip().isdigit() and int(value) >= 1 for value in values):
        raise marshmallow.ValidationError("expected comma-separated whole seconds, each ≥ 1")


def hook_keys(values: list[str]) -> None:
    """A hook key is long enough to be guessed by no one (``openssl rand -hex 16``)."""
    if any(len(value.strip()) < HOOK_KEY_MIN for value in values if value.strip()):
        raise marshmallow.ValidationError(
            f"a hook key is at least {HOOK_KEY_MIN} characters (e.g. $(openssl rand -hex 32))"
        )


def placeholder(value: str) -> None:
    """A placeholder syntax names the field once, as ``name``: ``{name}``, ``{{name}}``."""
    if value.count("name") != 1 or value == "name":
        raise marshmallow.ValidationError(
            "write the placeholder with 'name' once for the field's name, e.g. {name} or {{name}}"
        )


def http_url(value: str) -> None:
    """An http(s) URL with a host (or nothing)."""
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise marshmallow.ValidationError(f"not an http(s) URL: {value!r}")

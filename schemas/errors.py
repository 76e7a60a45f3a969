"""marshmallow's error messages as one line a person reads."""

from __future__ import annotations

from typing import Any


def one_line(messages: Any, path: str = "") -> str:
    """Nested messages as ``user.email: Not a valid email address.; id: …``."""
    if isinstance(messages, dict):
        return "; ".join(
            one_line(value, path if key == "_schema" else f"{path}.{key}".lstrip("."))
            for key, value in messages.items()
        )
    text = " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
    return f"{path}: {text}" if path else text

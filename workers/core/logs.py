"""hookrelay's log lines: structured, and with personal data and secrets masked.

- :class:`ConsumerOutages` makes a broker outage one line, not a dozen every 3 s.
- :class:`MessagesById` keeps event contents out: Dramatiq logs a message as
  ``actor(args...)``, which for hookrelay is a whole event; the filter renders it as
  ``actor[message_id]``.
- :class:`Masked` formats each record as one JSON object (``LOG_FORMAT=json``, the
  default when stderr is not a terminal) or as text, and masks on the way out, in the
  message and in any traceback: the configured keys and secrets, e-mail addresses,
  phone numbers (:func:`_phone`), push tokens (40+ characters of letters, digits,
  ``:``, ``_`` and ``-``) and ``Bearer``/``Basic`` credentials, in every field of a
  JSON line (an event id a client chose may be an address or a number). Times (ISO
  dates and times, epoch seconds and milliseconds), counts, durations, UUIDs, SHA1
  digests, IP addresses with their ports and Redis stream ids are left as they are.
  Masking is the last line of defence; nothing logs an event's body on purpose.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.compat import StreamablePipe

#: Fields a record may carry (``extra=``) that the JSON form includes.
FIELDS = (
    "event_id",
    "message_id",
    "actor",
    "platform",
    "outcome",
    "status",
    "attempt",
    "traceparent",
)
#: Fields whose form is checked where they are made, and that name no one: not masked
#: (a traceparent's hex reads as a token to the masking).
UNMASKED = frozenset({"traceparent"})

#: A run of digits that may be a phone number: ``+`` or not, the digits grouped by
#: spaces, dashes, dots or parentheses, not within a word, a path or a number (an id a
#: client chose, ``tel-79161112233``, may hold one: it is masked too).
_DIGIT_RUN = re.compile(r"(?<![\w.+/:#])\+?\(?\d[\d ().-]*\d(?![\w/:])")
#: Bare digits of these lengths beginning with 1 are epoch times (seconds,
#: milliseconds, micro- and nanoseconds); no phone number is written so: a number of
#: country code 1 has 11 digits, and no other country code begins with 1.
_EPOCH_LENGTHS = (10, 13, 16, 19)


def _phone(match: re.Match) -> str:
    """``[phone]`` for a digit run that may be a phone number: 9 to 15 digits (E.164's
    longest), or 7 to 15 after a ``+``, but for a bare epoch time."""
    text = match.group()
    if text.isdigit() and len(text) in _EPOCH_LENGTHS and text[0] == "1":
        return text
    digits = sum(c.isdigit() for c in text)
    shortest = 7 if text.startswith("+") else 9
    return "[phone]" if shortest <= digits <= 15 else text


_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [secret]"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b[A-Za-z0-9][A-Za-z0-9:_-]{39,}"), "[token]"),
    (_DIGIT_RUN, _phone),
)


#: What looks like personal data but is ours and never is: UUIDs (message ids, whose
#: last group may be all digits), SHA1 digests (script and row hashes, 40 hex), ISO
#: dates and times, IPv4 addresses (with a port) and Redis stream ids.
_NOT_PERSONAL = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b[0-9a-f]{40}\b"
    r"|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"
    r"|\b1\d{12}-\d+\b"
)


#: What every pattern above needs to match anywhere in a text: ``bearer``/``basic``, an
#: ``@``, 40 token characters in a row, 7 digits. A text without any of them (most log
#: fields: an actor, a platform, a short message) is its own masked form.
_SUSPECT = re.compile(r"(?i:bearer|basic)|@|[A-Za-z0-9:_-]{40}|\d(?:\D*\d){6}")


def mask(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with the secrets and personal data in it masked (the module docstring).

    Masking a text goes through several patterns (about 7 µs for a word); one search
    first tells the texts none of them can match, and those are left as they are."""
    if not any(secret in text for secret in secrets) and (
        _SUSPECT.search(text) is None or _NOT_PERSONAL.fullmatch(text)
    ):
        return text
    return _masked(text, secrets)


def _masked(text: str, secrets: Sequence[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, "[secret]")
    kept = _NOT_PERSONAL.findall(text)
    parts = _NOT_PERSONAL.split(text)
    for pattern, replacement in _PATTERNS:
        parts = [pattern.sub(replacement, part) for part in parts]
    return "".join(part + keep for part, keep in zip(parts, [*kept, ""], strict=True))


class Masked(logging.Formatter):
    """Parameters:
    as_json: one JSON object per line (time, level, logger, message, :data:`FIELDS`)
      instead of text.
    secrets: literal values to mask wherever they appear (API keys, passwords ...);
      values shorter than 4 characters are ignored, they would mask ordinary words.
    """

    def __init__(self, *, as_json: bool, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
        self.as_json = as_json
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        if not self.as_json:
            return mask(super().format(record), self.secrets)
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": mask(record.getMessage(), self.secrets),
        }
        entry.update(
            {
                key: mask(value, self.secrets)
                if isinstance(value, str) and key not in UNMASKED
                else value
                for key in FIELDS
                if hasattr(record, key)
                for value in (getattr(record, key),)
            }
        )
        if record.exc_info:
            entry["error"] = mask(self.formatException(record.exc_info), self.secrets)
        return json.dumps(entry, default=str)


class MessagesById(logging.Filter):
    """Render Dramatiq messages in log records by actor and id only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_by_id(arg) for arg in record.args)
        return True


class ConsumerOutages(logging.Filter):
    """One line per broker outage from Dramatiq's consumer threads.

    While the broker is away, each consumer thread logs "Consumer encountered a
    connection error" and "Restarting consumer in 3.00 seconds." every 3 s: a dozen
    lines every 3 s from a worker, saying the same thing. The first connection error of
    an outage passes, saying so; the outage's other such lines, from any consumer
    thread, are dropped. An outage is over once no consumer thread has met a connection
    error for ``quiet_s``. Other errors of consumer threads (unexpected ones, with their
    traceback) always pass.
    """

    LOGGERS = "dramatiq.worker.ConsumerThread"
    NOTE = " (consumer threads retry every few seconds, without logging it again this outage)"

    def __init__(
        self, *, quiet_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.quiet_s = quiet_s
        self._clock = clock
        self._last_error: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.LOGGERS) or not isinstance(record.msg, str):
            return True
        if record.msg.startswith("Consumer encountered a connection error"):
            first = not self._in_outage()
            self._last_error = self._clock()
            if first:
                record.msg += self.NOTE
            return first
        if record.msg.startswith("Restarting consumer"):
            return not self._in_outage()
        return True

    def _in_outage(self) -> bool:
        return self._last_error is not None and self._clock() - self._last_error <= self.quiet_s


def _by_id(arg: object) -> object:
    if isinstance(arg, Message | MessageProxy):
        return f"{arg.actor_name}[{arg.message_id}]"
    return arg


def wants_json(log_format: str) -> bool:
    """``json``/``text`` as configured; ``auto``: JSON unless stderr is a terminal."""
    return log_format == "json" or (log_format == "auto" and not os.isatty(2))


#: The standard error a Dramatiq worker process inherited (its ``sys.stderr`` is a pipe).
STDERR = 2
#: The logger of Dramatiq's worker threads, which log every failed message.
DRAMATIQ_WORKER_THREAD = "dramatiq.worker.WorkerThread"

#: Libraries that log each request or each failed attempt, raised to these levels: our
#: own lines say what happened (a delivery's outcome, a paused relay) once.
QUIET_LOGGERS = {"httpx": logging.WARNING, "pika": logging.CRITICAL, "alembic": logging.WARNING}


def install(*, log_format: str, level: int, secrets: Iterable[str]) -> None:
    """Give every handler of the root logger (the process's output) the masking
    formatter, the message filter and one outage filter, and set the root and the chatty
    libraries' levels."""
    root = logging.getLogger()
    root.setLevel(level)
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, quiet))
    if not root.handlers:
        root.addHandler(StderrHandler())
    formatter = Masked(as_json=wants_json(log_format), secrets=secrets)
    outages = ConsumerOutages()
    failures = logging.getLogger(DRAMATIQ_WORKER_THREAD)
    if not any(isinstance(f, DramatiqFailureLines) for f in failures.filters):
        failures.addFilter(DramatiqFailureLines())
    for handler in root.handlers:
        handler.setFormatter(formatter)
        # Installed again (a worker process after its parent): one of each filter.
        for kind, made in ((MessagesById, MessagesById()), (ConsumerOutages, outages)):
            if not any(isinstance(f, kind) for f in handler.filters):
                handler.addFilter(made)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, not what it was when
    the handler was made; in a Dramatiq worker process, straight to the standard error
    it inherited instead.

    Dramatiq points its child processes' ``sys.stderr`` at a pipe to their parent,
    which writes each line again: two processes' system calls and a wake-up per line,
    ~0.1 ms of a worker's CPU per delivered event (docs/development.md). A record goes
    in one ``write``, which a pipe takes whole up to ``PIPE_BUF`` (4 KB), so lines from
    several processes never interleave; a longer one (a long traceback) still goes
    through the parent, which writes it whole."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(sys.stderr, StreamablePipe):
            super().emit(record)
            return
        try:
            text = self.format(record) + self.terminator
            line = text.encode("utf-8", "replace")
            if len(line) > select.PIPE_BUF:
                sys.stderr.write(text)
                sys.stderr.flush()
                return
            while line:
                line = line[os.write(STDERR, line) :]
        except Exception:
            self.handleError(record)


class DramatiqFailureLines(logging.Filter):
    """Drops Dramatiq's "Failed to process message …" lines: the delivery policy's own
    line for the same failure says more (retried when, or dead-lettered why) and carries
    the traceback where the error was not an expected one (workers/queue/retry.py), so
    a failed attempt is one line, not two."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to process message")


def dict_config(*, log_format: str, level: int, secrets: Iterable[str]) -> dict:
    """The same as :func:`install`, as a ``logging.config.dictConfig`` mapping (for
    gunicorn's ``logconfig_dict``), covering gunicorn's own error log too."""
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "masked",
        "filters": ["by_id"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "masked": {
                "()": Masked,
                "as_json": wants_json(log_format),
                "secrets": list(secrets),
            }
        },
        "filters": {"by_id": {"()": MessagesById}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": level, "handlers": [], "propagate": False},
            **{name: {"level": max(level, quiet)} for name, quiet in QUIET_LOGGERS.items()},
        },
    }

"""Fewer Redis round trips per delivery: script calls run together in one pipeline, and
writes nobody waits for held until the thread's next round trip.

A round trip costs a worker far more CPU than the script it runs: redis-py's framing,
a blocking read, and handing the GIL to and from the worker's other threads. A delivery
makes a few writes whose answer nothing waits for (its trace entries, the rate limit's
stamp, the circuit's record, the per-minute count). While a worker thread holds its
writes (:func:`hold`, from the start of a message to its end, workers/queue/held.py),
:func:`later` keeps them; they go with the thread's next :func:`run_together` (the
next call's admission, the message's acknowledgement through :class:`WithHeld`), or
with :func:`flush`. A thread that does not hold (a periodic task, a test) runs them at
once.

Trade-off: a held write reaches Redis up to one platform call later than it would
alone. The rate limit's stamp is then later than the request's answer, which only
keeps its slot a little longer (never more calls than the limit); a trace's entries
keep the time they were made. A held write that fails is reported to its own
``failed`` (each logs, as it did alone), never to the call it rode with. A worker
killed between a platform's answer and the acknowledgement loses what its thread held:
the message is delivered again by another worker, as it would be anyway, and its trace
lacks the killed attempt's outcome (its ``taken`` entry went with an earlier round trip).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
import redis
from redis.commands.core import Script
from redis.connection import AbstractConnection
from redis.exceptions import NoScriptError

from workers.core.lua import ScriptCall


def _ignore(answer: Any) -> None:
    """The answer of a write nobody reads."""


@dataclass(frozen=True)
class Held:
    """A write whose answer nobody waits for: ``answered`` reads it when it comes,
    ``failed`` reports why it did not."""

    call: ScriptCall
    failed: Callable[[Exception], None]
    answered: Callable[[Any], None] = _ignore


_thread = threading.local()


def hold() -> None:
    """From now until :func:`flush`, this thread's :func:`later` writes wait for its
    next round trip."""
    if getattr(_thread, "held", None) is None:
        _thread.held = []


def later(*writes: Held) -> None:
    """Run ``writes`` with this thread's next round trip if it holds, else now (in one)."""
    held = getattr(_thread, "held", None)
    if held is None:
        _run_by_client(list(writes))
    else:
        held.extend(writes)


def flush() -> None:
    """Run this thread's held writes now, and stop holding."""
    held, _thread.held = getattr(_thread, "held", None) or [], None
    _run_by_client(held)


def run_together(calls: list[ScriptCall]) -> list[Any]:
    """Run ``calls`` (scripts registered on one client) in one round trip, with the
    writes this thread holds for that client; the calls' answers.

    Each call is an ``EVALSHA`` by the script's digest (:func:`_pipeline`). A script
    Redis lacks (a restarted or new primary) is loaded by running that call again
    alone; any other error is raised.
    """
    if not calls:
        return []
    riders = _take_held(_client(calls[0]))
    try:
        answers = _pipeline([write.call for write in riders] + calls)
    except redis.RedisError as error:
        for write in riders:
            write.failed(error)
        raise
    _settle(riders, answers[: len(riders)])
    answers = answers[len(riders) :]
    for i, answer in enumerate(answers):
        if isinstance(answer, NoScriptError):
            answers[i] = calls[i].script(keys=calls[i].keys, args=calls[i].args)
        elif isinstance(answer, Exception):
            raise answer
    return answers


class WithHeld:
    """``script``, called as redis-py's ``Script`` is, run with the writes the calling
    thread holds for its client: for a caller that is not ours (Dramatiq's broker, whose
    acknowledgement then carries its message's held writes in its round trip)."""

    def __init__(self, script: Script) -> None:
        self.script = script

    def __call__(
        self, keys: Sequence[Any] = (), args: Sequence[Any] = (), client: Any = None
    ) -> Any:
        if client is not None:
            return self.script(keys=keys, args=args, client=client)
        return run_together([ScriptCall(self.script, list(keys), list(args))])[0]


def _client(call: ScriptCall) -> redis.Redis:
    return call.script.registered_client


def _take_held(client: redis.Redis) -> list[Held]:
    held = getattr(_thread, "held", None)
    if not held:
        return []
    riders, held[:] = _split(held, client)
    return riders


def _split(writes: list[Held], client: redis.Redis) -> tuple[list[Held], list[Held]]:
    """``writes`` for ``client``, and the others."""
    mine = [write for write in writes if _client(write.call) is client]
    return mine, [write for write in writes if _client(write.call) is not client]


def _pipeline(calls: list[ScriptCall]) -> list[Any]:
    """``EVALSHA`` of each call on one connection of the client's pool, in one round
    trip; each call's answer, or the error Redis answered it with.

    Not redis-py's ``Pipeline``: it packs every argument in Python, keeps a parse
    callback per command and resets itself after, ~0.2 ms of a worker's CPU per
    delivery (docs/development.md). hiredis packs each command in one call; the
    connection comes from the pool (its health check, Sentinel's primary) and a
    broken one is retried with the client's own retry policy, as its pipeline would.
    """
    pool = _client(calls[0]).connection_pool
    packed = [
        hiredis.pack_command(("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args))
        for call in calls
    ]
    connection = pool.get_connection()
    try:
        return connection.retry.call_with_retry(
            lambda: _send(connection, packed), lambda error: connection.disconnect()
        )
    finally:
        pool.release(connection)


def _send(connection: AbstractConnection, packed: list[bytes]) -> list[Any]:
    connection.send_packed_command(packed)
    answers: list[Any] = []
    for _ in packed:
        try:
            answers.append(connection.read_response())
        except redis.ResponseError as error:  # read whole: the next answer is in step
            answers.append(error)
    return answers


def _run_by_client(writes: list[Held]) -> None:
    """``writes`` in one round trip per client they are for."""
    while writes:
        mine, writes = _split(writes, _client(writes[0].call))
        _run_held(mine)


def _run_held(writes: list[Held]) -> None:
    try:
        answers = _pipeline([write.call for write in writes])
    except redis.RedisError as error:
        for write in writes:
            write.failed(error)
        return
    _settle(writes, answers)


def _settle(writes: list[Held], answers: list[Any]) -> None:
    """Hand each held write its answer, or its error (a script Redis lacked is loaded
    by running that write again alone)."""
    for write, answer in zip(writes, answers, strict=True):
        if isinstance(answer, NoScriptError):
            try:
                answer = write.call.script(keys=write.call.keys, args=write.call.args)
            except redis.RedisError as error:
                answer = error
        if isinstance(answer, Exception):
            write.failed(answer)
        else:
            write.answered(answer)

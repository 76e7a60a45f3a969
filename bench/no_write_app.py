"""Diagnostic only: the receiver with its Redis write replaced by a no-op.

Shows what authentication, parsing, validation and building the script's arguments
cost on their own, so the benchmark can say how much of the gap to the empty endpoint
is the durable write.
"""

import dataclasses

from flask import Flask

from webhook.app import create_app as create_receiver
from webhook.hub import EXTENSION
from webhook.intake.queue import EventQueue

#: The enqueue script's arguments: two, then seven per event (webhook/intake/enqueue.lua).
FIXED, PER_EVENT = 2, 7


class _NoWrite(EventQueue):
    def _enqueue(self, args: list) -> list:
        return [1] * ((len(args) - FIXED) // PER_EVENT)


def create_app() -> Flask:
    app = create_receiver()
    hub = app.extensions[EXTENSION]
    app.extensions[EXTENSION] = dataclasses.replace(hub, queue=_NoWrite(hub.redis))
    return app

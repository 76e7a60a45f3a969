"""Diagnostic only: the receiver with its Redis write replaced by a no-op.

Shows what authentication, parsing and validation cost on their own, so the benchmark
can say how much of the gap to the empty endpoint is the durable write.
"""

import dataclasses

from flask import Flask

from webhook.app import create_app as create_receiver
from webhook.hub import EXTENSION
from webhook.intake.queue import SubmitResult


class _NoWrite:
    def submit(self, events: list[dict]) -> SubmitResult:
        return SubmitResult(accepted=len(events), duplicates=0, new=(True,) * len(events))


def create_app() -> Flask:
    app = create_receiver()
    app.extensions[EXTENSION] = dataclasses.replace(app.extensions[EXTENSION], queue=_NoWrite())
    return app

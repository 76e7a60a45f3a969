"""The ``worker`` process: Dramatiq's own command line (``hookrelay worker`` runs
``python -m workers.main workers.app …``), with hookrelay's logging installed first.

``python -m dramatiq`` gives its main process and its fork processes (the worker's
``/metrics``) a plain-text format of its own, so their lines (booting, stopping,
signals) bypassed the JSON form and the masking. Here the masking formatter is on the
root logger before Dramatiq starts, and Dramatiq is told to leave logging alone
(``--skip-logging``, which the caller passes); its child processes inherit the handler,
which writes to whatever ``sys.stderr`` is, the pipe Dramatiq collects their output
through.
"""

from __future__ import annotations

import sys

from dramatiq.cli import main as dramatiq_main

from workers.core import logs
from workers.core.settings import load_settings


def main() -> int:
    settings = load_settings()
    logs.install(
        log_format=settings.log_format, level=settings.log_level, secrets=settings.secrets()
    )
    return dramatiq_main()


if __name__ == "__main__":
    sys.exit(main())

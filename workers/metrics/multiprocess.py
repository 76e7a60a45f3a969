"""Where a process group keeps its metric files, set up by the group's parent.

prometheus_client's multiprocess mode adds the processes of one group up: each writes
memory-mapped files under ``PROMETHEUS_MULTIPROC_DIR``, and a scrape reads them all
(workers/metrics/exposition.py). ``hookrelay web`` and ``hookrelay worker`` call
:func:`prepare_directory`, then exec gunicorn or Dramatiq: the variable must be set
before prometheus_client is imported (it picks its mode once, on import), so this
module imports nothing of it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_directory(base: Path, group: str) -> Path:
    """A fresh, empty directory for one process group's metric files, exported in
    ``PROMETHEUS_MULTIPROC_DIR`` to this process and its children.

    Named after the calling (parent) process, so several groups on one host do not
    mix; directories of groups whose parent is gone are removed on the way.
    """
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.glob(f"{group}-*"):
        pid = stale.name.rpartition("-")[2]
        if not pid.isdigit() or not process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    directory = (base / f"{group}-{os.getpid()}").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

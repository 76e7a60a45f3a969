"""Where a Dramatiq worker process's log lines go (workers/core/logs.py, StderrHandler):
straight to the standard error it inherited, or, when longer than a pipe takes whole,
through the pipe Dramatiq's parent collects its children's output from. Run in a real
process set up as Dramatiq sets up its children."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, logging, multiprocessing, sys
from dramatiq.compat import StreamablePipe
from workers.core import logs

read, write = multiprocessing.Pipe(duplex=False)
sys.stderr = StreamablePipe(write)  # as Dramatiq's worker processes have it
logs.install(log_format="json", level=logging.INFO, secrets=[])
logging.getLogger("t").info("a short line")
logging.getLogger("t").info("a long line: %s", "word " * 1000)
write.close()
relayed = []
while True:
    try:
        relayed.append(read.recv_bytes().decode())
    except EOFError:
        break
sys.__stdout__.write(json.dumps(relayed))
"""


def test_a_worker_process_writes_its_lines_to_stderr_and_long_ones_through_its_parent():
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True
    )
    direct = [json.loads(line)["message"] for line in child.stderr.splitlines()]
    relayed = [json.loads(line)["message"] for line in json.loads(child.stdout)]
    assert direct == ["a short line"]
    assert relayed == ["a long line: " + "word " * 1000]

"""waitress serving the receiver in several processes on one listening socket, for
``bench.servers`` (waitress itself runs one process).

    python -m bench.prefork_waitress PORT PROCESSES THREADS
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from waitress import create_server

from webhook.app import MAX_BODY_BYTES, create_app


def main() -> None:
    port, processes, threads = (int(arg) for arg in sys.argv[1:4])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    children = [_serve(listener, threads) for _ in range(processes)]
    signal.signal(signal.SIGTERM, lambda *_: [os.kill(pid, signal.SIGTERM) for pid in children])
    for pid in children:
        os.waitpid(pid, 0)


def _serve(listener: socket.socket, threads: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    server = create_server(
        create_app(),
        sockets=[listener],
        threads=threads,
        connection_limit=2000,
        channel_timeout=10,
        max_request_body_size=MAX_BODY_BYTES + 1,
        max_request_header_size=64 * 1024,
        asyncore_use_poll=True,
    )
    server.run()
    os._exit(0)


if __name__ == "__main__":
    main()

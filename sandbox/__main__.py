"""``python -m sandbox``: serve the simulated platforms until interrupted.

Prints ``sandbox listening on <url>`` once the socket is bound (``--port 0`` picks a
free port), so a parent process can read the address from the first line.
"""

from __future__ import annotations

import argparse
import logging
import signal

from werkzeug.serving import make_server

from .app import create_app
from .state import PROFILE_ORDERS, SandboxState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--login", default="sandbox")
    parser.add_argument("--secret", default="sandbox-secret")
    parser.add_argument(
        "--declared-fields",
        help="comma-separated custom fields the platform keeps (default: all)",
    )
    parser.add_argument(
        "--profile-order",
        choices=PROFILE_ORDERS,
        default="stamp",
        help="apply profile updates by their stamp (default) or in arrival order",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    declared = frozenset(args.declared_fields.split(",")) if args.declared_fields else None
    state = SandboxState(login=args.login, secret=args.secret, declared_fields=declared)
    state.set_profile_order(args.profile_order)
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)
    server = make_server(args.host, args.port, create_app(state), threaded=True)
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"sandbox listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()

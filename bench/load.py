"""A small closed-loop HTTP load generator for benchmarks on loopback.

Each of ``processes`` processes runs ``connections`` threads; each thread keeps one
keep-alive connection and sends one request after another for ``duration_s`` — as
fast as it can, or, with ``rate_per_s``, on a fixed schedule that shares that total
rate. Paced connections are staggered evenly over one interval: started together they
would fire in bursts of ``processes * connections`` requests, and the percentiles would
show the burst queueing rather than the server. Paced latencies are measured from each
request's scheduled time, so a server that falls behind shows it in the percentiles
instead of slowing the load down. Request bytes are built from a template with a
per-request counter that no other run of the process repeats, so every event id is
unique (a warm-up's too), and responses are parsed just enough
to find their end. Counts and latencies are collected per process and merged.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

#: Where each run's sequence numbers start: far enough apart that no two runs meet.
_FIRST_SEQS = count(0, 10**9)


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def http_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_response(sock: socket.socket, buffer: bytearray) -> int:
    """Read one response off ``sock``; return its status code."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buffer[:] = rest[length:]
    return int(head.split(b" ", 2)[1])


@dataclass(frozen=True)
class _Plan:
    """What every connection of one run shares."""

    port: int
    make_request: Callable[[int], bytes]
    started: float
    deadline: float
    first_seq: int
    total: int
    interval: float


def _connection_loop(plan: _Plan, position: int, out, lock) -> None:
    """One connection's requests; ``position`` is its place among all the run's
    connections, which sets its first sequence number and its stagger on a paced run."""
    sock, buffer, seq = None, bytearray(), plan.first_seq + position
    done = errors = 0
    latencies = []
    scheduled = plan.started + plan.interval * position / plan.total
    time.sleep(max(0.0, plan.started - time.monotonic()))
    while time.monotonic() < plan.deadline:
        request = plan.make_request(seq)
        seq += plan.total
        if plan.interval:
            scheduled += plan.interval
            time.sleep(max(0.0, scheduled - time.monotonic()))
            began = scheduled
        else:
            began = time.monotonic()
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", plan.port))
                buffer.clear()
            sock.sendall(request)
            status = _read_response(sock, buffer)
        except OSError:
            errors += 1
            sock = None
            continue
        latencies.append((time.monotonic() - began) * 1000)
        if 200 <= status < 300:
            done += 1
        else:
            errors += 1
    with lock:
        out.append((done, errors, latencies))


def _process(plan: _Plan, first_position: int, connections: int, queue) -> None:
    out, lock = [], threading.Lock()
    threads = [
        threading.Thread(target=_connection_loop, args=(plan, first_position + i, out, lock))
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(out)


def run_load(
    port: int,
    make_request: Callable[[int], bytes],
    *,
    duration_s: float,
    processes: int = 2,
    connections: int = 8,
    rate_per_s: float | None = None,
) -> Result:
    """Drive ``port`` for ``duration_s``; ``make_request(seq)`` builds request ``seq``.
    Every run of this process gets sequence numbers no earlier run had (a warm-up's
    ids are not repeated as duplicates by the run measured after it)."""
    queue = multiprocessing.get_context("fork").Queue()
    total = processes * connections
    # A start shortly ahead, on the clock every process shares, so staggering holds.
    started = time.monotonic() + 0.2
    plan = _Plan(
        port=port,
        make_request=make_request,
        started=started,
        deadline=started + duration_s,
        first_seq=next(_FIRST_SEQS),
        total=total,
        interval=total / rate_per_s if rate_per_s else 0.0,
    )
    workers = [
        multiprocessing.get_context("fork").Process(
            target=_process, args=(plan, i * connections, connections, queue)
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    parts = [item for _ in workers for item in queue.get()]
    for worker in workers:
        worker.join()
    return Result(
        requests=sum(p[0] for p in parts),
        errors=sum(p[1] for p in parts),
        seconds=duration_s,
        latencies_ms=[lat for p in parts for lat in p[2]],
    )


def merged(results: list[Result]) -> Result:
    """Several runs of one variant as one: their requests over their summed time."""
    return Result(
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        seconds=sum(r.seconds for r in results),
        latencies_ms=[latency for r in results for latency in r.latencies_ms],
    )


def table_row(labels: list[str], runs: list[Result], reference: list[Result], size: int):
    """A markdown row for one variant's runs, merged (requests/s, events/s for ``size``
    events a request, p50, p99, errors), ending with the median over the rounds of its
    rate against ``reference``'s run of the same round; returns (row, that ratio)."""
    total = merged(runs)
    ratio = median_ratio(runs, reference)
    cells = [
        *labels,
        f"{total.rate:,.0f}",
        f"{total.rate * size:,.0f}",
        f"{total.percentile(0.5):.1f}",
        f"{total.percentile(0.99):.1f}",
        str(total.errors),
        f"{ratio:.0%}",
    ]
    return "| " + " | ".join(cells) + " |", ratio


def median_ratio(runs: list[Result], reference: list[Result]) -> float:
    """The median over the rounds of ``runs``' rate against ``reference``'s run of the
    same round."""
    pairs = zip(runs, reference, strict=True)
    return statistics.median(run.rate / other.rate for run, other in pairs)


def round_arguments(doc: str, *, connections: int) -> argparse.Namespace:
    """The command line of a bench whose variants take turns in rounds."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--connections", type=int, default=connections, help="connections per process"
    )
    return parser.parse_args()

"""Run every benchmark in turn (``make bench``): about 15 minutes on a 2-core machine."""

from __future__ import annotations

import importlib
import sys
import time

from benchmarks._procs import machine_header

#: Benchmark modules, each with a ``main() -> None`` that prints its figures.
BENCHMARKS: tuple[str, ...] = (
    "benchmarks.protocol_codec",
    "benchmarks.tcp_throughput",
    "benchmarks.http_throughput",
    "benchmarks.idle_memory",
    "benchmarks.websocket_memory",
    "benchmarks.client_memory",
    "benchmarks.client_call_cost",
    "benchmarks.workers_scale",
    "benchmarks.workers_http_scale",
    "benchmarks.workers_throughput",
    "benchmarks.accept_designs",
    "benchmarks.listen_streams",
    "benchmarks.shards",
    "benchmarks.state",
    "benchmarks.lean_socket",
    "benchmarks.overload",
    "supervision.bench",
)


def main() -> None:
    if not BENCHMARKS:
        print("no benchmarks yet")
        return
    print(machine_header(), flush=True)
    started = time.monotonic()
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        begun = time.monotonic()
        importlib.import_module(name).main()
        print(f"   ({name} took {time.monotonic() - begun:.0f} s)", flush=True)
    print(f"== all benchmarks took {time.monotonic() - started:.0f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

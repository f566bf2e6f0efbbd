"""``--workers 2`` against ``--workers 1``: tools/call throughput on both cores, and what a legacy HTTP request
costs when it lands on the worker that does not hold its session (it is relayed to the owner).

``python -m benchmarks.workers_throughput``: the server is the real CLI, unpinned (workers may use both cores);
the load generator (``benchmarks._loadgen``, closed loop, 100 TCP sessions calling ``echo``) is unpinned too, so
it competes with the workers for the same two cores: the scaling factor here is a floor, not what a box with
spare cores for its clients would see. The relay row: one legacy HTTP session, each request on a new connection
(as a client without keep-alive does), mean latency with one worker (never relayed) and with two (about half
relayed): the relay's cost is twice the difference.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from typing import Final

from benchmarks import _loadgen
from benchmarks._procs import Children, raise_fd_limit
from benchmarks._workers import start_serve

__all__ = ["main"]

SESSIONS: Final = 100
WARMUP: Final = 2.0
DURATION: Final = 8.0
RELAYED_REQUESTS: Final = 400
_ALL_CORES: Final = set(range(os.cpu_count() or 1))


def _relayed_latency(port: int) -> float:
    """Mean seconds per legacy tools/call, each on a new connection."""
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}

    def post(body: dict[str, object], session: str | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        extra = {"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"} if session else {}
        connection.request("POST", "/mcp", json.dumps(body), {**headers, **extra})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "b", "version": "1"}},
    }
    session = post(init).getheader("mcp-session-id")
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x"}}}
    started = time.perf_counter()
    for _ in range(RELAYED_REQUESTS):
        if post(call, session).status != 200:
            raise RuntimeError("a legacy request failed")
    return (time.perf_counter() - started) / RELAYED_REQUESTS


def main() -> None:
    raise_fd_limit(4096)
    print(
        f"--workers 1 vs 2, closed-loop echo tools/call over TCP from {SESSIONS} sessions, server and load generator "
        f"unpinned on {len(_ALL_CORES)} cores ({WARMUP:g} s warm-up, {DURATION:g} s counted)"
    )
    rates: dict[int, float] = {}
    latencies: dict[int, float] = {}
    for workers in (1, 2):
        with Children() as children:
            server = start_serve(children, workers, ["tcp", "http"])  # at info: "ready (pid N)" unpins the workers
            cfg = _loadgen.Config(
                wire="ndjson",
                sessions=SESSIONS,
                warmup=WARMUP,
                duration=DURATION,
                port=server.ports["tcp"],
                server_pid=server.proc.pid,
            )
            result = _loadgen.run(cfg, core=0, timeout=WARMUP + DURATION + 60, children=children)
            rates[workers] = result.calls / result.seconds
            latencies[workers] = _relayed_latency(server.ports["http"])
        print(f"  --workers {workers}: {rates[workers]:,.0f} calls/s, {result.errors} errors")
    print(f"  scaling factor 2 workers / 1: {rates[2] / rates[1]:.2f}x (the load generator shares the two cores)")
    relay = 2 * (latencies[2] - latencies[1])
    print(
        f"  legacy HTTP request on a new connection: {latencies[1] * 1e6:,.0f} us with 1 worker, "
        f"{latencies[2] * 1e6:,.0f} us with 2 (about half relayed): a relay costs about {relay * 1e6:,.0f} us"
    )


if __name__ == "__main__":
    main()

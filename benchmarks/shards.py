"""What the shard count costs: memory, start-up and shutdown of the supervision tree at 1, 16, 64 and 256 shards.

Each count runs in a fresh process (so RSS deltas are its own): the tree of the benchmark echo server is started,
``CONNECTIONS`` in-memory connections complete the legacy handshake (spread over the shards), and the tree is
stopped. Printed per count: the RSS the tree adds over a 1-shard tree, the start-up time, the time to open the
connections and the time to stop everything. This is the measurement behind ``RuntimeConfig.shards``' default.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Final

from benchmarks._procs import REPO, rss_bytes

__all__ = ["main"]

COUNTS: Final = (1, 16, 64, 256)
CONNECTIONS: Final = 2_000
_INIT: Final = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"shards","version":"1"}}}\n'
    b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
)


def _one(shards: int) -> dict[str, float]:
    """Run in a child process: the figures for one shard count."""
    import gc
    import os

    import trio
    import trio.testing

    from benchmarks.protocol_codec import build_echo_server
    from mcp_trio.runtime.config import RuntimeConfig
    from mcp_trio.server.config import ServerConfig

    server = build_echo_server()
    server.config = ServerConfig(runtime=RuntimeConfig(shards=shards, loop_lag_threshold=None))
    figures: dict[str, float] = {}

    async def run() -> None:
        gc.collect()
        before = rss_bytes(os.getpid())
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            runtime = await nursery.start(_serve, server)
            figures["start_ms"] = (time.perf_counter() - started) * 1e3
            gc.collect()
            figures["tree_bytes"] = rss_bytes(os.getpid()) - before
            clients = []
            opened = time.perf_counter()
            for _ in range(CONNECTIONS):
                client, theirs = trio.testing.memory_stream_pair()
                runtime.serve_stream(theirs)
                await client.send_all(_INIT)
                clients.append(client)
            for client in clients:
                data = b""
                while b"\n" not in data:
                    data += await client.receive_some(65536)
            figures["open_ms"] = (time.perf_counter() - opened) * 1e3
            stopping = time.perf_counter()
            nursery.cancel_scope.cancel()
        figures["stop_ms"] = (time.perf_counter() - stopping) * 1e3

    trio.run(run)
    return figures


async def _serve(server: object, *, task_status: object) -> None:
    import trio

    async with server.open_runtime() as runtime:  # type: ignore[attr-defined]
        task_status.started(runtime)  # type: ignore[attr-defined]
        await trio.sleep_forever()


def main() -> None:
    results: dict[int, dict[str, float]] = {}
    for shards in COUNTS:
        out = subprocess.run(
            [sys.executable, "-c", f"import json, benchmarks.shards as b; print(json.dumps(b._one({shards})))"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        results[shards] = json.loads(out.stdout.strip().splitlines()[-1])
    base = results[1]["tree_bytes"]
    print(f"supervision tree by shard count ({CONNECTIONS:,} in-memory connections opened, then everything stopped)")
    print(f"  {'shards':>6} {'tree RSS':>9} {'per shard':>9} {'start':>8} {'open':>8} {'stop':>8}")
    for shards, figures in results.items():
        extra = figures["tree_bytes"] - base
        per_shard = extra / (shards - 1) if shards > 1 else float("nan")
        print(
            f"  {shards:>6} {figures['tree_bytes'] / 1024:>7.0f}KB {per_shard / 1024:>7.1f}KB "
            f"{figures['start_ms']:>6.1f}ms {figures['open_ms']:>6.0f}ms {figures['stop_ms']:>6.0f}ms"
        )


if __name__ == "__main__":
    main()

"""What an idle client session costs the client: ``open_client`` sessions held open in one process.

``python -m benchmarks.client_memory [N]``: our server (the real CLI) in a child process, and in this process N
client sessions opened through ``mcp_trio.open_client`` (200 at a time), each then left idle inside its
``async with`` block. The figure is this process's VmRSS growth per session, after a collection, measured over
the last N sessions on top of 100 warm ones. Rows: TCP in both eras, and Streamable HTTP 2026-07-28 (a session
keeps one pooled keep-alive connection and no task) and legacy (with and without the standalone GET stream,
which costs a connection and a task per session on both sides). The goal (issue 18): one process drives >= 10,000
idle sessions over TCP and over HTTP.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from typing import Final

import trio

from benchmarks._procs import Children, load_core, pinned_self, raise_fd_limit, rss_bytes, server_core
from benchmarks.http_throughput import start_ours_http
from benchmarks.tcp_throughput import start_ours
from mcp_trio.client import ClientConfig, open_client

__all__ = ["main"]

N: Final = 10_000
WARM: Final = 100
BATCH: Final = 200
#: Rows: (label, transport, era, standalone GET stream, sessions).
ROWS: Final = (
    ("TCP, legacy (initialize)", "tcp", "legacy", False, N),
    ("TCP, 2026-07-28", "tcp", "modern", False, N),
    ("HTTP, 2026-07-28", "http", "modern", False, N),
    # 9,000: the server holds at most 10,000 legacy HTTP sessions by default (more are refused, as they should be).
    ("HTTP, legacy, no standalone stream", "http", "legacy", False, 9_000),
    ("HTTP, legacy, standalone GET stream", "http", "legacy", True, 2_000),
)


async def hold_sessions(target: str, config: ClientConfig, count: int) -> tuple[int, int, float, int]:
    """Open ``WARM`` then ``count`` sessions and keep them idle; (RSS before, RSS after, seconds, answering)."""
    release = trio.Event()
    opened = 0
    answering = 0
    clients = []

    async def one(ready: trio.Event) -> None:
        nonlocal opened
        async with open_client(target, config=config) as client:
            clients.append(client)
            opened += 1
            ready.set()
            await release.wait()

    async with trio.open_nursery() as nursery:

        async def open_many(total: int) -> None:
            for start in range(0, total, BATCH):
                events = [trio.Event() for _ in range(min(BATCH, total - start))]
                for event in events:
                    nursery.start_soon(one, event)
                for event in events:
                    await event.wait()

        await open_many(WARM)
        gc.collect()
        before = rss_bytes(os.getpid())
        started = time.monotonic()
        await open_many(count)
        took = time.monotonic() - started
        gc.collect()
        await trio.sleep(0.5)
        after = rss_bytes(os.getpid())
        for client in clients[-50:]:  # every idle session must still answer
            await client.call_tool("echo", {"text": "still here"})
            answering += 1
        release.set()
    return before, after, took, answering


def measure_row(index: int, count: int) -> None:
    """One row, in a fresh process (a process that already freed sessions reuses that memory: rows would hide
    each other's cost): prints ``per_session took answering``."""
    _, transport, era, standalone, row_count = ROWS[index]
    sessions = min(count, row_count)
    config = ClientConfig(era=era, standalone_stream=standalone)  # type: ignore[arg-type]
    with pinned_self(load_core()), Children() as children:
        if transport == "tcp":
            _, port = start_ours(children, server_core())
            target = f"tcp://127.0.0.1:{port}"
        else:
            _, port = start_ours_http(children, server_core())
            target = f"http://127.0.0.1:{port}/mcp"
        before, after, took, answering = trio.run(hold_sessions, target, config, sessions)
    print(f"{(after - before) / sessions:.0f} {sessions} {took:.3f} {answering}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--row":
        raise_fd_limit(20_000)
        measure_row(int(sys.argv[2]), int(sys.argv[3]))
        return
    count = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else N
    limit = raise_fd_limit(20_000)
    if limit < count + WARM + 200:
        print(f"  skipped: the file-descriptor limit is {limit}, fewer than {count + WARM + 200}")
        return
    print(f"client memory per idle session (VmRSS growth of the client process), after {WARM} warm sessions")
    for index, (label, *_) in enumerate(ROWS):
        argv = [sys.executable, "-m", "benchmarks.client_memory", "--row", str(index), str(count)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            print(f"  {label:<38} FAILED: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
            continue
        per_session, sessions, took, answering = done.stdout.split()[-4:]
        print(
            f"  {label:<38} {float(per_session):8,.0f} bytes per session; {int(sessions):,} opened in "
            f"{float(took):5.1f} s ({int(sessions) / float(took):,.0f}/s); the last {answering} still answer"
        )


if __name__ == "__main__":
    main()

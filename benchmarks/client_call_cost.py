"""What our client spends per ``tools/call``: on one shared connection, and with a connection per caller.

``python -m benchmarks.client_call_cost [SESSIONS] [CALLS_EACH]`` (defaults 1,000 and 20): our demo server (the
real CLI, TCP) in a child process; in this process, (a) one session with 50 callers in a closed loop, then (b)
SESSIONS sessions, each with one caller, then (c) the same SESSIONS connections driven by the soak's lean engine
(``soak/lean.py``: the client's sans-IO sessions on one epoll loop, each with one call in flight, for
``LEAN_SECONDS``; its handshakes are counted in). The figure is this process's CPU time divided by the calls:
the cost a load generator (``mcp-trio soak``) pays per call, which decides how many sessions one generator core
can drive.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from typing import Final

import trio

from mcp_trio.client import Client, ClientConfig, open_client
from soak.lean import LeanEngine

__all__ = ["main"]

SHARED_CALLERS: Final = 50
SHARED_CALLS: Final = 20_000
LEAN_SECONDS: Final = 3.0


async def _calls(clients: list[Client], each: int) -> tuple[float, float]:
    """(client CPU seconds, wall seconds) for ``each`` sequential echo calls per client, all clients at once."""

    async def caller(client: Client) -> None:
        for _ in range(each):
            await client.call_tool("echo", {"text": "x"})

    cpu, wall = time.process_time(), time.monotonic()
    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(caller, client)
    return time.process_time() - cpu, time.monotonic() - wall


async def _run(target: str, sessions: int, each: int) -> None:
    config = ClientConfig(era="legacy")
    async with open_client(target, config=config) as shared:
        cpu, wall = await _calls([shared] * SHARED_CALLERS, SHARED_CALLS // SHARED_CALLERS)
    print(
        f"  one connection, {SHARED_CALLERS} callers: {1e6 * cpu / SHARED_CALLS:6.1f} us of client CPU per call "
        f"({SHARED_CALLS / wall:,.0f} calls/s)"
    )
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(open_client(target, config=config)) for _ in range(sessions)]
        cpu, wall = await _calls(clients, each)
    calls = sessions * each
    print(
        f"  {sessions:,} connections, one caller each: {1e6 * cpu / calls:6.1f} us of client CPU per call "
        f"({calls / wall:,.0f} calls/s)"
    )


def _lean(target: str, sessions: int) -> None:
    config = {
        "scenario": "bomb", "sessions": sessions, "rate": 1.0, "duration": LEAN_SECONDS, "ramp": 0.0, "depth": 1,
        "bomb_rate": 0.0, "warmup": 0.0, "cooldown": 0.0, "tool": "echo", "target": target,
        "start_at": time.time() + 0.5, "era": "legacy", "engine": "lean", "source_addresses": [], "first_index": 0,
    }  # fmt: skip
    lines = io.StringIO()
    cpu = time.process_time()
    with contextlib.redirect_stdout(lines):
        LeanEngine(config).run()
    cpu = time.process_time() - cpu
    calls = sum(json.loads(line)["ok"] for line in lines.getvalue().splitlines())
    print(
        f"  {sessions:,} connections, lean engine: {1e6 * cpu / calls:6.1f} us of client CPU per call "
        f"({calls / LEAN_SECONDS:,.0f} calls/s, handshakes included)"
    )


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    each = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print("client CPU per tools/call (echo over TCP, legacy sessions)")
    server = subprocess.Popen(
        [sys.executable, "-m", "mcp_trio", "serve", "--tcp", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        found = re.search(r"(tcp://\S+)", server.stderr.readline())
        assert found is not None, "the server did not say where it listens"
        trio.run(_run, found.group(1), sessions, each)
        _lean(found.group(1), sessions)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

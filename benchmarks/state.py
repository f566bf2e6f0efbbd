"""Compact state and pools: what a connection and a session hold, and whether pooling would save anything.

1. **What an idle connection / session costs, by part**: tracemalloc over ``N`` idle TCP connections and ``N``
   idle legacy HTTP sessions (no connection), against what their ``size_info()`` can see. The remainder is
   what ``TASK_BYTES`` and ``SESSION_OVERHEAD_BYTES`` stand for in ``estimate_memory()``.
2. **A receive-buffer pool**: reading into a pooled ``bytearray`` (``recv_into``) and copying out what the framer
   must keep, against ``os.read`` allocating a fresh ``bytes`` per read, for small and large messages.
3. **A state free-list**: reusing a session driver and its ``ServerSession`` per stateless HTTP request against
   making fresh ones.

Pools are kept only if they save measurable memory or time; the figures go into ``docs/design.md`` either way.
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import time
import timeit
import tracemalloc
from typing import Any, Final

__all__ = ["main"]

N: Final = 1_000
_INIT: Final = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{"sampling":{}},"clientInfo":{"name":"state","version":"1"}}}'
)
_INITIALIZED: Final = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'


def _idle_costs() -> dict[str, float]:
    import trio

    from mcp_trio.demo import build_demo_server
    from mcp_trio.runtime.config import RuntimeConfig
    from mcp_trio.runtime.listeners import HttpListener, TcpListener
    from mcp_trio.server.config import ServerConfig

    figures: dict[str, float] = {}
    server = build_demo_server()
    server.config = ServerConfig(runtime=RuntimeConfig(loop_lag_threshold=None))

    async def run() -> None:
        async with server.open_runtime() as runtime:
            _, tcp_port = await runtime.add_listener(TcpListener("127.0.0.1", 0))
            _, http_port = await runtime.add_listener(HttpListener("127.0.0.1", 0))
            socks: list[socket.socket] = []

            async def tcp(count: int) -> None:
                batch = []
                for _ in range(count):
                    sock = socket.create_connection(("127.0.0.1", tcp_port))
                    sock.sendall(_INIT + b"\n" + _INITIALIZED + b"\n")
                    batch.append(sock)
                for sock in batch:
                    sock.setblocking(False)
                    data = b""
                    while b"\n" not in data:
                        await trio.sleep(0.001)
                        with contextlib.suppress(BlockingIOError):
                            data += sock.recv(65536)
                socks.extend(batch)

            def http(count: int) -> None:
                import http.client

                conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
                headers = {"Content-Type": "application/json", "Accept": "application/json"}
                for _ in range(count):
                    conn.request("POST", "/mcp", _INIT, headers)
                    response = conn.getresponse()
                    response.read()
                    session = {**headers, "Mcp-Session-Id": response.getheader("mcp-session-id") or ""}
                    conn.request("POST", "/mcp", _INITIALIZED, {**session, "MCP-Protocol-Version": "2025-11-25"})
                    conn.getresponse().read()
                conn.close()

            await tcp(50)
            await trio.sleep(0.2)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            await tcp(N)
            await trio.sleep(0.3)
            gc.collect()
            after = tracemalloc.take_snapshot()
            traced = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / N
            connections = [c for shard in runtime.shards for c in shard.connection_table.values()][-N:]
            seen = sum(sum(c.size_info().values()) for c in connections) / N
            figures.update(tcp_traced=traced, tcp_seen=seen, tcp_estimate=connections[0].estimate_memory())
            tracemalloc.stop()
            for sock in socks:
                sock.close()

            await trio.to_thread.run_sync(http, 50)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            await trio.to_thread.run_sync(http, N)
            await trio.sleep(0.3)
            gc.collect()
            after = tracemalloc.take_snapshot()
            traced = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / N
            sessions = [s for shard in runtime.shards for s in shard.sessions.values()][-N:]
            seen = sum(sum(s.size_info().values()) for s in sessions) / N  # type: ignore[attr-defined]
            estimate = sessions[0].estimate_memory()  # type: ignore[attr-defined]
            figures.update(http_traced=traced, http_seen=seen, http_estimate=estimate)
            tracemalloc.stop()

    trio.run(run)
    return figures


def _read_costs(size: int) -> tuple[float, float]:
    """Microseconds per read of ``size``-byte messages: ``os.read`` allocating, and ``recv_into`` a pooled
    buffer plus the copy the framer needs (it keeps what it is given)."""
    left, right = socket.socketpair()
    payload = b"x" * size
    fd = right.fileno()
    pool = bytearray(65536)
    view = memoryview(pool)

    def allocate() -> bytes:
        left.send(payload)
        return os.read(fd, 65536)

    def pooled() -> bytes:
        left.send(payload)
        count = right.recv_into(view)
        return bytes(view[:count])

    loops = 20_000 if size <= 4096 else 2_000
    results = [min(timeit.repeat(fn, number=loops, repeat=5)) / loops * 1e6 for fn in (allocate, pooled)]
    left.close()
    right.close()
    return results[0], results[1]


def _state_costs() -> tuple[float, float]:
    """Microseconds to get a session driver for one stateless request: fresh, and from a free-list."""
    from mcp_trio.demo import build_demo_server
    from mcp_trio.protocol.session import NEW, ServerSession
    from mcp_trio.server.driver import SessionDriver

    server = build_demo_server()
    profile = server.profile
    free: list[SessionDriver] = [SessionDriver(server, None, None, ServerSession(profile))]  # type: ignore[arg-type]

    def fresh() -> Any:
        return SessionDriver(server, None, None, ServerSession(profile))  # type: ignore[arg-type]

    def reused() -> Any:
        driver = free.pop()
        driver.closed = False
        driver.reply_status = 200
        session = driver.session
        session.phase = NEW
        session.incoming = session.outgoing = None
        free.append(driver)
        return driver

    loops = 200_000
    return tuple(min(timeit.repeat(fn, number=loops, repeat=5)) / loops * 1e6 for fn in (fresh, reused))  # type: ignore[return-value]


def main() -> None:
    started = time.monotonic()
    costs = _idle_costs()
    print(f"what an idle connection and an idle legacy session hold ({N:,} of each, tracemalloc)")
    print(
        f"  TCP connection: {costs['tcp_traced']:,.0f} B traced; size_info() sees {costs['tcp_seen']:,.0f} B; "
        f"the rest ({costs['tcp_traced'] - costs['tcp_seen']:,.0f} B: task, frames, socket, handle) is "
        f"TASK_BYTES; estimate_memory() says {costs['tcp_estimate']:,.0f} B"
    )
    print(
        f"  legacy HTTP session without a connection: {costs['http_traced']:,.0f} B traced; size_info() sees "
        f"{costs['http_seen']:,.0f} B; the rest ({costs['http_traced'] - costs['http_seen']:,.0f} B: table "
        f"entries, id) is SESSION_OVERHEAD_BYTES; estimate_memory() says {costs['http_estimate']:,.0f} B"
    )
    print("a receive-buffer pool (recv_into a pooled bytearray + the copy the framer keeps) vs os.read:")
    for size in (100, 4096, 65536):
        allocate, pooled = _read_costs(size)
        print(f"  {size:>6} B messages: os.read {allocate:.2f} us, pooled {pooled:.2f} us ({allocate / pooled:.2f}x)")
    fresh, reused = _state_costs()
    print(
        f"a session-driver free-list for stateless requests: fresh {fresh:.3f} us, reused {reused:.3f} us "
        f"(saves {fresh - reused:.3f} us of a ~20 us request)"
    )
    print(f"  ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()

"""Memory per idle WebSocket connection: our wsproto framing (budget <= 12 KB for the whole server) against
trio-websocket's ``serve_websocket``, each measured in a fresh process.

Each measurement runs a server in a subprocess, which starts a client process of its own (so no client object
is counted), lets it open ``WARM`` connections and keep them (one-time costs go into the baseline), takes a
tracemalloc snapshot or reads its VmRSS, lets the client open ``N`` more, waits for the server to settle and
measures again: (after - before) / N is the marginal cost of one idle connection. Traced bytes and RSS are
measured in separate processes (tracemalloc's own records would count in RSS).

* ours: the demo server under the runtime with a ``WebSocketListener``; each client upgrades and completes an
  MCP session (``initialize`` + ``notifications/initialized``), then stays silent: everything an idle MCP
  WebSocket costs (task, socket, ``WebSocketConnection``, framer, wsproto's connection, session driver,
  ``ServerSession``, shard tables, keep-alive set).
* trio-websocket: ``serve_websocket`` with a handler that accepts (subprotocol ``mcp``) and waits in
  ``get_message()``: the WebSocket alone (its handler task, reader task, nursery, channels, wsproto), no MCP
  session; what our session adds (measured by ``size_info``) is printed beside it for comparison.

Run: ``python -m benchmarks.websocket_memory`` (about 20 s).
"""

from __future__ import annotations

import gc
import json
import socket
import subprocess
import sys
import time
import tracemalloc
from typing import Any, Final

__all__ = ["main"]

N: Final = 1_000
WARM: Final = 50
BUDGET_BYTES: Final = 12 * 1024
_INIT: Final = (
    '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    '"capabilities":{},"clientInfo":{"name":"idle","version":"1"}}}'
)
_INITIALIZED: Final = '{"jsonrpc":"2.0","method":"notifications/initialized"}'


# ---------------------------------------------------------------------------------------------- the client process


def _open(port: int, count: int, mcp: bool) -> list[socket.socket]:
    """``count`` upgraded WebSockets (and initialized MCP sessions when ``mcp``), one after another."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request, TextMessage

    opened = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        ws = WSConnection(ConnectionType.CLIENT)
        sock.sendall(ws.send(Request(host=f"127.0.0.1:{port}", target="/mcp", subprotocols=["mcp"])))
        wanted: type = AcceptConnection
        while True:
            data = sock.recv(65536)
            if not data:
                raise RuntimeError("the server closed a connection during the upgrade")
            ws.receive_data(data)
            if any(isinstance(event, wanted) for event in ws.events()):
                if wanted is TextMessage or not mcp:
                    break
                sock.sendall(ws.send(TextMessage(data=_INIT)) + ws.send(TextMessage(data=_INITIALIZED)))
                wanted = TextMessage
        opened.append(sock)
    return opened


def _client(port: int, mcp: bool) -> None:
    """Open ``WARM`` connections, say so, wait for a line; open ``N`` more, say so; hold them until stdin ends."""
    kept = _open(port, WARM, mcp)
    print("warm", flush=True)
    sys.stdin.readline()
    kept += _open(port, N, mcp)
    print("ready", flush=True)
    sys.stdin.read()
    for sock in kept:
        sock.close()


# ---------------------------------------------------------------------------------------------- the server process


def _rss() -> int:
    """VmRSS after handing free heap pages back (``malloc_trim``): what the connections hold, not what the
    upgrades' short-lived objects left free in the heap."""
    from mcp_trio.runtime.memory import release_free_memory

    release_free_memory()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _measure(kind: str, traced: bool) -> dict[str, Any]:
    import trio

    figures: dict[str, Any] = {}

    async def drive(port: int, settled: Any) -> None:
        client = await trio.lowlevel.open_process(
            [sys.executable, "-m", "benchmarks.websocket_memory", "--client", str(port), kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert client.stdin is not None
        assert client.stdout is not None
        lines = _Lines(client.stdout)
        try:
            assert await lines.next() == "warm"
            await settled(WARM)
            gc.collect()
            if traced:
                tracemalloc.start()
                before = tracemalloc.take_snapshot()
            rss_before = _rss()
            await client.stdin.send_all(b"go\n")
            assert await lines.next() == "ready"
            await settled(WARM + N)
            gc.collect()
            if traced:
                after = tracemalloc.take_snapshot()
                tracemalloc.stop()
                figures["traced"] = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / N
            else:
                figures["rss"] = (_rss() - rss_before) / N
        finally:
            await client.stdin.aclose()
            await client.wait()

    async def ours() -> None:
        from mcp_trio.demo import build_demo_server
        from mcp_trio.runtime import RuntimeConfig, WebSocketListener
        from mcp_trio.server.config import ServerConfig

        server = build_demo_server()
        server.config = ServerConfig(runtime=RuntimeConfig(loop_lag_threshold=None))
        async with server.open_runtime() as runtime:
            _, port = await runtime.add_listener(WebSocketListener("127.0.0.1", 0))

            def connections() -> list[Any]:
                return [c for shard in runtime.shards for c in shard.connection_table.values() if c.port.ready]

            async def settled(count: int) -> None:
                await _until(lambda: len(connections()) >= count)
                live = connections()  # what size_info() sees, and the session's part of it
                figures["seen"] = sum(sum(c.size_info().values()) for c in live) / len(live)
                figures["session"] = sum(sum(c.port.size_info().values()) for c in live) / len(live)

            await drive(port, settled)

    async def theirs() -> None:
        import trio_websocket

        accepted = 0

        async def handler(request: Any) -> None:
            nonlocal accepted
            ws = await request.accept(subprotocol="mcp")
            accepted += 1
            await ws.get_message()  # idle: a silent client never sends one

        async def settled(count: int) -> None:
            await _until(lambda: accepted >= count)

        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
            await drive(server.port, settled)
            nursery.cancel_scope.cancel()

    trio.run(ours if kind == "ours" else theirs)
    return figures


async def _until(condition: Any, seconds: float = 60.0) -> None:
    """Poll ``condition()`` until it holds, then let the server settle."""
    import trio

    for _ in range(int(seconds / 0.01)):
        if condition():
            break
        await trio.sleep(0.01)
    else:
        raise RuntimeError("the connections did not all arrive")
    await trio.sleep(0.3)


class _Lines:
    """Lines from a child's stdout."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.buffer = b""

    async def next(self) -> str:
        while b"\n" not in self.buffer:
            data = await self.stream.receive_some(4096)
            if not data:
                raise RuntimeError(f"the client process ended: {self.buffer!r}")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


def _run(kind: str) -> dict[str, Any]:
    """Both figures of ``kind``, each from a fresh server process."""
    result: dict[str, Any] = {}
    for mode in ("traced", "rss"):
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.websocket_memory", "--measure", kind, mode],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"measuring {kind} ({mode}) failed:\n{completed.stderr}")
        result.update(json.loads(completed.stdout.strip().splitlines()[-1]))
    return result


def main() -> None:
    started = time.monotonic()
    ours = _run("ours")
    theirs = _run("trio-websocket")
    print(f"memory per idle WebSocket connection ({N:,} of each, tracemalloc and VmRSS of the server process)")
    print(
        f"  mcp-trio (wsproto framing, whole MCP session): {ours['traced']:,.0f} B traced, "
        f"{ours['rss']:,.0f} B RSS; size_info() sees {ours['seen']:,.0f} B, of which the session "
        f"{ours['session']:,.0f} B"
    )
    print(
        f"  trio-websocket serve_websocket (WebSocket only, no session): {theirs['traced']:,.0f} B traced, "
        f"{theirs['rss']:,.0f} B RSS; with our session it would be ~{theirs['traced'] + ours['session']:,.0f} B"
    )
    verdict = "met" if ours["traced"] <= BUDGET_BYTES else "NOT met"
    print(
        f"  budget <= {BUDGET_BYTES / 1024:.0f} KB per idle WebSocket: {verdict} "
        f"({ours['traced'] / 1024:.1f} KB; trio-websocket {theirs['traced'] / 1024:.1f} KB, "
        f"{theirs['traced'] / ours['traced']:.2f}x ours)"
    )
    print(f"  ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        _client(int(sys.argv[2]), sys.argv[3] == "ours")
    elif sys.argv[1:2] == ["--measure"]:
        print(json.dumps(_measure(sys.argv[2], sys.argv[3] == "traced")))
    else:
        main()

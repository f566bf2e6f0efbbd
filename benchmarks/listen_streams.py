"""10,000 idle 2026-07-28 ``subscriptions/listen`` streams: server memory per stream, and how long one change
takes to reach every listener.

``python -m benchmarks.listen_streams [N]`` (default 10,000): our demo server (the real CLI, one process) and, in
this process, N listen streams on plain sockets, each subscribed to ``demo://counter``, over TCP
(newline-delimited) and over Streamable HTTP (each stream a POST whose response stays open as SSE). Once every
stream is acknowledged, the server's VmRSS growth divided by N is the memory per stream (goal <= 12 KB); then one
more client calls ``increment`` and the time until every stream has its ``notifications/resources/updated`` is
the fan-out time (goal < 1 s).
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time
from typing import Final

from benchmarks._procs import Children, load_core, pinned_self, raise_fd_limit, rss_bytes, server_core, wait_for_line

__all__ = ["main"]

N: Final = 10_000
WARM: Final = 100
BATCH: Final = 500
GOAL_BYTES: Final = 12 * 1024
GOAL_SECONDS: Final = 1.0
_META: Final = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "listen-bench", "version": "1"},
}
_LISTEN: Final = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "subscriptions/listen",
        "params": {"notifications": {"resourceSubscriptions": ["demo://counter"]}, "_meta": _META},
    }
).encode()
_INCREMENT: Final = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "increment", "arguments": {"by": 1}, "_meta": _META},
    }
).encode()


def _http_post(port: int, body: bytes, method: str, name: str | None = None) -> bytes:
    headers = [
        "POST /mcp HTTP/1.1",
        f"host: 127.0.0.1:{port}",
        "content-type: application/json",
        "accept: application/json, text/event-stream",
        "mcp-protocol-version: 2026-07-28",
        f"mcp-method: {method}",
        f"content-length: {len(body)}",
    ]
    if name is not None:
        headers.append(f"mcp-name: {name}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def _open(port: int, count: int, http: bool) -> list[socket.socket]:
    """``count`` listen streams, each acknowledged before this returns."""
    request = _http_post(port, _LISTEN, "subscriptions/listen") if http else _LISTEN + b"\n"
    socks: list[socket.socket] = []
    while len(socks) < count:
        batch = [
            socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(min(BATCH, count - len(socks)))
        ]
        for sock in batch:
            sock.sendall(request)
        _wait_for(batch, b"notifications/subscriptions/acknowledged", 60)
        socks.extend(batch)
    return socks


def _wait_for(socks: list[socket.socket], needle: bytes, timeout: float) -> float:
    """Seconds until every socket has received ``needle``."""
    started = time.monotonic()
    seen = dict.fromkeys(socks, b"")
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while seen:
            left = started + timeout - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{len(seen)} streams never received {needle!r}")
            for key, _ in selector.select(left):
                sock = key.fileobj  # type: ignore[assignment]
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError("the server closed a listen stream")
                buffered = seen[sock] + data
                if needle in buffered:
                    del seen[sock]
                    selector.unregister(sock)
                else:
                    seen[sock] = buffered[-len(needle) :]
    return time.monotonic() - started


def _settled(pid: int) -> int:
    value = rss_bytes(pid)
    for _ in range(8):
        time.sleep(0.25)
        value, previous = rss_bytes(pid), value
        if value == previous:
            break
    return value


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else N
    raise_fd_limit(20_000)
    print(f"{count:,} idle subscriptions/listen streams on one server process (demo server, demo://counter)")
    for http in (False, True):
        with pinned_self(load_core()), Children() as children:
            flag = "--http" if http else "--tcp"
            proc = children.start(
                [sys.executable, "-m", "mcp_trio", "serve", flag, "127.0.0.1:0", "--log-level", "warning"],
                core=server_core(),
            )
            assert proc.stderr is not None
            line = wait_for_line(proc.stderr, b"listening on ", timeout=30)
            port = int(line.decode().strip().rsplit(":", 1)[1].split("/", 1)[0])
            # The server holds at most 10,000 listen streams by default (max_listen_streams): the warm ones count.
            warm = _open(port, WARM, http)
            before = _settled(proc.pid)
            socks = _open(port, count - WARM, http)
            after = _settled(proc.pid)
            per_stream = (after - before) / (count - WARM)
            trigger = socket.create_connection(("127.0.0.1", port), timeout=30)
            trigger.sendall(_http_post(port, _INCREMENT, "tools/call", "increment") if http else _INCREMENT + b"\n")
            fan_out = _wait_for([*warm, *socks], b"notifications/resources/updated", 30)
            for sock in [*warm, *socks, trigger]:
                sock.close()
        label = "HTTP (SSE)" if http else "TCP"
        memory = "met" if per_stream <= GOAL_BYTES else "NOT met"
        speed = "met" if fan_out < GOAL_SECONDS else "NOT met"
        print(
            f"  {label:<10} {per_stream:8,.0f} bytes per stream (goal <= {GOAL_BYTES:,}: {memory}); one change "
            f"reached all {count:,} in {fan_out * 1000:,.0f} ms (goal < {GOAL_SECONDS * 1000:.0f}: {speed})"
        )


if __name__ == "__main__":
    main()

"""Memory per idle session: our TCP sessions (budget <= 6 KB for the whole server) and our legacy Streamable HTTP
sessions that have no connection (budget <= 1.5 KB), beside the official SDK's stateful HTTP sessions.

A server subprocess (the real CLI) is pinned to one core; this process, on the other, first opens ``WARM``
sessions and keeps them (so one-time costs such as first-use imports and decoder caches are in the baseline),
reads the server's VmRSS, then opens ``N`` more sessions, each doing ``initialize`` +
``notifications/initialized`` and then nothing, waits for the server to settle, and reads VmRSS again.
(after - before) / N is the marginal cost of one idle session: its task, its socket object, its
``StreamConnection``, ``ServerSession`` and ``LineFramer``, and the kernel-side socket is not counted (RSS is
user memory only).
"""

from __future__ import annotations

import http.client
import selectors
import socket
import time
from typing import Final

from benchmarks._procs import Children, load_core, pinned_self, raise_fd_limit, rss_bytes, server_core
from benchmarks.http_throughput import start_ours_http
from benchmarks.tcp_throughput import peer_python, start_ours, start_peer_http

__all__ = ["main"]

N: Final = 5_000
WARM: Final = 100
PEER_N: Final = 1_000  # the SDK opens ~500 sessions/s here: fewer, to stay within the time budget
BATCH: Final = 500
BUDGET_BYTES: Final = 6 * 1024
PARK_AFTER: Final = 1.0  # seconds idle before a session is parked, in the parked measurement
#: The parked measurement opens its sessions in batches, each parked before the next arrives: a task freed by
#: parking is memory the next connection reuses (RSS never shrinks for memory freed inside Python's arenas, so
#: 5,000 sessions opened at once would still show the tasks they all had at first).
PARK_BATCHES: Final = 10
HTTP_N: Final = 5_000
HTTP_BUDGET_BYTES: Final = 1536
_HANDSHAKE: Final = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"idle","version":"1"}}}\n'
    b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
)


def open_sessions(port: int, count: int, timeout: float = 60.0) -> list[socket.socket]:
    """Open ``count`` initialized sessions, ``BATCH`` at a time (so the accept queue never overflows)."""
    opened: list[socket.socket] = []
    deadline = time.monotonic() + timeout
    while len(opened) < count:
        batch = []
        for _ in range(min(BATCH, count - len(opened))):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(_HANDSHAKE)
            sock.setblocking(False)
            batch.append(sock)
        waiting = dict.fromkeys(batch, b"")
        with selectors.DefaultSelector() as selector:
            for sock in batch:
                selector.register(sock, selectors.EVENT_READ)
            while waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{len(waiting)} sessions got no initialize answer in time")
                for key, _ in selector.select(left):
                    sock = key.fileobj  # type: ignore[assignment]
                    data = sock.recv(65536)
                    if not data:
                        raise RuntimeError("the server closed a session during initialize")
                    waiting[sock] += data
                    if b"\n" in waiting[sock]:
                        if b'"result"' not in waiting[sock]:
                            raise RuntimeError(f"initialize failed: {waiting[sock][:200]!r}")
                        del waiting[sock]
                        selector.unregister(sock)
        opened.extend(batch)
    return opened


_PEER_INITIALIZE: Final = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"idle","version":"1"}}}'
)
_PEER_INITIALIZED: Final = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'


def open_http_sessions(port: int, count: int, timeout: float = 60.0) -> None:
    """Open ``count`` legacy (stateful) Streamable HTTP sessions over one keep-alive connection, then close it:
    the sessions stay in the server's session table, with no connection."""
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                raise RuntimeError("opening SDK sessions took too long")
            conn.request("POST", "/mcp", _PEER_INITIALIZE, headers)
            response = conn.getresponse()
            body = response.read()
            session_id = response.getheader("mcp-session-id")
            if response.status != 200 or session_id is None:
                raise RuntimeError(f"SDK initialize failed: {response.status} {body[:200]!r}")
            conn.request(
                "POST",
                "/mcp",
                _PEER_INITIALIZED,
                {**headers, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"},
            )
            response = conn.getresponse()
            response.read()
            if response.status != 202:
                raise RuntimeError(f"SDK notifications/initialized got {response.status}")
    finally:
        conn.close()


def _settled_rss(pid: int, seconds: float = 1.0) -> int:
    """VmRSS once it stops moving (or after a few tries)."""
    previous = -1
    value = rss_bytes(pid)
    for _ in range(10):
        time.sleep(seconds / 4)
        previous, value = value, rss_bytes(pid)
        if value == previous:
            break
    return value


def main() -> None:
    limit = raise_fd_limit(20_000)
    if limit < N + WARM + 100:
        print(f"  skipped: the file-descriptor limit is {limit}, fewer than {N + WARM + 100}")
        return
    before, after, took, alive = _our_tcp_sessions()
    parked_before, parked_after, _, parked_alive = _our_tcp_sessions(park=True)
    http_before, http_after = _our_http_sessions()
    peer = _peer_per_session()
    per_session = (after - before) / N
    verdict = "within" if per_session <= BUDGET_BYTES else "OVER"
    print(
        f"our TCP server, {N:,} idle sessions (initialize + notifications/initialized, then silence) on top of "
        f"{WARM} warm ones; opened in {took:.1f} s"
    )
    print(
        f"  VmRSS {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB: {per_session:,.0f} bytes per idle session "
        f"(budget {BUDGET_BYTES:,}: {verdict}); server {'alive' if alive else 'DIED'}"
    )
    parked = (parked_after - parked_before) / N
    print(
        f"  parked (MCP_TRIO_RUNTIME_PARK_IDLE_AFTER={PARK_AFTER:g}: idle sessions give up their task; opened in "
        f"{PARK_BATCHES} batches, each parked before the next): "
        f"VmRSS {parked_before / 2**20:.1f} MiB -> {parked_after / 2**20:.1f} MiB: {parked:,.0f} bytes per idle "
        f"session ({per_session - parked:,.0f} fewer); server {'alive' if parked_alive else 'DIED'}"
    )
    http_per_session = (http_after - http_before) / HTTP_N
    verdict = "within" if http_per_session <= HTTP_BUDGET_BYTES else "OVER"
    print(
        f"our HTTP server, {HTTP_N:,} idle legacy sessions (initialize + notifications/initialized over one "
        f"keep-alive connection, then closed: sessions without a connection)"
    )
    print(
        f"  VmRSS {http_before / 2**20:.1f} MiB -> {http_after / 2**20:.1f} MiB: {http_per_session:,.0f} bytes per "
        f"session (budget {HTTP_BUDGET_BYTES:,}: {verdict})"
    )
    if peer is not None:
        peer_before, peer_after = peer
        peer_per_session = (peer_after - peer_before) / PEER_N
        print(
            f"  sdk (mcp 2.3.0, stateful Streamable HTTP, {PEER_N:,} idle sessions): VmRSS {peer_before / 2**20:.1f} "
            f"-> {peer_after / 2**20:.1f} MiB: {peer_per_session:,.0f} bytes per idle session; "
            f"ours/sdk {per_session / peer_per_session:.2f} ({peer_per_session / per_session:.1f}x less memory)"
        )


def _our_tcp_sessions(park: bool = False) -> tuple[int, int, float, bool]:
    """(RSS before, RSS after, seconds to open, alive) of our TCP server around ``N`` new idle sessions; with
    ``park``, measured once the idle ones have been parked."""
    socks: list[socket.socket] = []
    env = {"MCP_TRIO_RUNTIME_PARK_IDLE_AFTER": str(PARK_AFTER)} if park else None
    with pinned_self(load_core()), Children() as children:
        proc, port = start_ours(children, server_core(), env)
        try:
            socks += open_sessions(port, WARM)
            if park:
                time.sleep(3 * PARK_AFTER + 1)  # the warm ones parked too: the baseline has no tasks of theirs
            before = _settled_rss(proc.pid)
            started = time.monotonic()
            if park:  # sessions arriving over time, each batch parked before the next: the steady state
                for _ in range(PARK_BATCHES):
                    socks += open_sessions(port, N // PARK_BATCHES)
                    time.sleep(3 * PARK_AFTER + 0.5)  # idle past the threshold, and a sweep after it
            else:
                socks += open_sessions(port, N)
            took = time.monotonic() - started
            after = _settled_rss(proc.pid)
            alive = proc.poll() is None
        finally:
            for sock in socks:
                sock.close()
    return before, after, took, alive


def _our_http_sessions() -> tuple[int, int]:
    """(RSS before, RSS after) of our HTTP server around ``HTTP_N`` new legacy sessions left without a connection."""
    with pinned_self(load_core()), Children() as children:
        proc, port = start_ours_http(children, server_core())
        open_http_sessions(port, 20)
        before = _settled_rss(proc.pid)
        open_http_sessions(port, HTTP_N)
        after = _settled_rss(proc.pid)
    return before, after


def _peer_per_session() -> tuple[int, int] | None:
    """(RSS before, RSS after) of the SDK's stateful HTTP server around ``PEER_N`` new idle sessions."""
    python, _ = peer_python()
    with pinned_self(load_core()), Children() as children:
        proc, port = start_peer_http(children, python, server_core(), mode="http-stateful")
        open_http_sessions(port, 20)
        before = _settled_rss(proc.pid)
        open_http_sessions(port, PEER_N)
        after = _settled_rss(proc.pid)
    return before, after


if __name__ == "__main__":
    main()

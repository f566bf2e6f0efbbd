"""Issue goal: Streamable HTTP ``tools/call`` round trips per server core, ours against the official SDK.

Same setup as ``tcp_throughput`` (PEERS.md): each server is a subprocess pinned to one core; the load generator
(``benchmarks._loadgen``, one keep-alive connection per client, closed loop) is another process pinned to the
other core, and this orchestrator sits on the load generator's core and sleeps. Four servers' worth of rows, all
measured in this same run and interleaved by client count so drift on a shared machine hits both sides alike:

* ours, modern wire: ``mcp-trio serve --http 127.0.0.1:0`` (the real CLI, the built-in demo server and its
  ``echo``), stateless 2026-07-28 POSTs (``_meta`` plus ``MCP-Protocol-Version``/``Mcp-Method``/``Mcp-Name``).
* ours, legacy wire: the same process, 2025-11-25 sessions (``initialize`` -> ``Mcp-Session-Id``,
  ``notifications/initialized``, then calls carrying the session id).
* the SDK (``mcp`` 2.3.0 ``MCPServer`` under uvicorn), stateless with JSON responses and 2026-07-28 requests
  (its fastest path), and a second SDK process in its stateful session mode (JSON responses), same handshake.

The goals: on the modern wire, >= 4x the SDK's calls per server core at every client count, with a p99 latency
no worse than the SDK's (the Streamable HTTP issue); at 50 clients, >= 12x the SDK per core on both wires (the
hot-path issue). "per core" is calls per second of server CPU (user + system), as in
``tcp_throughput``. "sys" is the kernel's share of that CPU and "user/core" the calls per second of *user* CPU
only (what the servers' own code costs, without the socket syscalls). The "machine floor" line is a bare Python
socket echo on the server core, ping-ponged from the other: the per-call cost no server on this machine can go
under. "queued" near 15% on an idle machine is the hypervisor holding the vCPU (steal), the same for every row.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Final

from benchmarks import _loadgen, tcp_throughput
from benchmarks._procs import (
    Children,
    cpu_seconds,
    load_core,
    pinned_self,
    raise_fd_limit,
    server_core,
    system_cpu_seconds,
    wait_for_line,
)
from benchmarks.tcp_throughput import Row


class HttpRow(Row):
    """A ``tcp_throughput`` row plus the kernel's share of the server's CPU and a user-CPU-only per-core rate."""

    def __init__(self, server: str, transport: str, sessions: int, result: _loadgen.Result) -> None:
        super().__init__(server, transport, sessions, result)
        user = result.server_cpu - result.server_sys
        self.sys_share = result.server_sys / result.server_cpu if result.server_cpu > 0 else float("nan")
        self.user_per_core = result.calls / user if user > 0 else float("nan")

    def line(self) -> str:
        base = super().line()
        head, flag = base[:_BASE_WIDTH], base[_BASE_WIDTH:]
        return f"{head} {self.sys_share:>5.0%} {self.user_per_core:>9,.0f}{flag}"


#: Width of a ``Row.line()`` without its trailing flags (the columns ``HttpRow`` appends go after it).
_BASE_WIDTH: Final = 2 + 5 + 1 + 22 + 1 + 4 + 1 + 9 + 1 + 7 + 1 + 6 + 1 + 10 + 1 + 8 + 1 + 8 + 1 + 7

__all__ = ["main", "start_ours_http"]

SESSIONS: Final = (1, 10, 50, 100)
GOAL_RATIO: Final = 4.0
#: The hot-path issue: at 50 keep-alive clients, this many times the SDK per server core, on both wires.
GOAL_50_RATIO: Final = 12.0
MODERN: Final = "2026-07-28 stateless"
LEGACY: Final = "2025-11-25 session"


_ECHO_SRC: Final = """
import socket, sys
srv = socket.create_server(("127.0.0.1", 0))
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while data := conn.recv(65536):
    conn.sendall(data)
"""


def _kernel_floor(children: Children, seconds: float = 0.8) -> str:
    """A bare Python echo on the server core, ping-ponged from this process: the machine's per-call floor."""
    proc = children.start([sys.executable, "-c", _ECHO_SRC], core=server_core())
    assert proc.stdout is not None
    port = int(wait_for_line(proc.stdout, b"", timeout=10))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        message = b"x" * 300
        cpu0, sys0 = cpu_seconds(proc.pid), system_cpu_seconds(proc.pid)
        started = time.monotonic()
        trips = 0
        while time.monotonic() - started < seconds:
            sock.sendall(message)
            got = 0
            while got < len(message):
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("the echo process closed")
                got += len(chunk)
            trips += 1
        elapsed = time.monotonic() - started
        cpu, system = cpu_seconds(proc.pid) - cpu0, system_cpu_seconds(proc.pid) - sys0
    children.kill(proc)
    return (
        f"  machine floor: a bare Python socket echo on the server core does {trips / elapsed:,.0f} round trips/s, "
        f"{cpu / trips * 1e6:.0f} us of CPU per round trip ({system / cpu if cpu else 0:.0%} of it in the kernel)"
    )


def start_ours_http(children: Children, core: int) -> tuple[subprocess.Popen[bytes], int]:
    """Our demo server over Streamable HTTP on an ephemeral loopback port, via the real CLI."""
    proc = children.start(
        [sys.executable, "-m", "mcp_trio", "serve", "--http", "127.0.0.1:0", "--log-level", "warning"],
        core=core,
    )
    assert proc.stderr is not None
    line = wait_for_line(proc.stderr, b"listening on http://", timeout=30)
    port = int(line.decode().strip().rsplit(":", 1)[1].split("/", 1)[0])
    return proc, port


def main() -> None:
    raise_fd_limit(4096)
    print(
        f"closed-loop echo tools/call over Streamable HTTP (keep-alive, one connection per client); server pinned "
        f"to core {server_core()}, load generator (separate process) to core {load_core()}; "
        f"{tcp_throughput.WARMUP:.0f} s warm-up then {tcp_throughput.DURATION:.0f} s counted per row"
    )
    python, note = tcp_throughput.peer_python()
    rows: list[HttpRow] = []
    measure = tcp_throughput._measure
    with pinned_self(load_core()), Children() as children:
        floor = _kernel_floor(children)
        ours, ours_port = start_ours_http(children, server_core())
        sdk, sdk_port = tcp_throughput.start_peer_http(children, python, server_core(), mode="http")
        sdk_s, sdk_s_port = tcp_throughput.start_peer_http(children, python, server_core(), mode="http-stateful")
        for sessions in SESSIONS:
            result = measure(children, "http", sessions, port=ours_port, pid=ours.pid)
            rows.append(HttpRow("ours", MODERN, sessions, result))
            result = measure(children, "http", sessions, port=sdk_port, pid=sdk.pid)
            rows.append(HttpRow("sdk", MODERN, sessions, result))
            result = measure(children, "http", sessions, port=ours_port, pid=ours.pid, session=True)
            rows.append(HttpRow("ours", LEGACY, sessions, result))
            result = measure(children, "http", sessions, port=sdk_s_port, pid=sdk_s.pid, session=True)
            rows.append(HttpRow("sdk", LEGACY, sessions, result))
        alive = ours.poll() is None and sdk.poll() is None and sdk_s.poll() is None

    print(
        f"  sdk = mcp 2.3.0 MCPServer (json_response; stateless for {MODERN}, stateful for {LEGACY}), uvicorn on "
        f"{tcp_throughput._peer_stack(python)} ({note}); servers {'alive' if alive else 'one DIED'} at the end"
    )
    print(floor)
    print(
        f"  {'':<5} {'transport':<22} {'sess':>4} {'calls/s':>9} {'srv CPU':>7} {'queued':>6} {'per core':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'gen CPU':>7} {'sys':>5} {'user/core':>9}"
    )
    for transport in (MODERN, LEGACY):
        for server in ("ours", "sdk"):
            for row in rows:
                if row.server == server and row.transport == transport:
                    print(row.line())
    _print_ratios(rows)


def _print_ratios(rows: list[HttpRow]) -> None:
    def pick(server: str, transport: str) -> dict[int, HttpRow]:
        return {r.sessions: r for r in rows if r.server == server and r.transport == transport}

    print("  ours / sdk per server core (raw calls/s ratio; per user-CPU core; p99 ours vs sdk):")
    verdicts: list[bool] = []
    for transport in (MODERN, LEGACY):
        ours, sdk = pick("ours", transport), pick("sdk", transport)
        for sessions in SESSIONS:
            o, s = ours.get(sessions), sdk.get(sessions)
            if o is None or s is None or not o.rate or not s.rate or o.result.errors or s.result.errors:
                if transport == MODERN:
                    verdicts.append(False)
                print(f"    {transport:<22} {sessions:>3} client(s): no comparison (a side failed or had errors)")
                continue
            ratio = o.per_core / s.per_core
            p99_ok = o.p99 <= s.p99
            mark = ""
            if transport == MODERN:
                verdicts.append(ratio >= GOAL_RATIO and p99_ok)
                mark = "  goal met" if verdicts[-1] else "  goal NOT met"
            print(
                f"    {transport:<22} {sessions:>3} client(s): {ratio:>5.1f}x  ({o.rate / s.rate:.1f}x raw; "
                f"{o.user_per_core / s.user_per_core:.1f}x user CPU); "
                f"p99 {o.p99:.2f} vs {s.p99:.2f} ms ({'no worse' if p99_ok else 'WORSE'}){mark}"
            )
    for transport in (MODERN, LEGACY):
        o, s = pick("ours", transport).get(50), pick("sdk", transport).get(50)
        if o is not None and s is not None and o.rate and s.rate:
            ratio = o.per_core / s.per_core
            print(
                f"  goal at 50 clients, {transport}: >= {GOAL_50_RATIO:.0f}x the sdk per server core: {ratio:.1f}x "
                f"({o.per_core:,.0f} vs {s.per_core:,.0f}): {'met' if ratio >= GOAL_50_RATIO else 'NOT met'}"
            )
    held = bool(verdicts) and all(verdicts)
    print(
        f"  goal: >= {GOAL_RATIO:.0f}x the sdk per server core on the 2026-07-28 wire with p99 no worse, at "
        f"{', '.join(map(str, SESSIONS))} clients: {'met' if held else 'NOT met'} "
        f"({sum(verdicts)} of {len(SESSIONS)} client counts)"
    )


if __name__ == "__main__":
    main()

"""Issue 5: ``tools/call`` round trips per second per server core, ours over TCP against the official SDK.

Setup (PEERS.md): the server under test is a subprocess pinned to one core; the load generator
(``benchmarks._loadgen``: plain sockets, epoll, msgspec) is another process pinned to the other core; this
orchestrator sits on the load generator's core and sleeps. Each session runs closed-loop sequential calls of a
trivial ``echo`` tool; after a warm-up, calls completed in a fixed window are counted and their latencies kept.

* ours: ``mcp-trio serve benchmarks.protocol_codec:build_echo_server --tcp 127.0.0.1:0`` (the real CLI, so the
  real start-up, including its ``gc.freeze()``), newline-delimited JSON, legacy sessions (``initialize`` +
  ``notifications/initialized``, then calls), and one row of modern 2026-07-28 requests (``_meta`` on each).
* the peer: ``mcp`` 2.3.0's ``MCPServer`` under uvicorn, Streamable HTTP stateless with JSON responses and
  2026-07-28 requests (its fastest path; it has no TCP transport), plus its stdio transport (one session only).

"per server core" divides calls by the server's CPU seconds in the window (from /proc), so an idle, latency-bound
server is not flattered or penalised by how busy it was; "srv CPU" shows how busy it was, and "queued" the share
of the window the server was runnable but waited for its core (another process held it: a shared machine).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

from benchmarks import _loadgen
from benchmarks._procs import (
    BENCH_DIR,
    Children,
    load_core,
    pinned_self,
    raise_fd_limit,
    server_core,
    wait_for_line,
)
from benchmarks._ts_peer import ts_peer_argv

__all__ = ["main", "peer_python", "start_ours"]

WARMUP: Final = 1.0
DURATION: Final = 4.0
SESSIONS: Final = (1, 10, 100)
GOAL_PER_CORE: Final = 40_000
GOAL_RATIO: Final = 10.0
#: The hot-path issue: at 100 sessions, this many calls per server core, with p99 within this factor of p50.
GOAL_100_PER_CORE: Final = 30_000
GOAL_100_TAIL: Final = 2.0
PEER_VENV: Final = BENCH_DIR / "venv"
_EXTRAS: Final = ("uvloop", "httptools")


def start_ours(children: Children, core: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """Our server on an ephemeral loopback port, via the real CLI (``env``: extra environment, e.g. config
    keys); returns (process, port)."""
    proc = children.start(
        [
            sys.executable,
            "-m",
            "mcp_trio",
            "serve",
            "benchmarks.protocol_codec:build_echo_server",
            "--tcp",
            "127.0.0.1:0",
            "--log-level",
            "warning",
        ],
        core=core,
        env={**os.environ, **env} if env else None,
    )
    assert proc.stderr is not None
    line = wait_for_line(proc.stderr, b"listening on tcp://", timeout=30)
    port = int(line.decode().strip().rsplit(":", 1)[1])
    return proc, port


def _importable(python: str, *modules: str) -> bool:
    probe = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))"
    return subprocess.run([python, "-c", probe, *modules], capture_output=True, timeout=120).returncode == 0


def peer_python() -> tuple[str, str]:
    """The interpreter that runs the peer, and a note on how it was set up.

    The peer needs ``mcp`` 2.3.0 and uvicorn (test dependencies of ours, so normally present) and, for its best
    case, uvloop and httptools. Whatever is missing goes into ``.bench/venv`` (git-ignored), never into the
    project's environment; that venv sees the project venv's packages through a ``.pth`` file.
    """
    here = sys.executable
    python = str(PEER_VENV / "bin" / "python")
    if Path(python).exists() and _importable(python, "mcp", "uvicorn", *_EXTRAS):
        return python, "peer venv .bench/venv"
    needed = [] if _importable(here, "mcp", "uvicorn") else ["mcp==2.3.0", "uvicorn"]
    try:
        if not Path(python).exists():
            subprocess.run([here, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True, timeout=120)
            Path(_purelib(python), "_project_venv.pth").write_text(_purelib(here) + "\n")
        print("  (setting up the peer in .bench/venv: pip install " + " ".join([*needed, *_EXTRAS]) + ")", flush=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *needed, *_EXTRAS],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return python, "peer venv .bench/venv (created now)"
    except (subprocess.SubprocessError, OSError) as exc:
        if needed:
            raise RuntimeError(f"cannot set up the peer (mcp, uvicorn) in .bench/venv: {exc}") from exc
        return here, f"project venv (no uvloop/httptools: {type(exc).__name__})"


def _purelib(python: str) -> str:
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    done = subprocess.run([python, "-c", probe], check=True, capture_output=True, timeout=60)
    return done.stdout.decode().strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"peer exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"peer not listening on {port} after {timeout:.0f}s")


def start_peer_http(
    children: Children, python: str, core: int, mode: str = "http"
) -> tuple[subprocess.Popen[bytes], int]:
    """The SDK's Streamable HTTP server (``mode`` "http": stateless JSON; "http-stateful": sessions)."""
    port = _free_port()
    proc = children.start([python, "-m", "benchmarks._sdk_peer", mode, str(port)], core=core, stderr=None)
    _wait_port(port, proc, timeout=60)
    return proc, port


def _percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index] / 1e6


class Row:
    def __init__(self, server: str, transport: str, sessions: int, result: _loadgen.Result) -> None:
        self.server, self.transport, self.sessions = server, transport, sessions
        self.result = result
        self.rate = result.calls / result.seconds
        self.server_util = result.server_cpu / result.seconds
        self.per_core = result.calls / result.server_cpu if result.server_cpu > 0 else float("nan")
        latencies = sorted(result.latencies_ns)
        self.p50 = _percentile(latencies, 0.50)
        self.p99 = _percentile(latencies, 0.99)
        self.max_ms = latencies[-1] / 1e6 if latencies else float("nan")
        self.load_util = result.load_cpu / result.seconds
        self.queued = result.server_queued / result.seconds

    def line(self) -> str:
        flag = f"  ERRORS {self.result.errors}: {self.result.first_error[:160]}" if self.result.errors else ""
        if self.load_util > 0.85:
            flag += "  (load generator saturated: calls/s is a floor; per core still holds)"
        return (
            f"  {self.server:<5} {self.transport:<22} {self.sessions:>4} {self.rate:>9,.0f} {self.server_util:>7.0%} "
            f"{self.queued:>6.0%} {self.per_core:>10,.0f} {self.p50:>8.2f} {self.p99:>8.2f} {self.load_util:>7.0%}"
            + flag
        )


def _measure(
    children: Children, wire: str, sessions: int, *, port: int = 0, pid: int = 0, **extra: Any
) -> _loadgen.Result:
    cfg = _loadgen.Config(
        wire=wire,
        sessions=sessions,
        warmup=WARMUP,
        duration=DURATION,
        port=port,
        server_pid=pid,
        server_core=server_core(),
        **extra,
    )
    return _loadgen.run(cfg, core=load_core(), timeout=WARMUP + DURATION + 90, children=children)


def main() -> None:
    raise_fd_limit(4096)
    print(
        f"closed-loop echo tools/call; server pinned to core {server_core()}, load generator (separate process) "
        f"to core {load_core()}; {WARMUP:.0f} s warm-up then {DURATION:.0f} s counted per row"
    )
    python, note = peer_python()
    rows: list[Row] = []
    header = (
        f"  {'':<5} {'transport':<22} {'sess':>4} {'calls/s':>9} {'srv CPU':>7} {'queued':>6} {'per core':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'gen CPU':>7}"
    )
    with pinned_self(load_core()), Children() as children:
        proc, port = start_ours(children, server_core())
        for sessions in SESSIONS:
            result = _measure(children, "ndjson", sessions, port=port, pid=proc.pid)
            rows.append(Row("ours", "tcp ndjson, legacy", sessions, result))
        result = _measure(children, "ndjson", 10, port=port, pid=proc.pid, modern=True)
        rows.append(Row("ours", "tcp ndjson, 2026-07-28", 10, result))
        result = _measure(children, "ndjson", 10, port=port, pid=proc.pid, tool="echo_thread")
        rows.append(Row("ours", "tcp, echo in a thread", 10, result))
        children.kill(proc)

        peer, port = start_peer_http(children, python, server_core())
        for sessions in SESSIONS:
            result = _measure(children, "http", sessions, port=port, pid=peer.pid)
            rows.append(Row("sdk", "http json, 2026-07-28", sessions, result))
        children.kill(peer)
        result = _measure(
            children, "stdio", 1, server_argv=[python, "-m", "benchmarks._sdk_peer", "stdio"], pid=os.getpid()
        )
        rows.append(Row("sdk", "stdio, legacy", 1, result))
        ours_stdio = [sys.executable, "-m", "mcp_trio", "serve", "benchmarks.protocol_codec:build_echo_server"]
        result = _measure(children, "stdio", 1, server_argv=ours_stdio, pid=os.getpid())
        rows.append(Row("ours", "stdio, legacy", 1, result))
        ts_argv, ts_note = ts_peer_argv()
        if ts_argv is not None:
            result = _measure(children, "stdio", 1, server_argv=ts_argv, pid=os.getpid())
            rows.append(Row("ts", "stdio, legacy", 1, result))

    print(f"  sdk = mcp 2.3.0 MCPServer, uvicorn on {_peer_stack(python)} ({note}); ts = TypeScript SDK ({ts_note})")
    print(header)
    for row in rows:
        print(row.line())
    _print_ratios(rows)


def _peer_stack(python: str) -> str:
    return "uvloop+httptools" if _importable(python, *_EXTRAS) else "asyncio+h11"


def _print_ratios(rows: list[Row]) -> None:
    ours = {r.sessions: r for r in rows if r.server == "ours" and r.transport == "tcp ndjson, legacy"}
    http = {r.sessions: r for r in rows if r.server == "sdk" and r.transport.startswith("http")}
    stdio = {r.server: r for r in rows if r.transport.startswith("stdio")}
    print("  ours (tcp) / sdk, per server core (raw calls/s ratio in brackets):")
    ratios = []
    for sessions in SESSIONS:
        if sessions in ours and sessions in http and ours[sessions].rate and http[sessions].rate:
            ratio = ours[sessions].per_core / http[sessions].per_core
            ratios.append(ratio)
            raw = ours[sessions].rate / http[sessions].rate
            print(f"    {sessions:>3} session(s) vs sdk http: {ratio:>5.1f}x  ({raw:.1f}x)")
    mine = stdio.get("ours")
    for peer in ("sdk", "ts"):
        other = stdio.get(peer)
        if mine is not None and other is not None and mine.rate and other.rate:
            print(
                f"    stdio, one sequential client: ours {mine.rate:,.0f} round trips/s, {peer} {other.rate:,.0f}: "
                f"{mine.rate / other.rate:.1f}x ({mine.per_core / other.per_core:.1f}x per server core)"
            )
    inline = ours.get(10)
    threaded = next((r for r in rows if "thread" in r.transport), None)
    if inline is not None and threaded is not None and inline.rate and threaded.rate:
        print(
            f"  a synchronous tool in a worker thread (the default) costs {1e6 / threaded.per_core:.0f} us of server "
            f"CPU per call against {1e6 / inline.per_core:.0f} us inline (blocking=False): "
            f"{inline.per_core / threaded.per_core:.1f}x; p50 {threaded.p50:.2f} vs {inline.p50:.2f} ms at 10 sessions"
        )
    best = max((r.per_core for r in ours.values()), default=0.0)
    print(
        f"  goals: >= {GOAL_PER_CORE / 1000:.0f}K calls/s per server core: best {best / 1000:.1f}K "
        f"({'met' if best >= GOAL_PER_CORE else 'NOT met'}); >= {GOAL_RATIO:.0f}x the sdk per core: "
        f"median {statistics.median(ratios) if ratios else float('nan'):.1f}x "
        f"({'met' if ratios and min(ratios) >= GOAL_RATIO else 'NOT met'} at every session count)"
    )
    hundred = ours.get(100)
    if hundred is not None and hundred.rate:
        tail = hundred.p99 / hundred.p50 if hundred.p50 else float("inf")
        held = hundred.per_core >= GOAL_100_PER_CORE and tail <= GOAL_100_TAIL
        print(
            f"  goal at 100 sessions: >= {GOAL_100_PER_CORE / 1000:.0f}K calls/s per server core with p99 <= "
            f"{GOAL_100_TAIL:g}x p50: {hundred.per_core / 1000:.1f}K, p99 {tail:.1f}x p50 (max "
            f"{hundred.max_ms:.1f} ms): {'met' if held else 'NOT met'}"
        )


if __name__ == "__main__":
    main()

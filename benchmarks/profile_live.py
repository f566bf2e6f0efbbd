"""Where our server spends each microsecond of a call under load, sampled live (not part of ``make bench``).

``python -m benchmarks.profile_live [SESSIONS] [SECONDS] [--tcp] [--legacy] [--native] [--nonblocking]``: our
server (the real CLI) pinned to one core, the load generator on the other (closed-loop ``echo`` calls, 10 clients
by default), and py-spy (from ``.bench/venv``, installed there if missing) sampling the server. HTTP by default
(2026-07-28 stateless; ``--legacy``: 2025-11-25 sessions); ``--tcp``: newline-delimited JSON over TCP, legacy
sessions. Prints the call's cost by stage (read, frame, decode, session, driver, dispatch, handler, encode,
write, scheduling, ...: the share of on-CPU samples whose running frame is in that stage, times the server's CPU
per call, measured without the profiler's overhead by the load generator), then shares per function (self: the
function itself was running, with the C functions it called; total: it was on the stack), per area, and
inclusive shares of the HTTP path's known costs. Idle samples (the server waiting in epoll) are left out, so
shares are of the server's busy time. ``--nonblocking`` samples without pausing the server (less skew,
occasionally torn stacks); ``--native`` adds C frames. ``docs/performance.md`` keeps the results.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import msgspec

from benchmarks import _loadgen
from benchmarks._procs import BENCH_DIR, Children, load_core, pinned_self, raise_fd_limit, server_core
from benchmarks.http_throughput import start_ours_http
from benchmarks.tcp_throughput import start_ours

__all__ = ["main"]

PY_SPY: Final = BENCH_DIR / "venv" / "bin" / "py-spy"
RATE: Final = 250
TOP: Final = 30
_AREAS: Final = (
    ("mcp_trio/transports/http/", "mcp_trio http transport"),
    ("mcp_trio/protocol/", "mcp_trio protocol"),
    ("mcp_trio/server/", "mcp_trio server"),
    ("mcp_trio/", "mcp_trio other"),
    ("h11/", "h11"),
    ("trio/_socket.py:", "trio socket calls (incl. the syscalls)"),
    ("trio/", "trio"),
    ("msgspec/", "msgspec"),
)


def _py_spy() -> str:
    if not PY_SPY.exists():
        subprocess.run(
            [str(PY_SPY.parent / "python"), "-m", "pip", "install", "--quiet", "py-spy"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return str(PY_SPY)


def _short(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``file.py:func`` with the path shortened after site-packages/repo."""
    name, _, where = frame.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{name}"


#: Inclusive shares worth knowing on the per-request path: (label, substrings of ``file:function`` names).
_FAMILIES: Final = (
    ("h11 (requests that are not plain; none in this load)", ("h11/",)),
    ("plain request head parse (request_head)", ("request_head.py:parse_plain_head",)),
    ("response head (response_head)", ("response_head.py:",)),
    ("socket send() syscalls (LeanSocketStream.send_nowait)", ("lean_socket.py:LeanSocketStream.send_nowait",)),
    ("socket recv() + wait (LeanSocketStream.receive_some)", ("lean_socket.py:LeanSocketStream.receive_some",)),
    (
        "timeouts and cancel scopes (none per request on this path)",
        ("trio/_timeouts.py:move_on_after", "CancelScope.__enter__", "CancelScope.__exit__", "CancelScope.deadline"),
    ),
    ("HttpRequest + Headers objects", ("HttpRequest.__init__", "Headers.from_fields", "Headers.__init__")),
    ("content negotiation (accepts)", ("headers.py:accepts",)),
    ("body JSON decode (decode_message)", ("jsonrpc.py:decode_message",)),
    ("answer JSON encode (encode_message)", ("jsonrpc.py:encode_message",)),
    ("accept_modern_request (session-layer validation)", ("session.py:accept_modern_request",)),
    ("loose_params (second decode of params)", ("modern.py:loose_params",)),
    ("validate_routing_headers", ("headers.py:validate_routing_headers",)),
    (
        "ServerSession() per request + track/respond",
        ("ServerSession.__init__", "ServerSession.track", "ServerSession.respond"),
    ),
    ("dispatch (the tool call itself)", ("dispatch.py:Dispatcher.dispatch",)),
    ("trio scheduler (unrolled_run self + epoll registrations)", ("_run.py:unrolled_run@self", "_io_epoll.py:")),
)


#: The stages of a call, by the running frame (first match wins; a C function counts in its Python caller's).
_STAGES: Final = (
    ("read: recv() syscalls", ("lean_socket.py:LeanSocketStream.receive_some",)),
    ("write: send() syscalls", ("lean_socket.py:LeanSocketStream.send_nowait", "lean_socket.py:write_nowait")),
    ("decode: JSON-RPC envelope", ("jsonrpc.py:decode_message", "jsonrpc.py:_classify")),
    ("encode: the answer", ("jsonrpc.py:encode_message",)),
    ("frame: lines, outbox, flush", ("protocol/framing.py:", "transports/stream.py:")),
    ("frame: HTTP heads, bodies, headers", ("transports/http/",)),
    ("session: protocol state, params, _meta", ("mcp_trio/protocol/",)),
    ("driver: session driver, port", ("server/driver.py:", "transports/port.py:", "server/server.py:")),
    ("dispatch: routing, arguments, result", ("server/dispatch.py:", "server/tools.py:")),
    ("handler: the tool itself", ("protocol_codec.py:", "mcp_trio/demo.py:")),
    ("admission and runtime", ("mcp_trio/runtime/",)),
    ("supervision: tasks' supervisors", ("supervision/",)),
    ("scheduling: trio run loop, epoll, traps", ("trio/", "outcome/")),
)


#: Leaf frames that are waiting, not working: other threads parked on a condition (the loop watchdog, idle
#: worker threads) and the event loop blocked in epoll_wait. py-spy reports some of them as running.
_IDLE: Final = ("threading.py:", "_io_epoll.py:EpollIOManager.get_events")


def _busy_frames(line: str) -> tuple[list[str], int]:
    """The frames of one raw py-spy line and its sample count; no frames when the sample was a wait."""
    stack, _, count_text = line.rpartition(" ")
    frames = [f for f in stack.split(";") if " (" in f] if count_text.isdigit() else []
    if frames and any(idle in _short(frames[-1]) for idle in _IDLE):
        frames = []
    return frames, int(count_text) if frames else 0


def _stage(frame: str) -> str:
    for label, needles in _STAGES:
        if any(needle in frame for needle in needles):
            return label
    return "other"


def stages(raw: str, us_per_call: float) -> list[str]:
    """The call's cost by stage: each stage's share of on-CPU samples times ``us_per_call``."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        frames, count = _busy_frames(line)
        if frames:
            counts[_stage(_short(frames[-1]))] += count
    samples = sum(counts.values())
    if not samples:
        return []
    out = [f"  one call: {us_per_call:.1f} us of server CPU, by stage (share of on-CPU samples x that):"]
    for label, _ in (*_STAGES, ("other", ())):
        share = counts[label] / samples
        out.append(f"    {label:<42} {share:6.1%}  {share * us_per_call:6.2f} us")
    return out


def _area(frame: str) -> str:
    for needle, label in _AREAS:
        if needle in frame:
            return label
    return "stdlib/other"


def summarize(raw: str) -> list[str]:
    self_counts: collections.Counter[str] = collections.Counter()
    total_counts: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    families: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        frames, count = _busy_frames(line)
        if not frames:
            continue
        samples += count
        self_counts[_short(frames[-1])] += count
        areas[_area(_short(frames[-1]))] += count
        names = {_short(f) for f in frames}
        for name in names:
            total_counts[name] += count
        names.add(_short(frames[-1]) + "@self")
        for label, needles in _FAMILIES:
            if any(needle in name for name in names for needle in needles):
                families[label] += count
    if not samples:
        return ["  no samples"]
    out = [f"  {samples} on-CPU samples", "  by area (file of the running frame):"]
    out += [f"    {n / samples:6.1%}  {area}" for area, n in areas.most_common()]
    out.append("  inclusive shares on the request path (a sample counts once per line):")
    out += [f"    {families[label] / samples:6.1%}  {label}" for label, _ in _FAMILIES]
    out.append(f"  top {TOP} by self time:")
    out += [f"    {n / samples:6.1%}  {name}" for name, n in self_counts.most_common(TOP)]
    out.append(f"  top {TOP} by total time (on the stack):")
    out += [f"    {n / samples:6.1%}  {name}" for name, n in total_counts.most_common(TOP + 10)[: TOP + 10]]
    return out


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sessions = int(args[0]) if args else 10
    seconds = float(args[1]) if len(args) > 1 else 10.0
    legacy = "--legacy" in sys.argv
    tcp = "--tcp" in sys.argv
    spy_flags = [a for a in sys.argv[1:] if a in ("--native", "--nonblocking")]
    raise_fd_limit(4096)
    spy = _py_spy()
    with tempfile.TemporaryDirectory() as tmp, pinned_self(load_core()), Children() as children:
        out = Path(tmp) / "raw.txt"
        proc, port = start_ours(children, server_core()) if tcp else start_ours_http(children, server_core())
        cfg = _loadgen.Config(
            wire="ndjson" if tcp else "http",
            sessions=sessions,
            warmup=1.0,
            duration=seconds + 1.0,
            port=port,
            server_pid=proc.pid,
            session=legacy and not tcp,
        )
        # First without the profiler: the server's CPU per call, undistorted.
        clean = _loadgen.run(cfg, core=load_core(), timeout=seconds + 60, children=children)
        load = children.start(
            [sys.executable, "-m", "benchmarks._loadgen", msgspec.json.encode(cfg).decode()],
            core=load_core(),
            stderr=None,
        )
        time.sleep(1.0)
        spy_proc = children.start(
            [
                spy,
                "record",
                *spy_flags,
                "-r",
                str(RATE),
                "-d",
                str(int(seconds)),
                "-f",
                "raw",
                "-o",
                str(out),
                "-p",
                str(proc.pid),
            ],
            core=load_core(),
        )
        spy_proc.communicate(timeout=seconds + 60)
        result_out, _ = load.communicate(timeout=seconds + 60)
        result = msgspec.json.decode(result_out.strip().splitlines()[-1], type=_loadgen.Result)
        raw = out.read_text() if out.exists() else ""
    era = "2025-11-25 sessions" if legacy or tcp else "2026-07-28 stateless"
    wire = f"{'TCP' if tcp else 'HTTP'}, {era}"
    us_per_call = clean.server_cpu / clean.calls * 1e6 if clean.calls else float("nan")
    print(
        f"py-spy on our server, {wire}, {sessions} clients, {seconds:.0f} s at {RATE} Hz. Without the profiler: "
        f"{clean.calls / clean.seconds:,.0f} calls/s, {clean.calls / clean.server_cpu:,.0f} per server core; with "
        f"it: {result.calls / result.seconds:,.0f} calls/s; errors {clean.errors + result.errors}"
    )
    print("\n".join(stages(raw, us_per_call)))
    print("\n".join(summarize(raw)))


if __name__ == "__main__":
    main()

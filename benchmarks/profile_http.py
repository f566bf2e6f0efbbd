"""Where our Streamable HTTP server spends its CPU under the modern-wire load (not part of ``make bench``).

``python -m benchmarks.profile_http [SESSIONS] [SECONDS] [--legacy] [--native] [--nonblocking]``: our demo
server (the real CLI) pinned to one core, the load generator on the other (10 clients of 2026-07-28 ``echo``
calls by default), and py-spy (from ``.bench/venv``, installed there if missing) sampling the server. Prints the
share of on-CPU samples per function (self: the function itself was running; total: it was on the stack), per
area (by the file the running frame is in), and inclusive shares of the request path's known costs. Idle samples
(the server waiting in epoll) are left out, so shares are of the server's busy time. ``--nonblocking`` samples
without pausing the server (less skew, occasionally torn stacks); ``--native`` adds C frames.
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
    ("trio scheduler (unrolled_run self + epoll)", ("_run.py:unrolled_run@self", "_io_epoll.py:")),
)


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
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if " (" in f]
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
    spy_flags = [a for a in sys.argv[1:] if a in ("--native", "--nonblocking")]
    raise_fd_limit(4096)
    spy = _py_spy()
    with tempfile.TemporaryDirectory() as tmp, pinned_self(load_core()), Children() as children:
        out = Path(tmp) / "raw.txt"
        proc, port = start_ours_http(children, server_core())
        cfg = _loadgen.Config(
            wire="http",
            sessions=sessions,
            warmup=1.0,
            duration=seconds + 1.0,
            port=port,
            server_pid=proc.pid,
            session=legacy,
        )
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
    wire = "2025-11-25 sessions" if legacy else "2026-07-28 stateless"
    print(
        f"py-spy on our HTTP server, {wire}, {sessions} clients, {seconds:.0f} s at {RATE} Hz: "
        f"{result.calls / result.seconds:,.0f} calls/s during the run (profiler attached), errors {result.errors}"
    )
    print("\n".join(summarize(raw)))


if __name__ == "__main__":
    main()

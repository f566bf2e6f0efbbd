"""100,000 idle legacy Streamable HTTP sessions on one box: ``mcp-trio serve --workers W --http`` (issue 19).

``python -m benchmarks.workers_http_scale [SESSIONS] [IDLE_SECONDS] [WORKERS]`` (defaults 100,000, 60 and 6):
the server is the real CLI with W workers and ``MCP_TRIO_HTTP_MAX_SESSIONS`` raised from its default (10,000
legacy sessions per worker) to twice each worker's share. G = 4 generator processes, each from four loopback
source addresses of its own (ephemeral ports are per source address), establish SESSIONS / G sessions, up to
``WINDOW`` at a time: a keep-alive connection POSTs ``initialize`` (protocol version 2025-11-25, which answers
with an ``Mcp-Session-Id``), ``notifications/initialized`` and a ``ping`` with that id, and is then **closed**.

Closed, although a legacy client usually keeps its keep-alive connection: a session must outlive its connection
(the client reconnects whenever it likes), so the figure of record is what an idle session costs by itself; an
idle connection's cost is measured apart (``benchmarks.workers_scale``, ``benchmarks.websocket_memory``).
The kernel hashes each connection to a worker, which creates the session and names itself in its id.

Then everything idles for IDLE_SECONDS, and every session must answer a second ``ping``, each on a new
connection: the kernel puts it on any worker, and a worker that does not hold the session relays it to the
owner over a Unix socket (``transports/http/forward.py``; the relayed answer carries ``Connection: close``,
which is how the generators count them: about (W - 1) / W of them).

Figures: sessions established per second (three requests each, over the slowest generator's time), the
sessions each worker holds (the parent's SIGUSR1 report), server memory per session (the workers' summed VmRSS
minus their summed zero-session VmRSS, divided by the sessions, measured after every connection closed), and
how many sessions answered after the idle period (all).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Final

from benchmarks._procs import Children, raise_fd_limit, say, stderr_tail
from benchmarks._workers import ConnectFailed, source_addresses, start_connect, start_generators, start_serve

__all__ = ["main"]

SESSIONS: Final = 100_000
IDLE: Final = 60.0
WORKERS: Final = 6
GENERATORS: Final = 4
WINDOW: Final = 128  # connections in progress per generator
_INITIALIZE: Final = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"idle-http","version":"1"}}}'
)
_INITIALIZED: Final = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
_PING: Final = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
_REPORT: Final = re.compile(rb"(worker-\d+)\S* pid \d+: \d+ connections, (\d+) sessions")


class _Response:
    """One complete HTTP/1.1 response with a ``Content-Length`` at the head of a buffer, or why not."""

    __slots__ = ("body", "close", "rest", "session", "status")

    def __init__(self, status: int, session: str, close: bool, body: bytes, rest: bytes) -> None:
        self.status, self.session, self.close, self.body, self.rest = status, session, close, body, rest


def _parse(buffer: bytes) -> _Response | None:
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buffer[:end].decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(None, 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if len(buffer) < end + 4 + length:
        return None
    body = buffer[end + 4 : end + 4 + length]
    close = headers.get("connection", "").lower() == "close"
    return _Response(status, headers.get("mcp-session-id", ""), close, body, buffer[end + 4 + length :])


def _post(port: int, body: bytes, session: str = "") -> bytes:
    routing = f"MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: {session}\r\n" if session else ""
    return (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\n{routing}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class _Conn:
    __slots__ = ("buffer", "connected", "session", "sock", "step")

    def __init__(self, sock: socket.socket, session: str) -> None:
        self.sock, self.session = sock, session
        self.buffer = b""
        self.connected = False
        self.step = 0


def _run(port: int, sources: list[str], sessions: list[str], establish: bool, deadline: float) -> tuple[int, int, str]:
    """Establish ``len(sessions)`` sessions (``establish``; their ids are written into ``sessions``) or ping each
    of ``sessions`` on a new connection; returns (done, relayed, first error)."""
    poller = select.epoll()
    conns: dict[int, _Conn] = {}
    done = relayed = started = 0
    first_error = ""

    def finish(fd: int, error: str = "") -> None:
        nonlocal first_error
        poller.unregister(fd)
        conns.pop(fd).sock.close()
        first_error = first_error or error

    while (started < len(sessions) or conns) and time.monotonic() < deadline:
        while started < len(sessions) and len(conns) < WINDOW:
            try:
                sock = start_connect(sources[started % len(sources)], port, nodelay=True)
            except ConnectFailed as error:
                return done, relayed, str(error)
            conn = _Conn(sock, "" if establish else sessions[started])
            conn.step = started  # the index, until the connection is up
            conns[sock.fileno()] = conn
            poller.register(sock.fileno(), select.EPOLLOUT)
            started += 1
        for fd, events in poller.poll(1.0):
            conn = conns[fd]
            if not conn.connected:
                if events & (select.EPOLLERR | select.EPOLLHUP):
                    finish(fd, f"connect: {os.strerror(conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))}")
                    continue
                conn.connected = True
                index, conn.step = conn.step, 0
                conn.session = conn.session or f"#{index}"  # establishing: where its id goes
                conn.sock.send(_post(port, _INITIALIZE) if establish else _post(port, _PING, conn.session))
                poller.modify(fd, select.EPOLLIN)
                continue
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as error:
                finish(fd, f"recv: {error}")
                continue
            if not data:
                finish(fd, f"the server closed the connection at step {conn.step}")
                continue
            conn.buffer += data
            response = _parse(conn.buffer)
            if response is None:
                continue
            conn.buffer = response.rest
            step = conn.step if establish else 2
            expected = 202 if step == 1 else 200
            if response.status != expected or (step != 1 and b'"result"' not in response.body):
                finish(fd, f"step {step}: HTTP {response.status} {response.body[:200]!r}")
                continue
            if step == 0:
                if not response.session:
                    finish(fd, "initialize answered without an Mcp-Session-Id")
                    continue
                sessions[int(conn.session[1:])] = conn.session = response.session
                conn.sock.send(_post(port, _INITIALIZED, conn.session))
            elif step == 1:
                conn.sock.send(_post(port, _PING, conn.session))
            else:
                done += 1
                relayed += response.close and not establish
                finish(fd)
                continue
            conn.step += 1
    if conns:
        first_error = first_error or f"{len(conns)} connections still waiting at the deadline"
    poller.close()
    return done, relayed, first_error


def generate(port: int, count: int, source: str) -> None:
    """A generator process: establish ``count`` sessions from ``source``.1-4, report, then ping each on request."""
    raise_fd_limit(WINDOW + 100)
    sources = source_addresses(source)
    sessions = [""] * count
    started = time.monotonic()
    done, _, error = _run(port, sources, sessions, True, started + 240)
    print(json.dumps({"opened": done, "seconds": time.monotonic() - started, "error": error}), flush=True)
    sys.stdin.readline()  # the coordinator says when the idle period is over
    started = time.monotonic()
    answered, relayed, error = _run(port, sources, [s for s in sessions if s], False, started + 240)
    seconds = time.monotonic() - started
    print(json.dumps({"answered": answered, "relayed": relayed, "seconds": seconds, "error": error}), flush=True)
    sys.stdin.readline()


def _keep_reading(stream: IO[bytes], lines: list[bytes]) -> None:
    """Read the server's stderr to its end in a thread (a full pipe would stop the workers), keeping the lines."""

    threading.Thread(target=lines.extend, args=(stream,), daemon=True).start()  # line by line, as they come


def _sessions_per_worker(server: subprocess.Popen[bytes], workers: int, lines: list[bytes]) -> list[int]:
    """Each worker's legacy sessions, from the parent's SIGUSR1 report (its last heartbeat: within a second)."""
    seen = len(lines)
    server.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = [int(m[2]) for line in lines[seen:] if (m := _REPORT.search(line))]
        if len(counts) >= workers:
            return counts[:workers]
        time.sleep(0.1)
    raise RuntimeError(f"no SIGUSR1 report in time; saw: {b''.join(lines[-10:])!r}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    arguments = sys.argv[1:] if __name__ == "__main__" else []
    try:
        sessions = int(arguments[0]) if arguments else SESSIONS
        idle = float(arguments[1]) if len(arguments) > 1 else IDLE
        workers = int(arguments[2]) if len(arguments) > 2 else WORKERS
        if sessions < GENERATORS or idle < 0 or workers < 1:
            raise ValueError
    except ValueError:
        print(
            f"usage: python -m benchmarks.workers_http_scale [SESSIONS >= {GENERATORS}] [IDLE_SECONDS >= 0] "
            "[WORKERS >= 1]",
            file=sys.stderr,
        )
        sys.exit(2)
    raise_fd_limit(20_000)
    per_generator = sessions // GENERATORS
    sessions = per_generator * GENERATORS
    cap = 2 * -(-sessions // workers) + 1_000  # per worker: the hash spreads unevenly, by a few percent
    print(
        f"{sessions:,} idle legacy HTTP sessions (connections closed): mcp-trio serve --workers {workers} --http, "
        f"MCP_TRIO_HTTP_MAX_SESSIONS={cap}, {GENERATORS} generator processes (four loopback source addresses "
        f"each, {WINDOW} connections at a time), {idle:g} s idle, then a ping per session on a new connection"
    )
    with Children() as children:
        server = start_serve(children, workers, ["http"], env={**os.environ, "MCP_TRIO_HTTP_MAX_SESSIONS": str(cap)})
        assert server.proc.stderr is not None
        _keep_reading(server.proc.stderr, server.lines)
        time.sleep(1)
        zero = server.rss()
        cpu0 = server.cpu()
        port = server.ports["http"]
        generators = start_generators(
            children, "benchmarks.workers_http_scale", GENERATORS, port, per_generator, 40, unpinned=True
        )
        started = time.monotonic()
        opened = 0
        slowest = 0.0
        for generator in generators:
            assert generator.stdout is not None
            line = generator.stdout.readline()
            report = json.loads(line) if line.startswith(b"{") else {"opened": 0, "seconds": 0.0, "error": line}
            if report["error"]:
                error = stderr_tail(generator, 500)
                print(f"  a generator failed after {report['opened']:,} sessions: {report['error']} {error}")
                return
            opened += report["opened"]
            slowest = max(slowest, report["seconds"])
        took = time.monotonic() - started
        cpu1 = server.cpu()
        time.sleep(2)  # the last connections' tasks end; then one heartbeat carries the counts to the parent
        loaded = server.rss()
        per_worker = _sessions_per_worker(server.proc, len(server.pids), server.lines)
        per_session = (loaded - zero) / opened
        print(
            f"  established {opened:,} sessions in {took:.1f} s ({opened / slowest:,.0f}/s; three requests each)"
            f"; per worker {min(per_worker):,}-{max(per_worker):,} (sum {sum(per_worker):,}); the workers' CPU "
            f"{cpu1 - cpu0:.1f} s ({(cpu1 - cpu0) / opened * 1e6:,.0f} us per session, {(cpu1 - cpu0) / took:.2f} "
            "cores)"
        )
        print(
            f"  server memory: {zero / 2**20:.0f} MiB with no sessions -> {loaded / 2**20:.0f} MiB: "
            f"{per_session:,.0f} bytes per session"
        )
        time.sleep(idle)
        answered = relayed = 0
        slowest = 0.0
        cpu2 = server.cpu()
        say(generators, b"go\n")
        errors = []
        for generator in generators:
            assert generator.stdout is not None
            line = generator.stdout.readline()
            report = json.loads(line) if line.startswith(b"{") else {"answered": 0, "relayed": 0, "error": line}
            answered += report["answered"]
            relayed += report["relayed"]
            slowest = max(slowest, report.get("seconds", 0.0))
            if report["error"]:
                errors.append(str(report["error"]))
        ping_cpu = server.cpu() - cpu2  # every generator has reported: the pings are done
        print(
            f"  after {idle:g} s idle, {answered:,} of {opened:,} sessions answered a ping on a new connection "
            f"({'all' if answered == opened else 'NOT all'}; {relayed:,} relayed to the owner worker, "
            f"{answered / max(slowest, 1e-9):,.0f} pings/s, the workers' CPU "
            f"{ping_cpu / max(answered, 1) * 1e6:,.0f} us per ping)" + (f"; first error: {errors[0]}" if errors else "")
        )
        say(generators, b"done\n")


if __name__ == "__main__":
    main()

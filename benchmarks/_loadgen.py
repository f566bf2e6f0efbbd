"""The load generator: one process, plain non-blocking sockets (or pipes) and epoll, no framework.

Run as ``python -m benchmarks._loadgen CONFIG_JSON``; prints one JSON result line. Each session is a client
that sends one ``tools/call`` of ``echo`` at a time and sends the next as soon as the answer is in (closed
loop), so ``sessions`` is also the number of calls in flight. Calls completed during the measuring window are
counted; each one's latency (send to answer) is recorded. The server's CPU time over the window is read from
/proc, so throughput can be normalised per server core.

Wires:

* ``ndjson``: newline-delimited JSON over TCP (our ``serve_tcp``); legacy sessions (``initialize`` +
  ``notifications/initialized`` first) or modern ones (``_meta`` on every request).
* ``http``: Streamable HTTP, one keep-alive connection per client, 2026-07-28 requests (``_meta`` plus the
  ``MCP-Protocol-Version``/``Mcp-Method``/``Mcp-Name`` headers), JSON responses with ``Content-Length``.
  With ``session`` set, the legacy session wire instead: each connection first POSTs ``initialize`` (keeping
  the ``Mcp-Session-Id`` it gets) and ``notifications/initialized``, then its calls carry ``Mcp-Session-Id``
  and ``MCP-Protocol-Version: 2025-11-25`` (no ``_meta``, no routing headers).
* ``stdio``: the load generator starts the server itself (``server_argv``) pinned to ``server_core`` and
  talks to it over pipes: one session, legacy handshake.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from array import array
from typing import Any, Final

import msgspec

from benchmarks._procs import cpu_seconds, run_delay, system_cpu_seconds

__all__ = ["Config", "Result", "main"]

_TEXT: Final = "hello world"
_MODERN_META: Final = (
    b'"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
    b'"io.modelcontextprotocol/clientCapabilities":{},'
    b'"io.modelcontextprotocol/clientInfo":{"name":"loadgen","version":"1"}}'
)
_INITIALIZE: Final = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"loadgen","version":"1"}}}\n'
    b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
)


class Config(msgspec.Struct):
    wire: str  # "ndjson" | "http" | "stdio"
    sessions: int
    warmup: float
    duration: float
    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/mcp"
    modern: bool = False
    session: bool = False  # http only: the legacy session wire (initialize, then Mcp-Session-Id on each call)
    tool: str = "echo"  # the tool called (the benchmark server also has ``echo_thread``: echo in a worker thread)
    server_pid: int = 0
    server_argv: list[str] = []
    server_core: int = 0
    max_samples: int = 400_000


class Result(msgspec.Struct):
    calls: int
    seconds: float
    server_cpu: float
    server_queued: float
    load_cpu: float
    errors: int
    latencies_ns: list[int]
    first_error: str = ""
    server_sys: float = 0.0  # the kernel's part of server_cpu (sockets runs only)


class _Answer(msgspec.Struct):
    id: int | str | None = None
    result: msgspec.Raw = msgspec.Raw()  # empty when absent
    error: msgspec.Raw = msgspec.Raw()


_answer_decoder: Final = msgspec.json.Decoder(_Answer)


def _body(request_id: int, modern: bool, tool: str = "echo") -> bytes:
    params = b'{"name":"' + tool.encode() + b'","arguments":{"text":"' + _TEXT.encode() + b'"}'
    if modern:
        params += b"," + _MODERN_META
    return b'{"jsonrpc":"2.0","id":' + str(request_id).encode() + b',"method":"tools/call","params":' + params + b"}}"


class _Request:
    """Prebuilt request bytes: only the id changes from call to call."""

    def __init__(self, wire: str, cfg: Config, session_id: str | None = None) -> None:
        http_session = wire == "http" and cfg.session
        body = _body(123456789, modern=(wire == "http" and not http_session) or cfg.modern, tool=cfg.tool)
        self.head, _, self.tail = body.partition(b"123456789")
        self.http = wire == "http"
        if self.http:
            routing = (
                f"MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: {session_id}\r\n"
                if http_session
                else f"MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: {cfg.tool}\r\n"
            )
            self.http_head = (
                f"POST {cfg.path} HTTP/1.1\r\nHost: {cfg.host}:{cfg.port}\r\n"
                "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n" + routing
            ).encode()

    def build(self, request_id: int) -> bytes:
        body = self.head + str(request_id).encode() + self.tail
        if self.http:
            return self.http_head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        return body + b"\n"


def _check(payload: bytes, expected_id: int) -> str:
    """'' when ``payload`` is the successful answer to ``expected_id``, else what is wrong with it."""
    try:
        answer = _answer_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        return f"undecodable answer ({exc}): {payload[:200]!r}"
    if answer.id != expected_id or not answer.result or b'"isError":true' in payload:
        return f"unexpected answer to {expected_id}: {payload[:300]!r}"
    return ""


class _Http:
    """Just enough HTTP/1.1 response parsing for keep-alive JSON answers with Content-Length."""

    @staticmethod
    def take(buffer: bytes) -> tuple[bytes | None, bytes, str]:
        """(body or None if incomplete, rest of the buffer, error)."""
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None, buffer, ""
        head = buffer[:end].lower()
        if not head.startswith(b"http/1.1 200"):
            return None, buffer, f"HTTP status line {buffer[:end].splitlines()[0]!r}: {buffer[:400]!r}"
        at = head.find(b"content-length:")
        if at < 0:
            return None, buffer, f"no content-length (chunked or SSE?): {buffer[:400]!r}"
        line_end = head.find(b"\r\n", at)
        length = int(head[at + 15 : line_end if line_end >= 0 else len(head)])
        start = end + 4
        if len(buffer) < start + length:
            return None, buffer, ""
        return buffer[start : start + length], buffer[start + length :], ""


def _handshake(sock: socket.socket) -> None:
    sock.sendall(_INITIALIZE)
    buffer = b""
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("server closed during initialize")
        buffer += chunk
    line = buffer.split(b"\n", 1)[0]
    if b'"result"' not in line:
        raise RuntimeError(f"initialize failed: {line[:300]!r}")


def _http_exchange(sock: socket.socket, cfg: Config, headers: str, body: bytes) -> tuple[int, bytes, bytes]:
    """One blocking HTTP/1.1 POST on a keep-alive socket: (status, head as sent, body)."""
    sock.sendall(
        (
            f"POST {cfg.path} HTTP/1.1\r\nHost: {cfg.host}:{cfg.port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    buffer = b""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = buffer[:end].lower()
            at = head.find(b"content-length:")
            if at < 0:
                raise RuntimeError(f"handshake answer without content-length: {buffer[:300]!r}")
            line_end = head.find(b"\r\n", at)
            length = int(head[at + 15 : line_end if line_end >= 0 else len(head)])
            if len(buffer) >= end + 4 + length:
                return int(head.split(None, 2)[1]), buffer[:end], buffer[end + 4 : end + 4 + length]
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("server closed during the HTTP handshake")
        buffer += chunk


def _http_handshake(sock: socket.socket, cfg: Config) -> str:
    """``initialize`` + ``notifications/initialized`` on the legacy HTTP wire; returns the session id."""
    initialize, initialized = _INITIALIZE.rstrip(b"\n").split(b"\n")
    status, head, body = _http_exchange(sock, cfg, "", initialize)
    at = head.lower().find(b"mcp-session-id:")  # the name in any case; the id itself is case-sensitive
    if status != 200 or at < 0 or b'"result"' not in body:
        raise RuntimeError(f"HTTP initialize failed ({status}): {head[:300]!r} {body[:300]!r}")
    line_end = head.find(b"\r\n", at)
    session_id = head[at + 15 : line_end if line_end >= 0 else len(head)].strip().decode()
    status, _, body = _http_exchange(
        sock, cfg, f"MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: {session_id}\r\n", initialized
    )
    if status != 202:
        raise RuntimeError(f"HTTP notifications/initialized got {status}: {body[:300]!r}")
    return session_id


def run_sockets(cfg: Config) -> Result:
    """ndjson and http: every session a non-blocking socket on one epoll."""
    http = cfg.wire == "http"
    socks: dict[int, socket.socket] = {}
    requests: dict[int, _Request] = {}
    shared = _Request(cfg.wire, cfg)
    for _ in range(cfg.sessions):
        sock = socket.create_connection((cfg.host, cfg.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not http and not cfg.modern:
            _handshake(sock)
        requests[sock.fileno()] = (
            _Request(cfg.wire, cfg, _http_handshake(sock, cfg)) if http and cfg.session else shared
        )
        sock.setblocking(False)
        socks[sock.fileno()] = sock
    poller = select.epoll()
    pending: dict[int, bytes] = dict.fromkeys(socks, b"")
    sent_at: dict[int, int] = {}
    next_id: dict[int, int] = {}
    latencies = array("q")
    calls = errors = 0
    first_error = ""
    max_samples = cfg.max_samples
    clock = time.perf_counter_ns
    start = clock()
    measure_from = start + int(cfg.warmup * 1e9)
    measure_to = measure_from + int(cfg.duration * 1e9)
    hard_stop = measure_to + 10_000_000_000
    cpu0 = load0 = queued0 = sys0 = 0.0
    measuring = False
    for fd, sock in socks.items():
        poller.register(fd, select.EPOLLIN)
        next_id[fd] = 1
        sent_at[fd] = clock()
        sock.send(requests[fd].build(1))
    active = len(socks)
    while active:
        events = poller.poll(1.0)
        now = clock()
        if not measuring and now >= measure_from:
            measuring = True
            cpu0, load0, queued0 = cpu_seconds(cfg.server_pid), time.process_time(), run_delay(cfg.server_pid)
            sys0 = system_cpu_seconds(cfg.server_pid)
        if now > hard_stop:
            first_error = first_error or f"{active} sessions still waiting 10 s after the window"
            errors += active
            break
        for fd, _ in events:
            sock = socks[fd]
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                errors += 1
                first_error = first_error or "server closed a connection"
                poller.unregister(fd)
                active -= 1
                continue
            buffer = pending[fd] + data if pending[fd] else data
            if http:
                payload, buffer, problem = _Http.take(buffer)
            else:
                nl = buffer.find(b"\n")
                if nl < 0:
                    payload, problem = None, ""
                else:
                    payload, buffer, problem = buffer[:nl], buffer[nl + 1 :], ""
            pending[fd] = buffer
            if payload is None and not problem:
                continue
            rid = next_id[fd]
            problem = problem or _check(payload, rid)  # type: ignore[arg-type]
            if problem:
                errors += 1
                first_error = first_error or problem
                poller.unregister(fd)
                active -= 1
                continue
            sent = sent_at[fd]
            if sent >= measure_from and now <= measure_to:
                calls += 1
                if len(latencies) < max_samples:
                    latencies.append(now - sent)
            if now > measure_to:
                poller.unregister(fd)
                active -= 1
                continue
            next_id[fd] = rid + 1
            sent_at[fd] = clock()
            sock.send(requests[fd].build(rid + 1))
    cpu1, load1, queued1 = cpu_seconds(cfg.server_pid), time.process_time(), run_delay(cfg.server_pid)
    sys1 = system_cpu_seconds(cfg.server_pid)
    for sock in socks.values():
        sock.close()
    poller.close()
    return Result(
        calls=calls,
        seconds=cfg.duration,
        server_cpu=cpu1 - cpu0,
        server_queued=queued1 - queued0,
        load_cpu=load1 - load0,
        errors=errors,
        latencies_ns=latencies.tolist(),
        first_error=first_error,
        server_sys=sys1 - sys0,
    )


def run_stdio(cfg: Config) -> Result:
    """One sequential session over the server's stdin/stdout (the server is our child, pinned elsewhere)."""
    proc = subprocess.Popen(
        cfg.server_argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, {cfg.server_core}),
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    out, inp = proc.stdin.fileno(), proc.stdout.fileno()
    request = _Request("stdio", cfg)
    buffer = b""

    def read_line(deadline: float) -> bytes:
        nonlocal buffer
        while True:
            nl = buffer.find(b"\n")
            if nl >= 0:
                line, buffer = buffer[:nl], buffer[nl + 1 :]
                return line
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([inp], [], [], left)[0]:
                raise TimeoutError("no answer on stdio")
            chunk = os.read(inp, 262144)
            if not chunk:
                raise RuntimeError("server closed stdout")
            buffer += chunk

    latencies = array("q")
    calls = errors = 0
    first_error = ""
    try:
        os.write(out, _INITIALIZE)
        line = read_line(time.monotonic() + 60)
        if b'"result"' not in line:
            raise RuntimeError(f"initialize failed: {line[:300]!r}")
        clock = time.perf_counter_ns
        start = clock()
        measure_from = start + int(cfg.warmup * 1e9)
        measure_to = measure_from + int(cfg.duration * 1e9)
        cpu0 = load0 = queued0 = 0.0
        measuring = False
        rid = 0
        while True:
            rid += 1
            sent = clock()
            if not measuring and sent >= measure_from:
                measuring = True
                cpu0, load0, queued0 = cpu_seconds(proc.pid), time.process_time(), run_delay(proc.pid)
            os.write(out, request.build(rid))
            problem = _check(read_line(time.monotonic() + 10), rid)
            now = clock()
            if problem:
                errors += 1
                first_error = problem
                break
            if sent >= measure_from:
                calls += 1
                latencies.append(now - sent)
            if now > measure_to:
                break
        cpu1, load1, queued1 = cpu_seconds(proc.pid), time.process_time(), run_delay(proc.pid)
    finally:
        proc.kill()
        proc.wait(5)
    return Result(
        calls=calls,
        seconds=cfg.duration,
        server_cpu=cpu1 - cpu0,
        server_queued=queued1 - queued0,
        load_cpu=load1 - load0,
        errors=errors,
        latencies_ns=latencies.tolist(),
        first_error=first_error,
    )


def main() -> None:
    cfg = msgspec.json.decode(sys.argv[1].encode(), type=Config)
    result = run_stdio(cfg) if cfg.wire == "stdio" else run_sockets(cfg)
    sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")
    sys.stdout.flush()


def run(cfg: Config, *, core: int, timeout: float, children: Any) -> Result:
    """Run one load generator process pinned to ``core`` (from the orchestrator) and return its result."""
    proc = children.start(
        [sys.executable, "-m", "benchmarks._loadgen", msgspec.json.encode(cfg).decode()],
        core=core,
        stderr=None,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        children.kill(proc)
    if proc.returncode != 0 or not out:
        raise RuntimeError(f"load generator failed (exit {proc.returncode})")
    return msgspec.json.decode(out.strip().splitlines()[-1], type=Result)


if __name__ == "__main__":
    main()

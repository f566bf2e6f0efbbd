"""The storm generator: N Streamable HTTP clients, one slow ``tools/call`` each, all at once (one process, epoll).

Run as ``python -m benchmarks._storm CONFIG_JSON``; prints one JSON result line. Every client is its own
non-blocking socket on one epoll, sends ONE 2026-07-28 ``tools/call`` (``_meta`` with the protocol version and
client capabilities; ``MCP-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name`` headers; JSON or SSE accepted),
reads exactly one HTTP response, and closes. Two meanings of "at once":

* ``cold`` (what a storm of new clients is, and what PEERS.md's asyncio client did): every ``connect()`` is
  issued in one tight loop (a few hundred milliseconds for 5,000) and each request is written the moment its
  connection is established, so the server's accept path is part of what is measured.
* ``warm``: the connections are opened first, ``batch`` at a time so the accept queue never overflows, the
  generator waits (at most ``accept_wait``) until the server has accepted every one (the listener's accept queue
  is empty), then writes all the requests in one burst (a few tens of milliseconds). This isolates request
  admission (in-flight limits) from the accept path. A server that refuses connections at accept answers them
  before the burst: those answers are counted as refusals "before the request was sent".

Each request's latency runs from the moment it was written (and, for the client's view of a cold storm, from
its ``connect()``). Every client must get exactly one answer: a result, an overload refusal (HTTP 503 whatever
its body, or a JSON-RPC error -32000 in a 200 or 503 body), or another error; anything else is a failure
(closed or reset without an answer, no answer by the deadline, connect failed, bytes after the answer).

Clients bind to ``sources`` loopback addresses in turn (127.0.0.1, 127.0.0.2, ...) with
``IP_BIND_ADDRESS_NO_PORT``, so repeated storms do not run out of ephemeral ports or collide with TIME_WAIT.
The listener's accept queue is sampled every ``sample_every`` seconds (``_tcpstat.listen_queue``), and the
server's RSS every ``rss_every`` seconds, from the event loop.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import sys
import time
from typing import Any, Final

import msgspec

from benchmarks._procs import rss_bytes
from benchmarks._tcpstat import listen_queue

__all__ = ["Config", "Result", "FAILURES", "KINDS", "run", "start", "finish", "main"]

_IP_BIND_ADDRESS_NO_PORT: Final = 24
#: Answer kinds, then the failures (no answer, or more than one).
KINDS: Final = ("result", "overload", "error", "closed", "reset", "timeout", "connect_failed", "extra")
FAILURES: Final = ("closed", "reset", "timeout", "connect_failed", "extra")
_META: Final = (
    '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
)
# connection states
_CONNECTING: Final = 0
_CONNECTED: Final = 1
_SENT: Final = 2
_DONE: Final = 3


class Config(msgspec.Struct):
    port: int
    n: int
    seconds: float = 2.0
    mode: str = "cold"  # "cold" | "warm" (see the module docstring)
    host: str = "127.0.0.1"
    path: str = "/mcp"
    tool: str = "sleep"
    sources: int = 8
    deadline: float = 60.0  # seconds after the first connect() by which every answer must be in
    accept_wait: float = 3.0  # warm: longest wait for the accept queue to empty before the burst
    batch: int = 500  # warm: connections opened at once
    sample_every: float = 0.01  # the accept queue
    server_pid: int = 0  # sample its RSS every ``rss_every`` seconds (0: do not)
    rss_every: float = 0.02


class Result(msgspec.Struct):
    n: int
    mode: str
    started: float  # time.monotonic() of the first connect() (CLOCK_MONOTONIC: comparable across processes)
    burst_at: float  # time.monotonic() of the first request written
    burst_spread: float  # seconds from the first request written to the last
    connected_after: float  # seconds from the first connect() until every connection was established (or failed)
    queued_at_burst: int  # the accept queue when the burst began (warm) or when the last connect() was issued
    counts: dict[str, int]
    answered_before_sent: int  # answers (refusals at accept) that arrived before the request was written
    result_ns: list[int]  # per result: written -> answer
    refusal_ns: list[int]  # per overload refusal of a written request: written -> answer
    accept_refusal_ns: list[int]  # per refusal that came before the request was written: connect() -> answer
    result_from_connect_ns: list[int]  # per result: connect() -> answer
    refusal_from_connect_ns: list[int]
    connect_ns: list[int]  # per connection: connect() -> established (client side)
    first_result_s: float  # seconds from burst_at to the first result
    last_result_s: float  # ... to the last result
    last_answer_s: float  # ... to the last answer of any kind
    examples: dict[str, str]  # one sample per kind other than result
    queue: list[tuple[float, int]]  # (seconds since started, accept-queue length), sampled
    backlog: int
    rss: list[tuple[float, int]]  # (seconds since started, the server's RSS in bytes), sampled
    gen_cpu: float  # the generator's CPU seconds (is it the bottleneck?)


class _Answer(msgspec.Struct):
    id: Any = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


_decode_answer: Final = msgspec.json.Decoder(_Answer)


def _request(cfg: Config, request_id: int) -> bytes:
    body = (
        f'{{"jsonrpc":"2.0","id":{request_id},"method":"tools/call","params":{{"name":"{cfg.tool}",'
        f'"arguments":{{"seconds":{cfg.seconds}}},{_META}}}}}'
    ).encode()
    head = (
        f"POST {cfg.path} HTTP/1.1\r\nHost: {cfg.host}:{cfg.port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
        f"Mcp-Method: tools/call\r\nMcp-Name: {cfg.tool}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def parse_response(buffer: bytes, eof: bool) -> tuple[int, dict[str, str], bytes, int] | None:
    """(status, headers, body, bytes used) of the first HTTP/1.1 response in ``buffer``; ``None`` if incomplete.

    Raises:
        ValueError: it is not HTTP.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if eof and buffer:
            raise ValueError(f"incomplete response head: {buffer[:200]!r}")
        return None
    lines = buffer[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {buffer[:200]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if "content-length" in headers:
        length = int(headers["content-length"])
        if len(buffer) < start + length:
            return None
        return int(parts[1]), headers, buffer[start : start + length], start + length
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        at = start
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(buffer[at:line_end].split(b";")[0], 16)
            if size == 0:
                tail = buffer.find(b"\r\n\r\n", line_end)
                if tail < 0:
                    return None
                return int(parts[1]), headers, b"".join(chunks), tail + 4
            if len(buffer) < line_end + 2 + size + 2:
                return None
            chunks.append(buffer[line_end + 2 : line_end + 2 + size])
            at = line_end + 2 + size + 2
    if not eof:
        return None  # delimited by the end of the connection
    return int(parts[1]), headers, buffer[start:], len(buffer)


def classify(status: int, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """("result" | "overload" | "error", what it was) of one HTTP answer to a ``tools/call``."""
    shown = f"HTTP {status}: {body[:240]!r}"
    if status == 503:
        return "overload", shown
    if headers.get("content-type", "").startswith("text/event-stream"):
        payloads = [line[5:].strip() for line in body.split(b"\n") if line.startswith(b"data:")]
    else:
        payloads = [body]
    answer: _Answer | None = None
    for payload in payloads:
        try:
            decoded = _decode_answer.decode(payload)
        except msgspec.DecodeError:
            continue
        if decoded.result is not None or decoded.error is not None:
            answer = decoded
    if answer is None:
        return "error", shown
    if answer.error is not None:
        if answer.error.get("code") == -32000 and status in (200, 503):
            return "overload", shown
        return "error", shown
    if status != 200 or (answer.result is not None and answer.result.get("isError")):
        return "error", shown
    return "result", shown


class _Storm:
    """The state of one storm: per client, its socket, timestamps and buffer, indexed by client number."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        n = cfg.n
        self.requests = [_request(cfg, i + 1) for i in range(n)]
        self.socks: list[socket.socket | None] = [None] * n
        self.state = [_CONNECTING] * n
        self.t_connect = [0] * n
        self.t_est = [0] * n
        self.t_sent = [0] * n
        self.buffers = [b""] * n
        self.by_fd: dict[int, int] = {}
        self.poller = select.epoll()
        self.counts = dict.fromkeys(KINDS, 0)
        self.examples: dict[str, str] = {}
        self.result_ns: list[int] = []
        self.refusal_ns: list[int] = []
        self.accept_refusal_ns: list[int] = []
        self.result_from_connect_ns: list[int] = []
        self.refusal_from_connect_ns: list[int] = []
        self.connect_ns: list[int] = []
        self.answered_before_sent = 0
        self.open = 0  # clients without their final outcome yet
        self.unconnected = 0
        self.first_sent = 0
        self.last_sent = 0
        self.first_result = 0
        self.last_result = 0
        self.last_answer = 0
        self.queue: list[tuple[float, int]] = []
        self.backlog = 0
        self.next_sample = 0
        self.rss: list[tuple[float, int]] = []
        self.next_rss = 0
        self.start = 0
        self.sources = [f"127.0.0.{1 + i}" for i in range(max(1, cfg.sources))]

    # ------------------------------------------------------------------ outcomes

    def finish(self, i: int, kind: str, detail: str, now: int) -> None:
        sock = self.socks[i]
        if sock is not None:
            self.by_fd.pop(sock.fileno(), None)
            sock.close()  # also leaves the epoll
            self.socks[i] = None
        if self.state[i] == _CONNECTING:
            self.unconnected -= 1
        self.state[i] = _DONE
        self.open -= 1
        self.counts[kind] += 1
        if kind != "result" and kind not in self.examples:
            self.examples[kind] = detail
        if kind in ("result", "overload", "error"):
            self.last_answer = max(self.last_answer, now)
            sent = self.t_sent[i]
            if not sent:
                self.answered_before_sent += 1
            from_sent = now - sent
            from_connect = now - self.t_connect[i]
            if kind == "result":
                self.result_ns.append(from_sent)
                self.result_from_connect_ns.append(from_connect)
                self.first_result = min(self.first_result, now) if self.first_result else now
                self.last_result = max(self.last_result, now)
            elif kind == "overload":
                (self.refusal_ns if sent else self.accept_refusal_ns).append(from_sent if sent else from_connect)
                self.refusal_from_connect_ns.append(from_connect)

    # ------------------------------------------------------------------ events

    def connect(self, i: int) -> None:
        cfg = self.cfg
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.sources[i % len(self.sources)], 0))
        self.socks[i] = sock
        self.by_fd[sock.fileno()] = i
        self.open += 1
        self.unconnected += 1
        self.t_connect[i] = time.monotonic_ns()
        code = sock.connect_ex((cfg.host, cfg.port))
        if code not in (0, errno.EINPROGRESS):
            self.finish(i, "connect_failed", f"connect: {errno.errorcode.get(code, code)}", time.monotonic_ns())
            return
        self.poller.register(sock.fileno(), select.EPOLLOUT | select.EPOLLIN)

    def send(self, i: int, now: int) -> None:
        sock = self.socks[i]
        assert sock is not None
        try:
            sock.send(self.requests[i])  # a few hundred bytes always fit an empty send buffer
        except OSError as exc:
            self.read(i, now)  # an answer (a refusal at accept) may be waiting, or the reason it was reset
            if self.state[i] != _DONE:
                self.finish(i, "reset", f"send: {exc}", now)
            return
        self.t_sent[i] = now
        self.first_sent = self.first_sent or now
        self.last_sent = now
        if self.state[i] != _DONE:
            self.state[i] = _SENT

    def established(self, i: int, now: int, send: bool) -> None:
        sock = self.socks[i]
        assert sock is not None
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.finish(i, "connect_failed", f"connect: {errno.errorcode.get(code, code)}", now)
            return
        self.unconnected -= 1
        self.state[i] = _CONNECTED
        self.t_est[i] = now
        self.connect_ns.append(now - self.t_connect[i])
        self.poller.modify(sock.fileno(), select.EPOLLIN)
        if send:
            self.send(i, now)

    def read(self, i: int, now: int) -> None:
        sock = self.socks[i]
        if sock is None:
            return
        eof = False
        failure = ""
        try:
            data = sock.recv(65536)
            eof = not data
        except BlockingIOError:
            return
        except OSError as exc:
            data, eof, failure = b"", True, str(exc)
        buffer = self.buffers[i] = self.buffers[i] + data
        try:
            parsed = parse_response(buffer, eof)
        except ValueError as exc:
            self.finish(i, "error", str(exc), now)
            return
        if parsed is not None:
            status, headers, body, used = parsed
            kind, detail = classify(status, headers, body)
            if used < len(buffer):
                kind, detail = "extra", f"{len(buffer) - used} bytes after the answer: {buffer[used : used + 200]!r}"
            self.finish(i, kind, detail, now)
        elif eof:
            kind = "reset" if failure else "closed"
            where = "before its request was written" if not self.t_sent[i] else "after its request"
            self.finish(i, kind, f"{failure or 'EOF'} {where}, {len(buffer)} bytes of an answer", now)

    def handle(self, events: list[tuple[int, int]], send: bool) -> None:
        now = time.monotonic_ns()
        for fd, mask in events:
            i = self.by_fd.get(fd)
            if i is None:
                continue
            if self.state[i] == _CONNECTING:
                if mask & (select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP):
                    self.established(i, now, send)
                if self.state[i] == _DONE or not mask & select.EPOLLIN:
                    continue
            self.read(i, now)

    def sample(self, now: int) -> None:
        cfg = self.cfg
        if cfg.server_pid and now >= self.next_rss:
            self.next_rss = now + int(cfg.rss_every * 1e9)
            with contextlib.suppress(OSError, RuntimeError):  # the server is gone: the failures will say so
                self.rss.append(((now - self.start) / 1e9, rss_bytes(cfg.server_pid)))
        if now < self.next_sample:
            return
        self.next_sample = now + int(self.cfg.sample_every * 1e9)
        found = listen_queue(self.cfg.port)
        if found is not None:
            self.queue.append(((now - self.start) / 1e9, found[0]))
            self.backlog = found[1]

    def poll(self, timeout: float, send: bool) -> None:
        self.handle(self.poller.poll(timeout, 4096), send)
        self.sample(time.monotonic_ns())

    # ------------------------------------------------------------------ phases

    def run(self) -> Result:
        cfg = self.cfg
        cpu0 = time.process_time()
        self.start = time.monotonic_ns()
        deadline = self.start + int(cfg.deadline * 1e9)
        queued = self._cold() if cfg.mode == "cold" else self._warm(deadline)
        while self.open and time.monotonic_ns() < deadline:
            self.poll(0.01, send=True)
        now = time.monotonic_ns()
        for i in range(cfg.n):
            if self.state[i] != _DONE:
                kind = "connect_failed" if self.state[i] == _CONNECTING else "timeout"
                self.finish(i, kind, f"no answer within {cfg.deadline:.0f} s of the first connect()", now)
        self.poller.close()
        base = self.first_sent or self.start
        ended = [t for t in self.t_est if t]
        return Result(
            n=cfg.n,
            mode=cfg.mode,
            started=self.start / 1e9,
            burst_at=base / 1e9,
            burst_spread=(self.last_sent - self.first_sent) / 1e9,
            connected_after=(max(ended) - self.start) / 1e9 if ended else float("nan"),
            queued_at_burst=queued,
            counts=self.counts,
            answered_before_sent=self.answered_before_sent,
            result_ns=self.result_ns,
            refusal_ns=self.refusal_ns,
            accept_refusal_ns=self.accept_refusal_ns,
            result_from_connect_ns=self.result_from_connect_ns,
            refusal_from_connect_ns=self.refusal_from_connect_ns,
            connect_ns=self.connect_ns,
            first_result_s=(self.first_result - base) / 1e9 if self.first_result else float("nan"),
            last_result_s=(self.last_result - base) / 1e9 if self.last_result else float("nan"),
            last_answer_s=(self.last_answer - base) / 1e9 if self.last_answer else float("nan"),
            examples=self.examples,
            queue=self.queue,
            backlog=self.backlog,
            rss=self.rss,
            gen_cpu=time.process_time() - cpu0,
        )

    def _cold(self) -> int:
        """Every connect() in one loop; each request goes out as soon as its connection is established."""
        for i in range(self.cfg.n):
            self.connect(i)
            if i % 256 == 255:
                self.poll(0, send=True)  # send on what is already established, so no request waits long
        found = listen_queue(self.cfg.port)
        return found[0] if found is not None else -1

    def _warm(self, deadline: int) -> int:
        """Connections first (batch by batch, never overflowing the accept queue), then every request at once."""
        cfg = self.cfg
        n = cfg.n
        until = min(deadline, time.monotonic_ns() + int(cfg.accept_wait * 1e9))  # all waits for accept() together
        for first in range(0, n, cfg.batch):
            for i in range(first, min(n, first + cfg.batch)):
                self.connect(i)
            while self.unconnected and time.monotonic_ns() < deadline:
                self.poll(0.01, send=False)
            self._wait_accepted(max(0, self.backlog - 2 * cfg.batch), until)
        queued = self._wait_accepted(0, until)
        for i in range(n):
            if self.state[i] == _CONNECTED:
                self.send(i, time.monotonic_ns())
        return queued

    def _wait_accepted(self, at_most: int, until: int) -> int:
        """Wait (until ``until`` at the latest) until the server's accept queue holds ``at_most`` or fewer."""
        while True:
            found = listen_queue(self.cfg.port)
            queued, self.backlog = found if found is not None else (0, self.backlog)
            if queued <= at_most or time.monotonic_ns() >= until:
                return queued
            self.poll(0.005, send=False)


def main() -> None:
    cfg = msgspec.json.decode(sys.argv[1].encode(), type=Config)
    result = _Storm(cfg).run()
    sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")
    sys.stdout.flush()


def start(cfg: Config, *, core: int, children: Any) -> Any:
    """Start one storm in its own process pinned to ``core``; ``finish`` collects its result."""
    return children.start(
        [sys.executable, "-m", "benchmarks._storm", msgspec.json.encode(cfg).decode()], core=core, stderr=None
    )


def finish(proc: Any, cfg: Config, children: Any) -> Result:
    try:
        out, _ = proc.communicate(timeout=cfg.deadline + 60)
    finally:
        children.kill(proc)
    if proc.returncode != 0 or not out:
        raise RuntimeError(f"storm generator failed (exit {proc.returncode})")
    return msgspec.json.decode(out.strip().splitlines()[-1], type=Result)


def run(cfg: Config, *, core: int, children: Any) -> Result:
    """Run one storm in its own process pinned to ``core`` (from the orchestrator) and return its result."""
    return finish(start(cfg, core=core, children=children), cfg, children)


if __name__ == "__main__":
    main()

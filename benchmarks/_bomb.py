"""The bombing generator: a few sessions pipelining ``echo`` calls as fast as they can (one process, epoll).

Run as ``python -m benchmarks._bomb CONFIG_JSON``; prints one JSON result line. Phases, by the clock:

1. warm-up (``warmup`` s): every session sends ``rate`` calls per second, evenly spaced (the latency baseline);
2. bombing (``duration`` s): every session writes calls whenever its socket takes them, never waiting for an
   answer, at ``bomb_rate`` calls per second (open loop, as seed 002's "10,000 msg/sec per client"; 0: as fast
   as the socket takes them), up to ``window`` unanswered calls per session (0: no cap of ours; then only TCP
   flow control and the kernel's socket buffers hold it back);
3. cool-down (``cooldown`` s): ``rate`` calls per second again (how fast latency recovers);
4. drain (at most ``drain`` s): nothing more is sent; every call sent must get exactly one answer.

Wires: ``ndjson`` (newline-delimited JSON over TCP, legacy handshake first: ``initialize`` then
``notifications/initialized``; answers matched by id) and ``http`` (Streamable HTTP, 2026-07-28 stateless POSTs
pipelined on keep-alive connections (HTTP/1.1 pipelining); responses come in order and are matched by position,
and their ids checked). Each call's latency runs from the moment it was written to the moment its answer was
read, and is filed under the phase it was sent in. Answers are results, overload refusals (JSON-RPC -32000, or
HTTP 503) or other errors. The server's RSS is sampled every ``rss_every`` seconds.
"""

from __future__ import annotations

import collections
import contextlib
import select
import socket
import sys
import time
from array import array
from typing import Any, Final

import msgspec

from benchmarks._procs import rss_bytes
from benchmarks._storm import parse_response

__all__ = ["Config", "Result", "PHASES", "run", "main"]

PHASES: Final = ("warmup", "bombing", "cooldown")
_INITIALIZE: Final = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"bomb","version":"1"}}}\n'
    b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
)
_META: Final = (
    b'"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
)
_BATCH: Final = 64  # calls written per send() while bombing


class Config(msgspec.Struct):
    wire: str  # "ndjson" | "http"
    port: int
    sessions: int = 20
    warmup: float = 3.0
    duration: float = 30.0
    cooldown: float = 5.0
    drain: float = 20.0
    rate: float = 10.0  # calls per second per session in warm-up and cool-down
    window: int = 0  # unanswered calls per session while bombing (0: no cap of ours)
    bomb_rate: float = 0.0  # calls per second per session while bombing (0: as fast as the socket takes them)
    tool: str = "echo"
    arguments: str = '{"text":"hello world"}'  # the calls' arguments, as JSON
    host: str = "127.0.0.1"
    path: str = "/mcp"
    server_pid: int = 0
    rss_every: float = 0.1
    bucket: float = 0.1  # seconds per window of the recovery measure


class PhaseFigures(msgspec.Struct):
    sent: int = 0
    results: int = 0
    overload: int = 0
    errors: int = 0
    result_ns: list[int] = []  # latency of each accepted (result) call sent in this phase, in ns


class Result(msgspec.Struct):
    phases: dict[str, PhaseFigures]
    unanswered: int
    duplicates: int  # answers to calls already answered, or never sent
    examples: dict[str, str]
    started: float  # time.monotonic() at the start of the warm-up
    bombing_ended: float  # seconds from ``started``
    cooldown_sends: list[tuple[float, int]]  # (seconds after the bombing ended, latency ns) of cool-down results
    timeline: list[tuple[float, int, int, int, int]]  # per second: (t, sent, answered, p99 latency ns, RSS bytes)
    rss: list[tuple[float, int]]
    outstanding_peak: int  # most calls unanswered at once (all sessions)
    drained_after: float  # seconds after the cool-down until the last answer (NaN: never all answered)
    gen_cpu: float
    error: str = ""


class _Answer(msgspec.Struct):
    id: Any = None
    result: msgspec.Raw = msgspec.Raw()
    error: dict[str, Any] | None = None


_decode: Final = msgspec.json.Decoder(_Answer)


class _Session:
    __slots__ = (
        "answered",
        "bomb_sent",
        "buffer",
        "fd",
        "fifo",
        "next_due",
        "next_id",
        "out",
        "pending",
        "phase_of",
        "sent_at",
        "sock",
        "want_out",
    )

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.next_id = 1
        self.sent_at = array("q", [0])  # by id
        self.phase_of = bytearray(1)
        self.answered = bytearray(1)
        self.out = b""
        self.buffer = b""
        self.fifo: collections.deque[int] = collections.deque()  # http: ids in the order their answers come
        self.next_due = 0
        self.bomb_sent = 0  # calls written while bombing (paces an open-loop ``bomb_rate``)
        self.pending = 0  # calls sent and not answered yet
        self.want_out = False  # registered for EPOLLOUT (something is waiting to be written)


class _Bomb:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.http = cfg.wire == "http"
        body = b'{"jsonrpc":"2.0","id":123456789,"method":"tools/call","params":{"name":' + msgspec.json.encode(
            cfg.tool
        )
        body += b',"arguments":' + cfg.arguments.encode() + (b"," + _META if self.http else b"") + b"}}"
        self.head, _, self.tail = body.partition(b"123456789")
        self.http_head = (
            f"POST {cfg.path} HTTP/1.1\r\nHost: {cfg.host}:{cfg.port}\r\nContent-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
            "Mcp-Method: tools/call\r\nMcp-Name: echo\r\n"
        ).encode()
        self.phases = {name: PhaseFigures(result_ns=[]) for name in PHASES}
        self.phase_index = 0
        self.examples: dict[str, str] = {}
        self.duplicates = 0
        self.outstanding = 0
        self.outstanding_peak = 0
        self.cooldown_sends: list[tuple[float, int]] = []
        self.rss: list[tuple[float, int]] = []
        self.second_sent = 0
        self.second_answered = 0
        self.second_latencies: list[int] = []
        self.timeline: list[tuple[float, int, int, int, int]] = []
        self.last_answer = 0
        self.bomb_end = 0
        self.poller = select.epoll()

    def request(self, request_id: int) -> bytes:
        body = self.head + str(request_id).encode() + self.tail
        if self.http:
            return self.http_head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        return body + b"\n"

    def open(self) -> list[_Session]:
        sessions = []
        for _ in range(self.cfg.sessions):
            sock = socket.create_connection((self.cfg.host, self.cfg.port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not self.http:
                sock.sendall(_INITIALIZE)
                buffer = b""
                while b"\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise RuntimeError("the server closed during initialize")
                    buffer += chunk
                if b'"result"' not in buffer.split(b"\n", 1)[0]:
                    raise RuntimeError(f"initialize failed: {buffer[:300]!r}")
            sock.setblocking(False)
            sessions.append(_Session(sock))
        return sessions

    # ------------------------------------------------------------------ sending

    def send(self, session: _Session, count: int, now: int) -> None:
        first = session.next_id
        ids = range(first, first + count)
        session.next_id = first + count
        session.sent_at.extend([now] * count)
        session.phase_of.extend(bytes([self.phase_index]) * count)
        session.answered.extend(bytes(count))
        if self.http:
            session.fifo.extend(ids)
        self.phases[PHASES[self.phase_index]].sent += count
        self.second_sent += count
        self.outstanding += count
        session.pending += count
        self.outstanding_peak = max(self.outstanding_peak, self.outstanding)
        self.write(session, session.out + b"".join(self.request(i) for i in ids))

    def write(self, session: _Session, data: bytes) -> None:
        try:
            sent = session.sock.send(data) if data else 0
        except BlockingIOError:
            sent = 0
        session.out = data[sent:]

    # ------------------------------------------------------------------ receiving

    def receive(self, session: _Session, now: int) -> bool:
        """Read what is there; False when the server closed the connection."""
        try:
            data = session.sock.recv(262144)
        except BlockingIOError:
            return True
        except OSError as exc:
            self.examples.setdefault("connection", str(exc))
            return False
        if not data:
            self.examples.setdefault("connection", "the server closed a session")
            return False
        buffer = session.buffer + data if session.buffer else data
        if self.http:
            while True:
                try:
                    parsed = parse_response(buffer, False)
                except ValueError as exc:
                    self.examples.setdefault("connection", str(exc))
                    return False
                if parsed is None:
                    break
                status, _, body, used = parsed
                buffer = buffer[used:]
                expected = session.fifo.popleft() if session.fifo else -1
                self.answer(session, expected, body, now, status)
        else:
            lines = buffer.split(b"\n")
            buffer = lines.pop()
            for line in lines:
                self.answer(session, None, line, now, 200)
        session.buffer = buffer
        return True

    def _shown(self, status: int, payload: bytes) -> str:
        return f"HTTP {status}: {payload[:200]!r}" if self.http else f"{payload[:200]!r}"

    def answer(self, session: _Session, expected: int | None, payload: bytes, now: int, status: int) -> None:
        try:
            answer = _decode.decode(payload)
        except msgspec.DecodeError:
            answer = _Answer()
        request_id = answer.id if expected is None else expected
        if expected is not None and answer.id is not None and answer.id != expected:
            self.examples.setdefault("mismatch", f"expected id {expected}, got {payload[:200]!r}")
        if not isinstance(request_id, int) or not 0 < request_id < session.next_id or session.answered[request_id]:
            self.duplicates += 1
            self.examples.setdefault("duplicate", payload[:200].decode(errors="replace"))
            return
        session.answered[request_id] = 1
        self.outstanding -= 1
        session.pending -= 1
        self.second_answered += 1
        self.last_answer = now
        latency = now - session.sent_at[request_id]
        phase = self.phases[PHASES[session.phase_of[request_id]]]
        if status == 503 or (answer.error is not None and answer.error.get("code") == -32000):
            phase.overload += 1
            self.examples.setdefault("overload", self._shown(status, payload))
        elif answer.error is not None or not answer.result or status != 200:
            phase.errors += 1
            self.examples.setdefault("error", self._shown(status, payload))
        else:
            phase.results += 1
            phase.result_ns.append(latency)
            self.second_latencies.append(latency)
            if session.phase_of[request_id] == 2:
                sent = (session.sent_at[request_id] - self.bomb_end) / 1e9
                self.cooldown_sends.append((sent, latency))

    # ------------------------------------------------------------------ the run

    def run(self) -> Result:
        cfg = self.cfg
        sessions = self.open()
        by_fd = {s.fd: s for s in sessions}
        poller = self.poller
        for s in sessions:
            poller.register(s.fd, select.EPOLLIN)
        cpu0 = time.process_time()
        clock = time.monotonic_ns
        start = clock()
        bomb_start = start + int(cfg.warmup * 1e9)
        self.bomb_end = bomb_end = bomb_start + int(cfg.duration * 1e9)
        cool_end = bomb_end + int(cfg.cooldown * 1e9)
        hard_end = cool_end + int(cfg.drain * 1e9)
        interval = int(1e9 / cfg.rate)
        for k, s in enumerate(sessions):
            s.next_due = start + k * interval // len(sessions)  # spread the sessions' paced calls evenly
        next_rss = next_second = start
        alive = True
        writable: set[_Session] = set()
        bombing_began = cooling = False
        timeout = 0.0
        while alive:
            now = clock()
            if now >= next_second:
                self.tick(now, start)
                next_second += 1_000_000_000
            if cfg.server_pid and now >= next_rss:
                next_rss = now + int(cfg.rss_every * 1e9)
                with contextlib.suppress(OSError, RuntimeError):
                    self.rss.append(((now - start) / 1e9, rss_bytes(cfg.server_pid)))
            if (now >= cool_end and not self.outstanding) or now >= hard_end:
                break
            bombing = bomb_start <= now < bomb_end
            self.phase_index = 0 if now < bomb_start else 1 if bombing else 2
            if bombing and not bombing_began:
                bombing_began = True
                writable.update(sessions)
            if bombing:
                progressed = False
                for s in list(writable):
                    if s.out:
                        self.flush(s)
                    room = _BATCH if not cfg.window else min(_BATCH, cfg.window - s.pending)
                    if cfg.bomb_rate:
                        room = min(room, int((now - bomb_start) * cfg.bomb_rate / 1e9) - s.bomb_sent)
                    if not s.out and room > 0:
                        self.send(s, room, now)
                        s.bomb_sent += room
                        progressed = True
                    if s.out:  # the kernel is full: wait until it takes more
                        writable.discard(s)
                        self.want_out(s, True)
                timeout = 0.0 if progressed else 0.001 if cfg.bomb_rate else 0.002
            elif now < cool_end:  # paced: warm-up and cool-down
                if not cooling and now >= bomb_end:  # the paced calls start afresh, none "missed" while bombing
                    cooling = True
                    for k, s in enumerate(sessions):
                        s.next_due = now + k * interval // len(sessions)
                for s in sessions:
                    if now >= s.next_due:
                        s.next_due += interval
                        self.send(s, 1, now)
                        if s.out:
                            self.want_out(s, True)
                timeout = max(0.0, (min(s.next_due for s in sessions) - clock()) / 1e9)
            else:
                timeout = 0.01
            for fd, mask in poller.poll(min(timeout, 0.01)):
                s = by_fd[fd]
                if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR) and not self.receive(s, clock()):
                    alive = False
                    break
                if mask & select.EPOLLOUT:
                    self.flush(s)
                    if not s.out:
                        self.want_out(s, False)
                        if bomb_start <= clock() < bomb_end:
                            writable.add(s)
        ended = clock()
        self.tick(ended, start)
        unanswered = sum(s.pending for s in sessions)
        for s in sessions:
            s.sock.close()
        poller.close()
        drained = (self.last_answer - cool_end) / 1e9 if not unanswered and self.last_answer else float("nan")
        return Result(
            phases=self.phases,
            unanswered=unanswered,
            duplicates=self.duplicates,
            examples=self.examples,
            started=start / 1e9,
            bombing_ended=(bomb_end - start) / 1e9,
            cooldown_sends=self.cooldown_sends,
            timeline=self.timeline,
            rss=self.rss,
            outstanding_peak=self.outstanding_peak,
            drained_after=max(0.0, drained) if drained == drained else drained,
            gen_cpu=time.process_time() - cpu0,
            error="" if alive else self.examples.get("connection", "a session failed"),
        )

    def flush(self, session: _Session) -> None:
        self.write(session, session.out)

    def want_out(self, session: _Session, on: bool) -> None:
        if session.want_out != on:
            session.want_out = on
            self.poller.modify(session.fd, select.EPOLLIN | (select.EPOLLOUT if on else 0))

    def tick(self, now: int, start: int) -> None:
        """One line of the per-second timeline."""
        latencies = sorted(self.second_latencies)
        p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] if latencies else 0
        rss = self.rss[-1][1] if self.rss else 0
        if now > start:
            self.timeline.append(((now - start) / 1e9, self.second_sent, self.second_answered, p99, rss))
        self.second_sent = self.second_answered = 0
        self.second_latencies = []


def main() -> None:
    cfg = msgspec.json.decode(sys.argv[1].encode(), type=Config)
    result = _Bomb(cfg).run()
    sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")
    sys.stdout.flush()


def run(cfg: Config, *, core: int, children: Any) -> Result:
    """Run one bombing in its own process pinned to ``core`` (from the orchestrator) and return its result."""
    proc = children.start(
        [sys.executable, "-m", "benchmarks._bomb", msgspec.json.encode(cfg).decode()], core=core, stderr=None
    )
    budget = cfg.warmup + cfg.duration + cfg.cooldown + cfg.drain + 60
    try:
        out, _ = proc.communicate(timeout=budget)
    finally:
        children.kill(proc)
    if proc.returncode != 0 or not out:
        raise RuntimeError(f"bombing generator failed (exit {proc.returncode})")
    return msgspec.json.decode(out.strip().splitlines()[-1], type=Result)


if __name__ == "__main__":
    main()

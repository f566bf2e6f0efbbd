"""The lean engine: one generator process's sessions as ``ClientSession`` state machines over non-blocking
sockets, all driven from one epoll loop without Trio (``--engine lean``, the default for ``tcp://`` and
``unix:`` targets).

Why: a Trio client session per connection costs the generator 85-125 us of CPU per call when each connection
carries one call a second (a task switch, a deadline's cancel scope and an epoll re-arm per wait), so 10,000
sessions at 1 call/s took a core of generator on a 2-core machine that also runs the server. Here a call costs
the sans-IO work (about 6 us) plus two system calls, as in wrk's event loop.

The wire is still the client's. The same ``ClientSession`` builds every request and checks and decodes every
answer: the era's handshake, with ``auto``'s ``server/discover`` then ``initialize`` as ``open_client`` does it,
pings, and the server's own requests answered by the session. The framing is the client's ``LineFramer``. The
schedule comes from ``soak.plan``, the requests from ``soak.scenarios.operation``, and the counting and the
per-second lines from ``soak.tally``, so both engines report alike. Only the I/O differs.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import math
import os
import select
import socket
import time
from collections import deque
from typing import Any, Final
from urllib.parse import urlsplit

from mcp_trio.client.config import ClientConfig
from mcp_trio.client.connect import DEFAULT_CLIENT_INFO, modern_version
from mcp_trio.protocol.client_session import ClientSession
from mcp_trio.protocol.errors import LocalProtocolError, McpError, RemoteError
from mcp_trio.protocol.events import Answered, ErrorReceived, ResponseReceived
from mcp_trio.protocol.framing import LineFramer, frame
from mcp_trio.protocol.jsonrpc import Message, encode_message
from mcp_trio.protocol.jsonrpc import decode_message as decode_wire
from mcp_trio.protocol.types import ClientCapabilities
from mcp_trio.runtime.collector import GcFreezer, older_generations_held
from soak.plan import CALL_TIMEOUT, LATE, OPEN_CONCURRENCY, SessionPlan, session_plan
from soak.scenarios import operation
from soak.tally import Tally, refusal_kind

__all__ = ["LeanEngine", "lean_target", "run_lean"]

_IN: Final = select.EPOLLIN
_OUT: Final = select.EPOLLOUT
_RECEIVE: Final = 65536
_BIND_ADDRESS_NO_PORT: Final = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux's value

# Session states.
_WAITING, _CONNECTING, _DISCOVERING, _INITIALIZING, _READY, _DONE = range(6)


def lean_target(target: str) -> tuple[socket.AddressFamily, Any]:
    """The socket family and address of a ``tcp://host:port`` or ``unix:/path`` target.

    Raises:
        ValueError: any other target (the lean engine speaks newline-delimited JSON over sockets only).
    """
    if target.startswith("unix:"):
        return socket.AF_UNIX, target[len("unix:") :]
    parts = urlsplit(target)
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        family, _, _, _, address = socket.getaddrinfo(parts.hostname, parts.port, type=socket.SOCK_STREAM)[0]
        return family, address
    raise ValueError(f"the lean engine takes tcp://host:port or unix:/path targets, not {target!r}")


class _Session:
    __slots__ = (
        "due",
        "framer",
        "handshake_id",
        "handshake_until",
        "index",
        "opened",
        "out",
        "pending",
        "phase",
        "pinged",
        "plan",
        "session",
        "sock",
        "state",
        "wake_at",
    )

    def __init__(self, index: int, plan: SessionPlan) -> None:
        self.index = index
        self.plan = plan
        self.state = _WAITING
        self.sock: socket.socket | None = None
        self.session: ClientSession | None = None
        self.framer: LineFramer | None = None
        self.pending: dict[Any, tuple[float, float]] = {}  # our calls awaiting an answer: id -> (due, sent at)
        self.out = b""  # what the kernel did not take yet
        self.phase = 0  # index into plan.phases
        self.due: float | None = None  # the current phase's next intended send (None: the phase has not begun)
        self.handshake_id: Any = None
        self.handshake_until = 0.0
        self.pinged = False
        self.opened = False
        self.wake_at: float | None = None  # the one timer this session has in the heap, if any


class LeanEngine:
    """Run ``config`` (the generator's configuration, as ``soak.generator`` takes it) to its end."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.family, self.address = lean_target(config["target"])
        self.era = config.get("era", "auto")
        self.discover_timeout = ClientConfig().discover_timeout
        self.sources: list[str | None] = config.get("source_addresses") or [None]
        self.tally = Tally()
        self.epoll = select.epoll()
        self.by_fd: dict[int, _Session] = {}
        self.timers: list[tuple[float, int, _Session]] = []
        self.order = itertools.count()
        self.queued: deque[_Session] = deque()  # due to open, waiting for a handshake place
        self.handshaking = 0
        self.live = 0  # sessions not done
        self.turn = 0  # the mix's position
        self.capabilities = ClientCapabilities()

    # ------------------------------------------------------------------ the loop

    def run(self) -> None:
        config = self.config
        start = time.monotonic() + max(0.0, config["start_at"] - time.time())
        for index in range(config["sessions"]):
            session = _Session(index, session_plan(config, index, start))
            self._wake(session, session.plan.opens)
            self.live += 1
        # Thousands of sessions waiting make a big heap: the server's own policy keeps our collector's pauses out of
        # the latencies too (everything frozen once a second; reference counting frees what dies).
        freezer = GcFreezer(1.0, None)
        freezer.step(0.0)
        second = 1
        try:
            with older_generations_held():
                while self.live:
                    now = time.monotonic()
                    if now >= start + second:
                        self.tally.emit({"second": second})
                        second += 1
                        self._expire(now)
                        freezer.step(now)
                        continue
                    timers = self.timers
                    while timers and timers[0][0] <= now:
                        when, _, session = heapq.heappop(timers)
                        if session.wake_at == when:
                            session.wake_at = None
                            self._act(session, now)
                    until = min(timers[0][0], start + second) if timers else start + second
                    for fd, events in self.epoll.poll(max(0.0, until - time.monotonic())):
                        ready = self.by_fd.get(fd)
                        if ready is not None:
                            self._on_ready(ready, events)
        finally:
            for session in list(self.by_fd.values()):
                self._close(session)
            self.epoll.close()
        self.tally.emit_final(second)

    def _wake(self, session: _Session, when: float) -> None:
        """Act for ``session`` at ``when`` (an earlier wake-up already set stands: it sets the next one)."""
        if session.wake_at is not None and session.wake_at <= when:
            return
        session.wake_at = when
        heapq.heappush(self.timers, (when, next(self.order), session))

    def _act(self, session: _Session, now: float) -> None:
        state = session.state
        if state == _WAITING:
            if self.handshaking < OPEN_CONCURRENCY:
                self._connect(session, now)
            else:
                self.queued.append(session)
        elif state == _READY:
            self._advance(session, now)
        elif state == _DISCOVERING and now >= session.handshake_until:
            self._discover_failed(session, now)  # no answer in time

    def _expire(self, now: float) -> None:
        """Once a second: calls unanswered for ``CALL_TIMEOUT`` are timeouts; a handshake that long fails."""
        oldest = now - CALL_TIMEOUT
        for session in list(self.by_fd.values()):
            if session.state in (_CONNECTING, _INITIALIZING) and now >= session.handshake_until:
                self._fail(session, "RequestTimeout")
                continue
            pending = session.pending
            if pending and min(sent for _, sent in pending.values()) < oldest:
                for request_id, (due, sent) in list(pending.items()):
                    if sent < oldest:
                        del pending[request_id]
                        self.tally.record(now - due, "timeout", now - sent)
                if session.state == _READY:
                    self._advance(session, now)

    # ------------------------------------------------------------------ opening

    def _connect(self, session: _Session, now: float) -> None:
        self.handshaking += 1
        session.state = _CONNECTING
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        session.sock = sock
        session.handshake_until = now + CALL_TIMEOUT
        try:
            if self.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                local = self.sources[(self.config.get("first_index", 0) + session.index) % len(self.sources)]
                if local is not None:
                    # The port is chosen at connect, per destination: bind(port 0) alone would search the source
                    # address's whole ephemeral range, slower with every socket open (as Trio's own connect does).
                    sock.setsockopt(socket.IPPROTO_IP, _BIND_ADDRESS_NO_PORT, 1)
                    sock.bind((local, 0))
            code = sock.connect_ex(self.address)
        except OSError as exc:
            self._fail(session, type(exc).__name__)
            return
        if code not in (0, errno.EINPROGRESS):  # a unix path with nothing behind it fails here, not later
            self._fail(session, type(OSError(code, os.strerror(code))).__name__)
            return
        self.by_fd[sock.fileno()] = session  # only what is registered with epoll is in by_fd
        self.epoll.register(sock.fileno(), _OUT if code else _IN)
        if code == 0:
            self._connected(session, now)

    def _connected(self, session: _Session, now: float) -> None:
        session.framer = LineFramer()
        if self.era == "legacy":
            self._initialize(session, 1)
            return
        client = session.session = ClientSession(
            modern=True, capabilities=self.capabilities, client_info=DEFAULT_CLIENT_INFO
        )
        request = client.send_request("server/discover")
        session.state = _DISCOVERING
        session.handshake_id = request.id
        session.handshake_until = now + self.discover_timeout
        self._wake(session, session.handshake_until)
        self._send(session, frame(encode_message(request)))

    def _initialize(self, session: _Session, next_request_id: int) -> None:
        client = session.session = ClientSession(
            capabilities=self.capabilities, client_info=DEFAULT_CLIENT_INFO, next_request_id=next_request_id
        )
        request = client.initialize()
        session.state = _INITIALIZING
        session.handshake_id = request.id
        self._send(session, frame(encode_message(request)))

    def _discover_failed(self, session: _Session, now: float) -> None:
        """``server/discover`` was refused, unanswered or odd: ``auto`` tries ``initialize``, as ``open_client``
        does; ``modern`` has nothing else to try."""
        if self.era == "modern":
            self._fail(session, "RemoteError")
            return
        assert session.session is not None
        session.handshake_until = now + CALL_TIMEOUT
        self._initialize(session, session.session.next_request_id)

    def _ready(self, session: _Session, now: float) -> None:
        session.state = _READY
        session.opened = True
        session.handshake_id = None
        self.tally.opened += 1
        self.tally.open += 1
        self._handshake_done()
        self._advance(session, now)

    def _handshake_done(self) -> None:
        """A handshake place is free: the next queued session takes it from the loop (not from here, so a run of
        sessions failing at once cannot recurse)."""
        self.handshaking -= 1
        if self.queued:
            self._wake(self.queued.popleft(), time.monotonic())

    # ------------------------------------------------------------------ sending

    def _advance(self, session: _Session, now: float) -> None:
        """Send what the plan says is due by ``now``, and set the next wake-up (see ``soak.plan.Phase``)."""
        plan = session.plan
        while session.state == _READY:
            if session.phase >= len(plan.phases):
                if session.pending:
                    return  # the last calls are answered first
                if plan.ping_at is None:
                    self._close(session)
                elif session.pinged:
                    return  # its answer ends the session
                elif now < plan.ping_at:
                    self._wake(session, plan.ping_at)
                else:
                    self._ping(session)
                return
            phase = plan.phases[session.phase]
            if session.due is None:
                if session.pending:
                    return  # the previous phase's calls are answered first: sends due meanwhile go out late
                session.due = phase.begin
            if not phase.rate:  # closed loop
                if now >= phase.until:
                    self._next_phase(session)
                    continue
                while len(session.pending) < phase.window and session.state == _READY:
                    self._call(session, now, now)
                self._wake(session, phase.until)
                return
            due = session.due
            if due >= phase.until:
                self._next_phase(session)
                continue
            if due > now:
                self._wake(session, due)
                return
            if phase.window and (len(session.pending) >= phase.window or now >= phase.until):
                if now >= phase.until:  # the window stayed full to the end of the phase
                    self.tally.counts["unsent"] += math.ceil((phase.until - due) / (1 / phase.rate))
                    self._next_phase(session)
                    continue
                self._wake(session, phase.until)
                return  # an answer frees a place and calls this again
            if now - due > LATE:
                self.tally.counts["late"] += 1
            session.due = due + 1 / phase.rate
            self._call(session, due, now)

    def _next_phase(self, session: _Session) -> None:
        session.phase += 1
        session.due = None

    def _call(self, session: _Session, due: float, now: float) -> None:
        self.turn += 1
        method, params = operation(self.config["tool"], self.turn)
        assert session.session is not None
        try:
            request = session.session.send_request(method, params)
        except LocalProtocolError:  # e.g. a method whose capability the server did not declare: as the client's
            self._fail(session, "LocalProtocolError")
            return
        session.pending[request.id] = (due, now)
        self.tally.counts["sent"] += 1
        self._send(session, frame(encode_message(request)))

    def _ping(self, session: _Session) -> None:
        assert session.session is not None
        # 2026-07-28 has no ping: a fresh server/discover stands in for it, as Client.ping does.
        request = session.session.send_request("server/discover" if session.session.modern else "ping")
        session.pinged = True
        session.handshake_id = request.id
        self._send(session, frame(encode_message(request)))

    def _send(self, session: _Session, data: bytes) -> None:
        sock = session.sock
        assert sock is not None
        if session.out:
            session.out += data
            return
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._fail(session, type(exc).__name__)
            return
        if sent < len(data):
            session.out = data[sent:]
            self.epoll.modify(sock.fileno(), _IN | _OUT)

    # ------------------------------------------------------------------ receiving

    def _on_ready(self, session: _Session, events: int) -> None:
        sock = session.sock
        assert sock is not None
        if session.state == _CONNECTING:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._fail(session, type(OSError(code, os.strerror(code))).__name__)
                return
            self.epoll.modify(sock.fileno(), _IN)
            self._connected(session, time.monotonic())
            return
        if events & _OUT and session.out:
            try:
                sent = sock.send(session.out)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._fail(session, type(exc).__name__)
                return
            session.out = session.out[sent:]
            if not session.out:
                self.epoll.modify(sock.fileno(), _IN)
        if not events & ~_OUT:
            return
        try:
            data = sock.recv(_RECEIVE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(session, type(exc).__name__)
            return
        if not data:
            self._fail(session, "ConnectionClosed")
            return
        framer = session.framer
        assert framer is not None
        framer.receive_data(data)
        now = time.monotonic()
        while session.state != _DONE:
            try:
                line = framer.next_message()
            except McpError:  # a message over the framer's limit: dropped, framing resumes after it
                self.tally.record(0.0, "malformed")
                continue
            if type(line) is not bytes:
                break
            try:
                message = decode_wire(line)
            except McpError:
                self.tally.record(0.0, "malformed")
                continue
            if type(message) is list:
                for item in message:
                    if not isinstance(item, McpError):
                        self._on_message(session, item, now)
            else:
                self._on_message(session, message, now)  # type: ignore[arg-type]
        if session.state == _READY:
            self._advance(session, now)

    def _on_message(self, session: _Session, message: Message, now: float) -> None:
        client = session.session
        if client is None or session.state == _DONE:
            return
        try:
            event = client.receive(message)
        except LocalProtocolError:
            return  # the session refused the server (a failed handshake is counted where it failed)
        if isinstance(event, (ResponseReceived, ErrorReceived)):
            entry = session.pending.pop(event.id, None)
            if entry is None:
                if event.id == session.handshake_id:
                    self._answered(session, event, now)
                return
            if isinstance(event, ResponseReceived):
                error = "tool_error" if getattr(event.result, "is_error", False) is True else None
            else:
                error = refusal_kind(event.error.code, event.error.data)
            self.tally.record(now - entry[0], error, now - entry[1])
        elif isinstance(event, Answered):  # a server request the session answered itself (ping, or one we do not offer)
            self._send(session, frame(encode_message(event.message)))

    def _answered(self, session: _Session, event: ResponseReceived | ErrorReceived, now: float) -> None:
        """The answer to the handshake's request or the final ping."""
        state = session.state
        if state == _DISCOVERING:
            session.wake_at = None  # the discover timer is void
            if type(event) is ErrorReceived:
                self._discover_failed(session, now)
                return
            assert type(event) is ResponseReceived
            try:
                version = modern_version(event.result, self.era)
            except RemoteError as error:
                self._fail(session, type(error).__name__)
                return
            assert session.session is not None
            if version is None:
                self._discover_failed(session, now)  # not a discovery result
                return
            session.session.version = version
            self._ready(session, now)
        elif state == _INITIALIZING:
            if type(event) is ErrorReceived:
                self._fail(session, "RemoteError")
                return
            assert session.session is not None
            self._send(session, frame(encode_message(session.session.initialized())))
            if session.state == _INITIALIZING:
                self._ready(session, now)
        elif type(event) is ResponseReceived:  # the idle scenario's ping
            self.tally.answered_pings += 1
            self._close(session)
        else:
            self._fail(session, "RemoteError")

    # ------------------------------------------------------------------ ending

    def _fail(self, session: _Session, kind: str) -> None:
        """The session ends on an error: its calls in flight are ``closed``, and it counts as failed to open or
        as lost, by kind."""
        if session.state == _DONE:
            return
        now = time.monotonic()
        for due, sent in session.pending.values():
            self.tally.record(now - due, "closed", now - sent)
        session.pending.clear()
        self.tally.session_failed(session.opened, kind)
        handshaking = session.state in (_CONNECTING, _DISCOVERING, _INITIALIZING)
        self._close(session)
        if handshaking:
            self._handshake_done()

    def _close(self, session: _Session) -> None:
        if session.state == _DONE:
            return
        if session.opened:
            self.tally.open -= 1
        session.state = _DONE
        session.wake_at = None
        self.live -= 1
        sock = session.sock
        if sock is not None:
            fd = sock.fileno()
            if self.by_fd.pop(fd, None) is not None:
                self.epoll.unregister(fd)
            sock.close()
            session.sock = None
        session.session = session.framer = None
        session.pending = {}


def run_lean(config: dict[str, Any]) -> None:
    """The generator process's body with the lean engine (``python -m soak.generator`` with ``engine: lean``)."""
    LeanEngine(config).run()

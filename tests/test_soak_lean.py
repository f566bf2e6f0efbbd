"""The lean soak engine (``soak.lean``): its targets, real runs against our server over TCP and a unix socket in
each era, and a fake server (a thread with blocking sockets) for what ours never does: refusals, tool errors, a
malformed line, a connection closed under calls in flight, a bombing the server does not answer, timeouts, the
handshake gate (``OPEN_CONCURRENCY``) and the ``auto`` era's fallback to ``initialize``. A failure that belongs to
one session (nothing listening on a unix path, a method the server did not declare) must be counted as that
session's, as the Trio engine counts it, never end the whole run.

Each run is a few seconds of real time (the engine keeps time with ``time.monotonic`` and real sockets). Its
per-second JSON lines are read from stdout and summed as the runner merges them."""

from __future__ import annotations

import gc
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from soak.lean import LeanEngine, lean_target
from soak.scenarios import MIX, SCENARIOS
from tests.client.client_test_helpers import free_port

pytestmark = pytest.mark.slow

Message = dict[str, Any]

INITIALIZE_RESULT: dict[str, Any] = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "fake", "version": "1"},
}
ECHO_RESULT: dict[str, Any] = {"content": [{"type": "text", "text": "soak"}]}


# ---------------------------------------------------------------------------------------------------- helpers


def lean_config(
    name: str, target: str, *, era: str = "legacy", start_at: float | None = None, **overrides: Any
) -> dict[str, Any]:
    """The generator configuration ``soak.runner._run`` builds for one generator process of scenario ``name``."""
    scenario = SCENARIOS[name].with_overrides(**overrides)
    config = {**attrs.asdict(scenario), "scenario": scenario.name, "sessions": scenario.sessions, "target": target}
    config.update(
        start_at=time.time() + 0.1 if start_at is None else start_at,
        era=era,
        engine="lean",
        source_addresses=[],
        first_index=0,
    )
    return config


@attrs.frozen
class Run:
    """One engine run's per-second lines, summed as the runner merges them."""

    lines: list[dict[str, Any]]
    seconds: float  # real time the run took

    @property
    def final(self) -> dict[str, Any]:
        return self.lines[-1]

    def total(self, key: str) -> int:
        return sum(line[key] for line in self.lines)

    def kinds(self, key: str) -> dict[str, int]:
        counter: Counter[str] = Counter()
        for line in self.lines:
            counter.update(line[key])
        return dict(counter)


def run_engine(
    config: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    *,
    limit: float = 15.0,
    prepare: Callable[[LeanEngine], None] | None = None,
) -> Run:
    """Run the engine to its end in a thread (a hung engine fails the test after ``limit`` seconds instead of
    hanging it) and parse what it printed."""
    failures: list[BaseException] = []

    def body() -> None:
        try:
            engine = LeanEngine(config)
            if prepare is not None:
                prepare(engine)
            engine.run()
        except BaseException as exc:  # re-raised in the test's thread
            close_sockets_of(exc)
            failures.append(exc)

    capsys.readouterr()
    began = time.monotonic()
    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(limit)
    seconds = time.monotonic() - began
    gc.unfreeze()  # the engine froze what it had built: let the test process collect it again
    assert not thread.is_alive(), f"the engine did not end within {limit} s"
    if failures:
        raise failures[0]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines, "the engine printed nothing"
    assert [line["second"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[-1].get("final") is True
    assert not any(line.get("final") for line in lines[:-1])
    return Run(lines, seconds)


def close_sockets_of(exc: BaseException) -> None:
    """Close the sockets a crashed engine's frames still hold (a session's, mid-close), so that the crash stays
    this test's failure rather than an unclosed-socket warning in whichever test collects them."""
    frames = exc.__traceback__
    while frames is not None:
        for value in frames.tb_frame.f_locals.values():
            sock = value if isinstance(value, socket.socket) else getattr(value, "sock", None)
            if isinstance(sock, socket.socket):
                sock.close()
        frames = frames.tb_next


def decoded(encoded: str) -> HdrHistogram:
    histogram = HdrHistogram(1, 120_000_000, 3)
    histogram.decode_and_add(encoded)
    return histogram


def assert_all_answered(run: Run, sent: int, *, opened: int) -> None:
    """Every call answered ok, every session opened and closed cleanly, the run's histograms hold every answer."""
    assert run.total("sent") == sent
    assert run.total("ok") == sent
    assert run.kinds("errors") == {}
    assert run.kinds("session_errors") == {}
    assert run.total("open_failed") == run.total("lost") == 0
    assert run.total("unsent") == 0
    assert run.final["opened"] == opened
    assert run.final["open"] == 0
    assert decoded(run.final["total_hist"]).get_total_count() == sent
    assert decoded(run.final["total_shist"]).get_total_count() == sent
    assert sum(decoded(line["hist"]).get_total_count() for line in run.lines) == sent


# ---------------------------------------------------------------------------------------------------- our server


@pytest.fixture(scope="module")
def our_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Our demo server on a TCP port and a unix socket: (``tcp://...``, ``unix:/...``)."""
    directory = tmp_path_factory.mktemp("lean")
    path, log = directory / "mcp.sock", directory / "server.log"
    argv = [sys.executable, "-m", "mcp_trio", "serve", "--tcp", "127.0.0.1:0", "--unix", str(path)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 30
        while True:
            text = log.read_text(errors="replace")
            tcp = re.search(r"listening on (tcp://\S+:\d+)", text)
            if tcp and "listening on unix:" in text:
                break
            assert process.poll() is None, f"the server exited: {text[-500:]}"
            assert time.monotonic() < deadline, f"the server did not listen: {text[-500:]}"
            time.sleep(0.05)
        yield tcp[1], f"unix:{path}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------------------------------- a fake server


class Peer:
    """One connection of the fake server: newline-delimited JSON read with blocking sockets, until the client
    closes, the server stops or its deadline passes (then ``closed``)."""

    def __init__(self, sock: socket.socket, stop: threading.Event, deadline: float) -> None:
        sock.settimeout(0.02)
        self.sock, self.stop, self.deadline = sock, stop, deadline
        self.buffer = b""
        self.closed = False
        self.methods: list[str] = []

    def read(self, wait: float = 60.0) -> Message | None:
        """The next message; ``None`` after ``wait`` seconds of quiet or once ``closed``."""
        until = time.monotonic() + wait
        while b"\n" not in self.buffer:
            now = time.monotonic()
            if self.stop.is_set() or now >= self.deadline:
                self.closed = True
                return None
            if now >= until:
                return None
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return None
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        message: Message = json.loads(line)
        self.methods.append(message.get("method", "<answer>"))
        return message

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self, request: Message, result: Any) -> None:
        self.send_raw(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode() + b"\n")

    def error(self, request: Message, code: int, message: str, data: Any = None) -> None:
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        self.send_raw(json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode() + b"\n")

    def expect(self, method: str) -> Message:
        """The next message, which must be ``method``."""
        message = self.read()
        assert message is not None, f"the client closed before {method}"
        assert message.get("method") == method, message
        return message

    def handshake(self) -> None:
        """The legacy handshake: ``initialize`` answered, then ``notifications/initialized``."""
        self.reply(self.expect("initialize"), INITIALIZE_RESULT)
        self.expect("notifications/initialized")

    def serve(self, answer: Callable[[Peer, Message], None]) -> None:
        """Every request after the handshake: pings answered, the rest by ``answer``; until closed."""
        while not self.closed:
            message = self.read()
            if message is None or "id" not in message:
                continue
            if message.get("method") == "ping":
                self.reply(message, {})
            else:
                answer(self, message)


@attrs.define
class FakeServer:
    target: str
    peers: list[Peer]


@contextmanager
def fake_server(behave: Callable[[Peer], None], *, seconds: float = 10.0) -> Iterator[FakeServer]:
    """A TCP server in daemon threads, each connection run by ``behave``; every connection is closed by
    ``seconds`` at the latest (so an engine waiting on it ends), and every thread has ended when the block does.
    An exception in ``behave`` (a failed assertion) is raised here."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.02)
    stop = threading.Event()
    deadline = time.monotonic() + seconds
    failures: list[BaseException] = []
    threads: list[threading.Thread] = []
    server = FakeServer(f"tcp://127.0.0.1:{listener.getsockname()[1]}", [])

    def one(sock: socket.socket) -> None:
        with sock:
            peer = Peer(sock, stop, deadline)
            server.peers.append(peer)
            try:
                behave(peer)
            except BaseException as exc:  # raised in the test's thread
                failures.append(exc)

    def accept() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=one, args=(sock,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        acceptor.join(5)
        for thread in threads:
            thread.join(5)
        listener.close()
        assert not acceptor.is_alive()
        assert not any(thread.is_alive() for thread in threads)
    if failures:
        raise failures[0]


def echo(peer: Peer, request: Message) -> None:
    peer.reply(request, ECHO_RESULT)


def never(peer: Peer, request: Message) -> None:
    """Leave the call unanswered."""


# ---------------------------------------------------------------------------------------------------- targets


def test_lean_target_parses_tcp_and_unix_and_refuses_the_rest() -> None:
    assert lean_target("tcp://127.0.0.1:1234") == (socket.AF_INET, ("127.0.0.1", 1234))
    assert lean_target("unix:/tmp/x") == (socket.AF_UNIX, "/tmp/x")
    for target in ("http://127.0.0.1:8000/mcp", "ws://127.0.0.1:8000/mcp", "python -m x", "tcp://127.0.0.1"):
        with pytest.raises(ValueError, match=re.escape(repr(target))):
            lean_target(target)


# ---------------------------------------------------------------------------------------------------- our server


@pytest.mark.parametrize("era", ["legacy", "modern", "auto"])
def test_baseline_over_tcp_answers_every_call(
    era: str, our_server: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # 5 sessions at 16/s (an exact binary interval) for 1.5 s: 24 sends each, every one due before the close.
    config = lean_config("baseline", our_server[0], era=era, sessions=5, rate=16, duration=1.5)
    run = run_engine(config, capsys)
    assert_all_answered(run, 5 * 24, opened=5)
    assert run.final["answered_pings"] == 0
    assert run.seconds < 5


def test_sessions_come_from_the_source_addresses_given(
    monkeypatch: pytest.MonkeyPatch, our_server: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    bound: list[object] = []
    real_socket = socket.socket

    class Recording(real_socket):
        def connect_ex(self, address: Any) -> int:
            code = super().connect_ex(address)
            bound.append(self.getsockname()[0])
            return code

    monkeypatch.setattr("soak.lean.socket.socket", Recording)
    config = lean_config("baseline", our_server[0], sessions=4, rate=16, duration=1)
    config["source_addresses"] = ["127.0.0.2", "127.0.0.3"]
    run = run_engine(config, capsys)
    assert_all_answered(run, 4 * 16, opened=4)
    assert sorted(bound) == ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"]


def test_baseline_over_a_unix_socket(our_server: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    config = lean_config("baseline", our_server[1], era="modern", sessions=5, rate=16, duration=1.5)
    run = run_engine(config, capsys)
    assert_all_answered(run, 5 * 24, opened=5)


@pytest.mark.parametrize(("era", "sessions"), [("legacy", 4), ("modern", 4), ("auto", 150)])
def test_idle_sessions_each_answer_the_final_ping(
    era: str, sessions: int, our_server: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # 150: more sessions than OPEN_CONCURRENCY handshakes at once, so some wait for a place.
    config = lean_config("idle", our_server[0], era=era, sessions=sessions, duration=0.5)
    run = run_engine(config, capsys)
    assert run.final["answered_pings"] == sessions
    assert_all_answered(run, 0, opened=sessions)


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_mix_answers_every_operation(era: str, our_server: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    # 2 sessions x 24 calls: 48 turns, each of MIX's 20 operations at least twice (the slow tool takes 50 ms).
    assert {method for method, _ in MIX} == {"tools/call", "resources/read", "prompts/get", "tools/list"}
    config = lean_config("mix", our_server[0], era=era, sessions=2, rate=16, duration=1.5)
    run = run_engine(config, capsys)
    assert_all_answered(run, 2 * 24, opened=2)


def test_nothing_listening_fails_every_session_to_open(capsys: pytest.CaptureFixture[str]) -> None:
    config = lean_config("baseline", f"tcp://127.0.0.1:{free_port()}", sessions=3, rate=16, duration=1)
    run = run_engine(config, capsys)
    assert run.kinds("session_errors") == {"open_failed:ConnectionRefusedError": 3}
    assert run.total("open_failed") == 3
    assert run.total("sent") == run.total("lost") == 0
    assert run.final["opened"] == run.final["open"] == 0
    assert run.seconds < 1  # every session failed at the start: the run ends then


@pytest.mark.parametrize("stale", [False, True], ids=["missing-path", "stale-socket-file"])
def test_nothing_listening_on_a_unix_path_fails_every_session_to_open(
    stale: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # connect() on a unix socket fails at once (no EINPROGRESS): the session must still count as failed to open.
    path = tmp_path / "gone.sock"
    if stale:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))  # the file stays, nothing listens
    config = lean_config("baseline", f"unix:{path}", sessions=3, rate=16, duration=1)
    run = run_engine(config, capsys)
    kind = "ConnectionRefusedError" if stale else "FileNotFoundError"
    assert run.kinds("session_errors") == {f"open_failed:{kind}": 3}
    assert run.total("open_failed") == 3
    assert run.total("sent") == 0


# ---------------------------------------------------------------------------------------------------- a fake server


@pytest.mark.parametrize(
    ("code", "data", "kind"),
    [(-32000, {"reason": "rate"}, "refused:rate"), (-32603, None, "error:-32603"), (-32000, None, "error:-32000")],
)
def test_error_answers_are_counted_by_kind(code: int, data: Any, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    def behave(peer: Peer) -> None:
        peer.handshake()
        peer.serve(lambda peer, request: peer.error(request, code, "no", data))

    with fake_server(behave) as server:
        run = run_engine(lean_config("baseline", server.target, sessions=1, rate=16, duration=1), capsys)
    assert run.total("sent") == 16
    assert run.kinds("errors") == {kind: 16}
    assert run.total("ok") == 0
    assert run.kinds("session_errors") == {}
    assert run.final["opened"] == 1
    assert run.final["open"] == 0
    assert decoded(run.final["total_hist"]).get_total_count() == 0


def test_is_error_results_are_tool_errors(capsys: pytest.CaptureFixture[str]) -> None:
    def behave(peer: Peer) -> None:
        peer.handshake()
        peer.serve(lambda peer, request: peer.reply(request, {**ECHO_RESULT, "isError": True}))

    with fake_server(behave) as server:
        run = run_engine(lean_config("baseline", server.target, sessions=1, rate=16, duration=1), capsys)
    assert run.total("sent") == 16
    assert run.kinds("errors") == {"tool_error": 16}
    assert run.total("ok") == 0
    assert run.kinds("session_errors") == {}


def test_a_malformed_line_is_counted_and_the_session_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    def behave(peer: Peer) -> None:
        peer.handshake()
        first = True

        def answer(peer: Peer, request: Message) -> None:
            nonlocal first
            if first:
                peer.send_raw(b"{not json\n")
                first = False
            echo(peer, request)

        peer.serve(answer)

    with fake_server(behave) as server:
        run = run_engine(lean_config("baseline", server.target, sessions=1, rate=16, duration=1), capsys)
    assert run.kinds("errors") == {"malformed": 1}
    assert run.total("sent") == run.total("ok") == 16
    assert run.kinds("session_errors") == {}
    assert decoded(run.final["total_hist"]).get_total_count() == 16


def test_a_connection_closed_under_calls_in_flight_loses_the_session(capsys: pytest.CaptureFixture[str]) -> None:
    def behave(peer: Peer) -> None:
        peer.handshake()
        peer.expect("tools/call")
        peer.sock.shutdown(socket.SHUT_WR)  # a clean end of stream (a close with unread data would be a reset)
        while not peer.closed:  # until the client closes its side
            peer.read()

    with fake_server(behave) as server:
        run = run_engine(lean_config("baseline", server.target, sessions=1, rate=16, duration=1), capsys)
    assert run.kinds("session_errors") == {"lost:ConnectionClosed": 1}
    assert run.total("lost") == 1
    assert run.total("open_failed") == 0
    sent = run.total("sent")
    assert sent >= 1
    assert run.kinds("errors") == {"closed": sent}  # every call in flight, and none sent after the loss
    assert run.total("ok") == 0
    assert run.final["opened"] == 1
    assert run.final["open"] == 0
    assert run.seconds < 1  # the only session ended long before its plan did


def test_a_bombing_the_server_does_not_answer_fills_the_window_and_counts_the_rest_unsent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 2 sessions; warm-up 0.5 s at 4/s, bombing 1 s at 16/s with at most 2 unanswered, cool-down 0.5 s at 4/s.
    # Session k's sends are shifted by k/2 of an interval. The server answers at once, but holds every call that
    # comes in the bombing until 0.2 s after it ends. Per session: 2 warm-up calls (k=0: 0, 0.25; k=1: 0.125,
    # 0.375), 2 bombing calls (the window), then the window stays full to the end of the bombing, so the 14 sends
    # still due then are unsent (k=0: 2/16 .. 15/16; k=1: 2.5/16 .. 15.5/16), then 2 cool-down calls, the first
    # one late (the cool-down begins once the held calls are answered, 0.2 s after its first send was due).
    start_at = time.time() + 0.2
    hold_from = start_at + 0.45  # after the last warm-up call (0.375), before the first bombing one (0.5)
    release_at = start_at + 0.5 + 1.0 + 0.2

    def behave(peer: Peer) -> None:
        peer.handshake()
        held: list[Message] = []
        while not peer.closed:
            if held and time.time() >= release_at:
                for request in held:
                    echo(peer, request)
                held.clear()
            message = peer.read(wait=0.01)
            if message is None or "id" not in message:
                continue
            if hold_from <= time.time() < release_at:
                held.append(message)
            else:
                echo(peer, message)

    config = lean_config(
        "bomb", "", start_at=start_at, sessions=2, rate=4, warmup=0.5, duration=1, cooldown=0.5,
        bomb_rate=16, depth=2,
    )  # fmt: skip
    with fake_server(behave) as server:
        config["target"] = server.target
        run = run_engine(config, capsys)
    assert run.total("sent") == 2 * (2 + 2 + 2)
    assert run.total("ok") == 2 * 6
    assert run.total("unsent") == 2 * 14
    assert run.kinds("errors") == {}
    assert run.kinds("session_errors") == {}
    assert run.total("late") >= 2  # each session's first cool-down send
    assert run.final["opened"] == 2
    assert run.final["open"] == 0
    assert decoded(run.final["total_hist"]).get_total_count() == 12
    # The held calls' latency counts from when they were due: at least the 0.2 s past the bombing's end.
    assert decoded(run.final["total_hist"]).get_max_value() >= 200_000


def test_at_most_open_concurrency_handshakes_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 6 sessions due at once, 2 handshake places, each initialize answered after 0.1 s: a session connects only
    # once an earlier one's handshake ended, and every one opens in the end.
    monkeypatch.setattr("soak.lean.OPEN_CONCURRENCY", 2)
    lock = threading.Lock()
    handshaking = most = 0

    def behave(peer: Peer) -> None:
        nonlocal handshaking, most
        with lock:
            handshaking += 1
            most = max(most, handshaking)
        request = peer.expect("initialize")
        time.sleep(0.1)
        with lock:
            handshaking -= 1
        peer.reply(request, INITIALIZE_RESULT)
        peer.expect("notifications/initialized")
        peer.serve(never)

    with fake_server(behave) as server:
        run = run_engine(lean_config("idle", server.target, sessions=6, duration=0.6), capsys)
    assert most == 2
    assert len(server.peers) == 6
    assert run.final["answered_pings"] == 6
    assert_all_answered(run, 0, opened=6)


def test_an_unanswered_call_times_out(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Calls are checked once a second: the 4 calls (sent 0 .. 0.75 s) are over 1 s old at the check at 2 s.
    monkeypatch.setattr("soak.lean.CALL_TIMEOUT", 1.0)

    def behave(peer: Peer) -> None:
        peer.handshake()
        peer.serve(never)

    with fake_server(behave) as server:
        run = run_engine(lean_config("baseline", server.target, sessions=1, rate=4, duration=1), capsys)
    assert run.total("sent") == 4
    assert run.kinds("errors") == {"timeout": 4}
    assert run.total("ok") == 0
    assert run.kinds("session_errors") == {}  # the session itself closes cleanly once its calls are done
    assert run.final["opened"] == 1
    assert run.final["open"] == 0
    assert 2 <= run.seconds < 4


def test_an_unanswered_initialize_fails_the_session_to_open(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("soak.lean.CALL_TIMEOUT", 1.0)

    def behave(peer: Peer) -> None:
        while not peer.closed:
            peer.read()

    with fake_server(behave) as server:
        run = run_engine(lean_config("baseline", server.target, sessions=1, rate=4, duration=1), capsys)
    assert run.kinds("session_errors") == {"open_failed:RequestTimeout": 1}
    assert run.total("sent") == 0
    assert run.final["opened"] == 0
    assert server.peers[0].methods == ["initialize"]


def test_a_refused_initialize_fails_the_session_to_open(capsys: pytest.CaptureFixture[str]) -> None:
    def behave(peer: Peer) -> None:
        request = peer.expect("initialize")
        peer.error(request, -32602, "unsupported protocol version")
        while not peer.closed:
            peer.read()

    with fake_server(behave) as server:
        run = run_engine(lean_config("baseline", server.target, sessions=2, rate=4, duration=1), capsys)
    assert run.kinds("session_errors") == {"open_failed:RemoteError": 2}
    assert run.total("sent") == 0
    assert run.final["opened"] == 0


@pytest.mark.parametrize("era", ["auto", "modern"])
def test_a_legacy_only_server_refusing_discovery(era: str, capsys: pytest.CaptureFixture[str]) -> None:
    # auto: server/discover refused, then initialize (with the next request id), then calls; modern: no session.
    def behave(peer: Peer) -> None:
        discover = peer.expect("server/discover")
        peer.error(discover, -32601, "method not found: server/discover")
        if era == "auto":
            peer.handshake()
            peer.serve(echo)
        while not peer.closed:
            peer.read()

    with fake_server(behave) as server:
        run = run_engine(lean_config("baseline", server.target, era=era, sessions=1, rate=16, duration=1), capsys)
    if era == "auto":
        assert_all_answered(run, 16, opened=1)
        methods = server.peers[0].methods
        assert methods[:3] == ["server/discover", "initialize", "notifications/initialized"]
        assert set(methods[3:]) == {"tools/call"}
    else:
        assert run.kinds("session_errors") == {"open_failed:RemoteError": 1}
        assert run.total("sent") == 0


def test_auto_tries_initialize_when_discovery_gets_no_answer(capsys: pytest.CaptureFixture[str]) -> None:
    def behave(peer: Peer) -> None:
        peer.expect("server/discover")
        peer.handshake()  # server/discover stays unanswered
        peer.serve(echo)

    def prepare(engine: LeanEngine) -> None:
        engine.discover_timeout = 0.3

    with fake_server(behave) as server:
        config = lean_config("baseline", server.target, era="auto", sessions=1, rate=16, duration=1)
        run = run_engine(config, capsys, prepare=prepare)
    assert_all_answered(run, 16, opened=1)
    assert run.total("late") >= 4  # the sends due in the 0.3 s wait went out late


def test_mix_against_a_server_without_resources_loses_only_that_session(capsys: pytest.CaptureFixture[str]) -> None:
    # The fake server declares tools only: the mix's 12th turn, resources/read, cannot be sent (the client
    # session refuses a method the server did not declare). The Trio engine counts that session lost
    # (LocalProtocolError); the lean engine must count it too, not let it end the whole generator.
    def behave(peer: Peer) -> None:
        peer.handshake()
        peer.serve(echo)

    with fake_server(behave) as server:
        config = lean_config("mix", server.target, sessions=1, rate=16, duration=1)
        run = run_engine(config, capsys)
    assert run.kinds("session_errors") == {"lost:LocalProtocolError": 1}
    assert run.final["open"] == 0

"""``mcp-trio serve --workers N`` with real processes: the workers share the port, a killed worker is replaced
while the others' sessions carry on, SIGTERM drains requests in flight, and bad combinations are refused."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from mcp_trio.client import Client, ClientConfig, ConnectionClosed, open_client

pytestmark = pytest.mark.slow
READY = re.compile(r"worker (worker-\d+) ready \(pid (\d+)\)")


class Parent:
    """The parent process and what it printed on stderr."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.changed = trio.Event()

    async def read(self) -> None:
        assert self.process.stderr is not None
        buffer = b""
        while data := await self.process.stderr.receive_some(65536):
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            self.lines.extend(line.decode(errors="replace") for line in complete)
            self.changed.set()
            self.changed = trio.Event()

    async def wait_for(self, pattern: str, count: int = 1) -> list[re.Match[str]]:
        with trio.fail_after(30):
            while True:
                found = [m for line in self.lines if (m := re.search(pattern, line))]
                if len(found) >= count:
                    return found
                await self.changed.wait()

    def pids(self) -> dict[str, int]:
        return {m[1]: int(m[2]) for line in self.lines if (m := READY.search(line))}


@asynccontextmanager
async def workers(*flags: str) -> AsyncIterator[tuple[Parent, str]]:
    argv = [sys.executable, "-m", "mcp_trio", "serve", "--workers", "2", "--tcp", "127.0.0.1:0", *flags]
    process = await trio.lowlevel.open_process(argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    parent = Parent(process)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(parent.read)
        try:
            match = (await parent.wait_for(r"listening on (tcp://\S+)"))[0]
            await parent.wait_for(r"2 workers ready")
            yield parent, match[1]
        finally:
            with trio.CancelScope(shield=True):
                if process.returncode is None:
                    process.send_signal(signal.SIGKILL)
                    for pid in parent.pids().values():
                        with _gone():
                            os.kill(pid, signal.SIGKILL)
                await process.wait()
            nursery.cancel_scope.cancel()


class _gone:  # noqa: N801
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *rest: Any) -> bool:
        return kind is not None and issubclass(kind, ProcessLookupError)


async def test_a_killed_worker_is_replaced_and_the_other_workers_sessions_carry_on() -> None:
    async with workers() as (parent, target), AsyncExitStack() as stack:
        clients: list[Client] = []
        for _ in range(20):
            clients.append(await stack.enter_async_context(open_client(target, config=ClientConfig(era="legacy"))))
        victim = parent.pids()["worker-1"]
        os.kill(victim, signal.SIGKILL)
        await parent.wait_for(r"worker worker-1 ready", count=2)
        assert parent.pids()["worker-1"] != victim
        alive = lost = 0
        for client in clients:
            try:
                await client.ping(timeout=5)
                alive += 1
            except ConnectionClosed:
                lost += 1
        # The kernel spread 20 sessions over both workers; only the victim's ended.
        assert alive
        assert lost
        async with open_client(target) as fresh:
            assert (await fresh.call_tool("echo", {"text": "after"})).content[0].text == "after"  # type: ignore[union-attr]


async def test_sigterm_drains_requests_in_flight_and_exits_cleanly() -> None:
    async with workers() as (parent, target), open_client(target) as client:
        answers: list[str] = []

        async def slow_call() -> None:
            result = await client.call_tool("sleep", {"seconds": 1})
            answers.append(result.content[0].text)  # type: ignore[union-attr]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(slow_call)
            await trio.sleep(0.3)
            parent.process.send_signal(signal.SIGTERM)
        assert answers
        assert answers[0].startswith("slept")
        with trio.fail_after(30):
            assert await parent.process.wait() == 0


async def test_a_second_signal_during_the_drain_kills_the_workers() -> None:
    async with workers() as (parent, target), open_client(target) as client:
        failed: list[BaseException] = []

        async def endless_call() -> None:
            try:
                await client.call_tool("sleep", {"seconds": 60})
            except Exception as exc:
                failed.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(endless_call)
            await trio.sleep(0.3)
            parent.process.send_signal(signal.SIGTERM)
            await parent.wait_for(r"stopping 2 workers")
            parent.process.send_signal(signal.SIGTERM)  # the drain would wait 30 s for the call: no
            await parent.wait_for(r"second signal: killing the workers")
            with trio.fail_after(10):
                await parent.process.wait()
        assert failed  # the call in flight got no answer: its worker was killed


def test_workers_refuse_transports_one_process_must_own() -> None:
    for flags in (["--stdio"], ["--unix", "/tmp/x.sock"], []):
        done = subprocess.run(
            [sys.executable, "-m", "mcp_trio", "serve", "--workers", "2", *flags],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert "--workers N (N > 1) serves --tcp and --http only" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "mcp_trio", "serve", "--workers", "0", "--tcp", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "at least 1" in done.stderr


async def test_a_legacy_http_session_answers_on_whichever_worker_a_connection_lands() -> None:
    import http.client
    import json

    async with workers("--http", "127.0.0.1:0") as (parent, _):
        url = (await parent.wait_for(r"listening on http://127\.0\.0\.1:(\d+)/mcp"))[0]
        port = int(url[1])
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}

        def post(body: dict[str, Any], session: str | None = None) -> tuple[int, dict[str, str], bytes]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # a new connection each time
            extra = {"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"} if session else {}
            connection.request("POST", "/mcp", json.dumps(body), {**headers, **extra})
            response = connection.getresponse()
            answer = (response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
            connection.close()
            return answer

        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        status, got, _ = await trio.to_thread.run_sync(post, init)
        assert status == 200
        session = got["mcp-session-id"]
        assert session.startswith("worker-")
        status, _, _ = await trio.to_thread.run_sync(
            post, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session
        )
        assert status == 202
        for number in range(20):  # new connections: the kernel spreads them over both workers
            call = {
                "jsonrpc": "2.0",
                "id": 10 + number,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": f"n{number}"}},
            }
            status, _, body = await trio.to_thread.run_sync(post, call, session)
            assert status == 200, body
            assert f"n{number}".encode() in body
        # An id naming no live session still gets the owner's answer: 404, whichever worker the request reached.
        status, _, _ = await trio.to_thread.run_sync(
            post, {"jsonrpc": "2.0", "id": 99, "method": "ping"}, "worker-1.bogus"
        )
        assert status == 404
        # The owner dies: its replacement adopts the session from the store the workers share on disk.
        owner = session.partition(".")[0]
        victim = parent.pids()[owner]
        os.kill(victim, signal.SIGKILL)
        await parent.wait_for(rf"worker {owner} ready", count=2)
        for number in range(6):
            call = {"jsonrpc": "2.0", "id": 50 + number, "method": "ping"}
            status, _, body = await trio.to_thread.run_sync(post, call, session)
            assert status == 200, body


async def test_a_notification_posted_in_one_worker_reaches_subscribers_in_every_worker() -> None:
    async with workers() as (_, target), AsyncExitStack() as stack:
        received: list[trio.Event] = []
        for _ in range(10):  # spread over both workers by the kernel
            arrived = trio.Event()
            received.append(arrived)

            def note(method: str, params: Any, arrived: trio.Event = arrived) -> None:
                if method == "notifications/resources/updated" and params.uri == "demo://counter":
                    arrived.set()

            client = await stack.enter_async_context(
                open_client(target, config=ClientConfig(era="legacy"), on_notification=note)
            )
            await client.subscribe("demo://counter")
        async with open_client(target, config=ClientConfig(era="legacy")) as changer:
            await changer.call_tool("increment", {"by": 1})
        with trio.fail_after(10):
            for arrived in received:
                await arrived.wait()


async def test_workers_serve_websocket_on_one_port_in_both_eras() -> None:
    async with workers("--ws", "127.0.0.1:0") as (parent, _):
        match = (await parent.wait_for(r"listening on (ws://\S+)"))[0]
        for era in ("legacy", "modern"):
            for _ in range(4):  # new connections: the kernel spreads them over both workers
                async with open_client(match[1], config=ClientConfig(era=era)) as client:  # type: ignore[arg-type]
                    result = await client.call_tool("echo", {"text": era})
                    assert result.content[0].text == era  # type: ignore[union-attr]


async def test_the_parent_serves_health_and_metrics_for_every_worker() -> None:
    import json
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    async with workers("--admin", "127.0.0.1:0") as (parent, target):
        admin = (await parent.wait_for(r"admin on (http://\S+)"))[0][1]
        async with open_client(target) as client:
            await client.call_tool("echo", {"text": "x"})

            def get(path: str) -> tuple[int, bytes]:
                with urllib.request.urlopen(admin + path, timeout=10) as response:
                    return response.status, response.read()

            status, body = await trio.to_thread.run_sync(get, "/health")
            document = json.loads(body)
            assert status == 200
            assert document["status"] == "ok"
            assert sorted(row["slot"] for row in document["workers"]) == ["worker-1", "worker-2"]
            assert all(row["pid"] in parent.pids().values() for row in document["workers"])
            status, body = await trio.to_thread.run_sync(get, "/metrics")
            families = {family.name: family for family in text_string_to_metric_families(body.decode())}
            assert families["mcp_trio_workers"].samples[0].value == 2
            assert {sample.labels["worker"] for sample in families["mcp_trio_connections"].samples} == {
                "worker-1",
                "worker-2",
            }


ASKING_SERVER = """
from mcp_trio import Context, Server

server = Server("asking")


@server.tool()
async def greet(ctx: Context) -> str:
    answer = await ctx.elicit("name?", {"type": "object", "properties": {"name": {"type": "string"}}})
    return "hello " + str((answer.content or {}).get("name"))
"""


async def test_a_2026_input_round_may_be_answered_on_another_worker(tmp_path: Path) -> None:
    """The sealed requestState of one worker is opened by any other: the parent gives them one key."""
    import http.client
    import json

    (tmp_path / "asking_server.py").write_text(ASKING_SERVER)
    argv = [
        sys.executable, "-m", "mcp_trio", "serve", "asking_server:server",
        "--workers", "2", "--http", "127.0.0.1:0",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = await trio.lowlevel.open_process(argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    parent = Parent(process)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(parent.read)
        try:
            port = int((await parent.wait_for(r"listening on http://127\.0\.0\.1:(\d+)/mcp"))[0][1])
            await parent.wait_for(r"2 workers ready")
            meta = {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
            }

            def post(params: dict[str, Any]) -> dict[str, Any]:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # new each time
                body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
                headers = {
                    "content-type": "application/json",
                    "accept": "application/json, text/event-stream",
                    "mcp-protocol-version": "2026-07-28",
                    "mcp-method": "tools/call",
                    "mcp-name": "greet",
                }
                connection.request("POST", "/mcp", body, headers)
                answer: dict[str, Any] = json.loads(connection.getresponse().read())
                connection.close()
                return answer

            for _ in range(8):  # new connections: rounds and retries land on either worker
                first = await trio.to_thread.run_sync(post, {"name": "greet", "_meta": meta})
                state = first["result"]["requestState"]
                answer = {"action": "accept", "content": {"name": "Ada"}}
                retry = {
                    "name": "greet",
                    "_meta": meta,
                    "inputResponses": {"elicitation": answer},
                    "requestState": state,
                }
                second = await trio.to_thread.run_sync(post, retry)
                assert second["result"]["content"][0]["text"] == "hello Ada", second
        finally:
            process.kill()
            for pid in parent.pids().values():
                with _gone():
                    os.kill(pid, signal.SIGKILL)
            await process.wait()
            nursery.cancel_scope.cancel()


_FAKE_WORKER = """
import json, os, sys, time
mode, fd = sys.argv[1], int(sys.argv[-1])
os.write(fd, json.dumps({"event": "ready", "pid": os.getpid()}).encode() + b"\\n")
if mode != "idle":
    end = time.monotonic() + (1.5 if mode == "busy" else 60)
    while time.monotonic() < end:
        pass  # busy: a long round of the event loop, no heartbeat
    os.write(fd, b'{"event": "heartbeat"}\\n')
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("mode", "verdict", "killed_after"),
    [("idle", "(idle)", (0.5, 1.4)), ("busy", "(idle)", (1.9, 3.0)), ("spinning", "(still busy)", (1.4, 2.4))],
)
async def test_a_silent_worker_is_killed_unless_it_is_busy(
    tmp_path: Path, mode: str, verdict: str, killed_after: tuple[float, float]
) -> None:
    # Hung (no CPU): killed at heartbeat_timeout. Busy (CPU, no heartbeat for 1.5 s): kept, killed only once idle.
    # Spinning for good: killed at heartbeat_timeout + busy_grace.
    from mcp_trio.workers import WorkerFailed, WorkerSettings, _Parent

    settings = WorkerSettings(count=1, heartbeat_interval=0.1, heartbeat_timeout=0.5, busy_grace=1.0, drain_timeout=1)
    parent = _Parent([sys.executable, "-c", _FAKE_WORKER, mode], settings, str(tmp_path))
    began = trio.current_time()
    with trio.fail_after(10), pytest.raises(BaseExceptionGroup) as failed:
        async with trio.open_nursery() as nursery:
            await nursery.start(parent.run_worker, "w1")
    took = trio.current_time() - began
    matched, rest = failed.value.split(WorkerFailed)
    assert rest is None
    assert matched is not None
    assert verdict in repr(matched)
    assert killed_after[0] <= took <= killed_after[1], took

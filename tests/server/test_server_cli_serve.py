"""``mcp-trio serve`` as a user runs it: a real subprocess on TCP and Unix sockets, and its error exits."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from mcp_trio.protocol.framing import NEED_DATA, LineFramer

MCP_TRIO = str(Path(sys.executable).with_name("mcp-trio"))
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "cli-test", "version": "0"}},
}


@asynccontextmanager
async def serving(*args: str) -> AsyncIterator[tuple[trio.Process, str]]:
    """Start ``mcp-trio serve ARGS`` and yield it with the address it announced on stderr; kill it after."""
    process = await trio.lowlevel.open_process(
        [MCP_TRIO, "serve", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stderr is not None
        seen = b""
        with trio.fail_after(20):
            while b"listening on " not in seen or not seen.endswith(b"\n"):
                chunk = await process.stderr.receive_some(4096)
                assert chunk, f"mcp-trio exited early: {seen.decode(errors='replace')}"
                seen += chunk
        match = re.search(r"listening on (\S+)", seen.decode())
        assert match is not None
        yield process, match.group(1)
    finally:
        process.kill()
        with trio.move_on_after(10):
            await process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                await pipe.aclose()


async def exchange(stream: trio.abc.Stream, messages: list[dict[str, Any]], answers: int) -> list[dict[str, Any]]:
    await stream.send_all(b"".join(msgspec.json.encode(m) + b"\n" for m in messages))
    framer = LineFramer()
    received: list[dict[str, Any]] = []
    with trio.fail_after(20):
        while len(received) < answers:
            data = await stream.receive_some(65536)
            assert data, "server closed the connection"
            framer.receive_data(bytes(data))
            while (line := framer.next_message()) is not NEED_DATA:
                received.append(msgspec.json.decode(line))
    return received


ECHO = [
    INIT,
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "over tcp"}}},
]


async def test_serve_tcp_announces_its_address_on_stderr_and_answers() -> None:
    async with serving("--tcp", "127.0.0.1:0") as (process, address):
        match = re.fullmatch(r"tcp://127\.0\.0\.1:(\d+)", address)
        assert match is not None, address
        port = int(match.group(1))
        assert port != 0
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            init, echo = await exchange(stream, ECHO, 2)
        assert process.returncode is None
    assert init["result"]["serverInfo"]["name"] == "mcp-trio-demo"
    assert echo == {"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": "over tcp"}]}}


async def test_serve_unix_answers_on_the_socket_path(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    async with serving("--unix", path) as (_, address):
        assert address == f"unix://{path}"
        stream = await trio.open_unix_socket(path)
        async with stream:
            init, echo = await exchange(stream, ECHO, 2)
    assert init["id"] == 1
    assert echo["result"] == {"content": [{"type": "text", "text": "over tcp"}]}


async def test_serve_loads_a_module_attribute_target_and_several_listeners() -> None:
    async with serving("mcp_trio.conformance_fixture:build_fixture_server", "--tcp", "127.0.0.1:0") as (_, address):
        port = int(address.rsplit(":", 1)[1])
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            (init,) = await exchange(stream, [INIT], 1)
    assert init["result"]["serverInfo"]["name"] == "mcp-trio-conformance"


async def test_serve_ws_next_to_tcp_announces_both_and_serves_both_eras_over_websocket() -> None:
    from mcp_trio.client import ClientConfig, open_client

    async with serving("--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0/socket") as (process, first):
        assert first.startswith("tcp://")
        assert process.stderr is not None
        seen = b""
        with trio.fail_after(20):
            while not re.search(rb"listening on ws://\S+\n", seen):
                seen += await process.stderr.receive_some(4096)
        match = re.search(r"listening on (ws://127\.0\.0\.1:(\d+)/socket)\n", seen.decode())
        assert match is not None, seen
        for era in ("legacy", "modern"):
            async with open_client(match.group(1), config=ClientConfig(era=era)) as client:  # type: ignore[arg-type]
                result = await client.call_tool("echo", {"text": "over ws"})
                assert client.era == era
                assert result.content[0].text == "over ws"  # type: ignore[union-attr]
        stream = await trio.open_tcp_stream("127.0.0.1", int(first.rsplit(":", 1)[1]))
        async with stream:
            _, echo = await exchange(stream, ECHO, 2)
        assert echo["result"]["content"][0]["text"] == "over tcp"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MCP_TRIO, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--tcp", "nonsense"], "expected HOST:PORT"),
        (["serve", "--tcp", "127.0.0.1:99999"], "expected HOST:PORT"),
        (["serve", "--tcp", ":80"], "expected HOST:PORT"),
        (["serve", "--bogus"], "unrecognized arguments: --bogus"),
        (["serve", "--log-level", "loud"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    completed = run_cli(*args)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert completed.stdout == ""


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_xyz:server", "cannot import 'no_such_module_xyz'"),
        ("mcp_trio.demo:nope", "'mcp_trio.demo' has no attribute 'nope'"),
        ("mcp_trio.demo", "expected module:attribute, got 'mcp_trio.demo'"),
        ("mcp_trio.demo:", "expected module:attribute, got 'mcp_trio.demo:'"),
        ("mcp_trio.demo:COUNTER_URI", "mcp_trio.demo:COUNTER_URI is a str, not an mcp_trio.Server"),
    ],
)
def test_bad_targets_exit_2_naming_the_problem(target: str, message: str) -> None:
    completed = run_cli("serve", target, "--tcp", "127.0.0.1:0")
    assert completed.returncode == 2
    assert f"mcp-trio: error: {message}" in completed.stderr


async def test_a_port_in_use_exits_1_with_the_os_error() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    try:
        completed = await trio.run_process(
            [MCP_TRIO, "serve", "--tcp", f"127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    finally:
        for listener in listeners:
            await listener.aclose()
    assert completed.returncode == 1
    assert completed.stderr.startswith(b"mcp-trio: error: ")
    assert b"Traceback" not in completed.stderr


async def test_sigusr1_prints_the_live_supervision_tree_and_the_shards() -> None:
    async with serving("--tcp", "127.0.0.1:0") as (process, address):
        host, port = address.removeprefix("tcp://").rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        await exchange(stream, [INIT], 1)
        process.send_signal(signal.SIGUSR1)
        assert process.stderr is not None
        seen = b""
        with trio.fail_after(20):
            while b"loop watchdog:" not in seen:
                chunk = await process.stderr.receive_some(65536)
                assert chunk, seen
                seen += chunk
        await stream.aclose()
    text = seen.decode()
    assert "mcp-trio [one_for_one] running" in text
    assert "── tcp://127.0.0.1:0 running permanent" in text
    assert "shard-00 [one_for_all] running" in text
    assert sum(int(m) for m in re.findall(r"shard-\d+: (\d+) connections", text)) == 1


STUBBORN_SERVER = """
import trio
from mcp_trio import Context, Server, ServerConfig
from mcp_trio.runtime import RuntimeConfig

server = Server("stubborn", config=ServerConfig(runtime=RuntimeConfig(shutdown_timeout=0.3, drain_timeout=0.2)))


@server.tool()
async def stubborn(ctx: Context) -> str:
    await ctx.report_progress(1)  # tells the test the handler runs
    with trio.CancelScope(shield=True):
        await trio.sleep_forever()
    return "never"
"""


async def test_a_handler_that_ignores_cancellation_cannot_keep_the_daemon_from_exiting(tmp_path: Path) -> None:
    (tmp_path / "stubborn_server.py").write_text(STUBBORN_SERVER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    process = await trio.lowlevel.open_process(
        [MCP_TRIO, "serve", "stubborn_server:server", "--tcp", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stderr is not None
    seen = b""
    try:
        with trio.fail_after(20):
            while b"listening on " not in seen or not seen.endswith(b"\n"):
                seen += await process.stderr.receive_some(4096)
            host, port = re.search(rb"tcp://(\S+):(\d+)", seen).groups()  # type: ignore[union-attr]
            stream = await trio.open_tcp_stream(host.decode(), int(port))
            await exchange(stream, [INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"}], 1)
            call = {"name": "stubborn", "_meta": {"progressToken": "p"}}
            await exchange(stream, [{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}], 1)
            process.send_signal(signal.SIGINT)  # the handler runs: it reported progress
            while chunk := await process.stderr.receive_some(65536):
                seen += chunk
            code = await process.wait()
            await stream.aclose()
    finally:
        process.kill()
        await process.stderr.aclose()
    assert code == 70, seen.decode()
    text = seen.decode()
    assert "did not stop within 0.3s of being cancelled" in text
    assert "shutdown did not finish within 2.6 s: children the supervisors abandoned" in text


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_sigint_and_sigterm_stop_the_server_in_order_and_exit_0(signum: int) -> None:
    async with serving("--tcp", "127.0.0.1:0") as (process, address):
        host, port = address.removeprefix("tcp://").rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        await exchange(stream, [INIT], 1)
        process.send_signal(signum)
        assert process.stderr is not None
        seen = b""
        with trio.fail_after(20):
            while chunk := await process.stderr.receive_some(65536):
                seen += chunk
            code = await process.wait()
        await stream.aclose()
    assert code == 0, seen.decode()
    assert f"stopping ({signal.Signals(signum).name})" in seen.decode()

"""The daemon's configuration: sources in order (defaults, file, environment, flags), every kind of bad input
named clearly with exit status 2, ``config show``/``config check``, and ``serve --config`` applying it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mcp_trio.config import ConfigError, load_config, settable_fields
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.server.config import ServerConfig
from mcp_trio.transports.http.config import HttpConfig


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mcp-trio.toml"
    path.write_text(text)
    return str(path)


def test_later_sources_win_and_each_value_remembers_where_it_came_from(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        '[runtime]\nmax_in_flight = 500\nshards = 4\n[http]\nallowed_hosts = ["a.example"]\n'
        '[serve]\nhttp = ["127.0.0.1:8000"]\nworkers = 2\n',
    )
    env = {"MCP_TRIO_RUNTIME_SHARDS": "8", "MCP_TRIO_SERVER_IN_FLIGHT_POLICY": "block", "HOME": "/x"}
    config = load_config(file, env, {"serve": {"workers": 3}})
    assert config.runtime.max_in_flight == 500
    assert config.runtime.shards == 8
    assert config.server.in_flight_policy == "block"
    assert config.http.allowed_hosts == ("a.example",)
    assert config.serve.http == ("127.0.0.1:8000",)
    assert config.serve.workers == 3
    assert config.sources == {
        "runtime.max_in_flight": f"file {file}",
        "runtime.shards": "env MCP_TRIO_RUNTIME_SHARDS",
        "http.allowed_hosts": f"file {file}",
        "serve.http": f"file {file}",
        "serve.workers": "flag --workers",
        "server.in_flight_policy": "env MCP_TRIO_SERVER_IN_FLIGHT_POLICY",
    }
    shown = config.show()
    assert "max_in_flight = 500  # file" in shown
    assert "shards = 8  # env MCP_TRIO_RUNTIME_SHARDS" in shown
    assert "page_size = 100  # default" in shown


def test_every_limit_of_the_layers_is_a_key() -> None:
    for cls in (ServerConfig, RuntimeConfig, HttpConfig):
        names = {field.name for field in settable_fields(cls)}
        assert "max_in_flight" in names or "max_sessions" in names or "shards" in names
    assert "event_store" not in {field.name for field in settable_fields(HttpConfig)}  # an object


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[runtime\nx=1", "not valid TOML"),
        ("[nope]\nx = 1", "unknown section [nope]"),
        ("runtime = 3", "must be a table"),
        ("[runtime]\nmax_in_flite = 5", "unknown key; the keys of [runtime] are"),
        ('[runtime]\nmax_in_flight = "lots"', 'runtime.max_in_flight = "lots": expected int'),
        ('[server]\nin_flight_policy = "maybe"', "expected one of 'refuse', 'block'"),
        ("[runtime]\nshutdown_timeout = -1", "[runtime] shutdown_timeout"),
        ("[http]\nevent_store = 1", "holds an object and cannot be set"),
        ("[serve]\nworkers = 0", "workers must be at least 1"),
    ],
)
def test_bad_files_name_the_key_the_value_and_what_is_allowed(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MCP_TRIO_NOPE_X": "1"}, "MCP_TRIO_NOPE_X: no such section"),
        ({"MCP_TRIO_RUNTIME_NOPE": "1"}, "MCP_TRIO_RUNTIME_NOPE: unknown key"),
        ({"MCP_TRIO_RUNTIME_SHARDS": "many"}, 'MCP_TRIO_RUNTIME_SHARDS = "many": expected int'),
    ],
)
def test_bad_environment_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, env)
    assert message in str(caught.value)


def test_a_missing_file_is_an_error_not_a_default() -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config("/nonexistent/mcp-trio.toml", {})


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_trio", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_config_check_and_show(tmp_path: Path) -> None:
    good = write(tmp_path, "[runtime]\nmax_in_flight = 123\n")
    done = run_cli("config", "check", good)
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout
    done = run_cli("config", "show", "--config", good)
    assert done.returncode == 0
    assert "max_in_flight = 123  # file" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[runtime]\nmax_in_flight = -3\n")
    done = run_cli("config", "check", str(bad))
    assert done.returncode == 2
    assert done.stderr.startswith("mcp-trio: error: [runtime] max_in_flight")


def test_serve_refuses_a_bad_config_with_exit_2(tmp_path: Path) -> None:
    done = run_cli("serve", "--config", write(tmp_path, '[serve]\ntcp = ["nowhere"]\n'))
    assert done.returncode == 2
    assert "[serve] expected HOST:PORT" in done.stderr
    done = run_cli("serve", "--config", write(tmp_path, "[runtime]\nshards = 0\n"))
    assert done.returncode == 2
    assert "[runtime]" in done.stderr


async def test_serve_applies_the_file(tmp_path: Path) -> None:
    import re

    import trio

    file = write(tmp_path, '[serve]\ntcp = ["127.0.0.1:0"]\nlog_level = "warning"\n[runtime]\nmax_connections = 1\n')
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "mcp_trio", "serve", "--config", file],
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert process.stderr is not None
    try:
        seen = b""
        with trio.fail_after(30):
            while not re.search(rb"tcp://\S+:\d+\n", seen):
                seen += await process.stderr.receive_some(4096)
            port = int(re.search(rb"tcp://\S+:(\d+)", seen)[1])  # type: ignore[index]
            first = await trio.open_tcp_stream("127.0.0.1", port)
            second = await trio.open_tcp_stream("127.0.0.1", port)
            refusal = await second.receive_some()
            assert b'"reason":"connections"' in refusal  # max_connections = 1 from the file
            await first.aclose()
            await second.aclose()
    finally:
        process.kill()
        await process.wait()
        await process.stderr.aclose()


async def test_sighup_reloads_the_limits_that_can_change_live_and_names_the_others(tmp_path: Path) -> None:
    import re
    import signal

    import trio

    path = tmp_path / "live.toml"
    path.write_text('[serve]\ntcp = ["127.0.0.1:0"]\n[runtime]\nmax_connections = 1\n')
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "mcp_trio", "serve", "--config", str(path)],
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert process.stderr is not None
    seen = b""

    async def read_until(needle: bytes) -> None:
        nonlocal seen
        while needle not in seen:
            seen += await process.stderr.receive_some(4096)  # type: ignore[union-attr]

    try:
        with trio.fail_after(30):
            await read_until(b"supervision tree up")
            port = int(re.search(rb"tcp://\S+:(\d+)", seen)[1])  # type: ignore[index]
            first = await trio.open_tcp_stream("127.0.0.1", port)
            refused = await trio.open_tcp_stream("127.0.0.1", port)
            assert b'"reason":"connections"' in await refused.receive_some()
            path.write_text('[serve]\ntcp = ["127.0.0.1:0"]\n[runtime]\nmax_connections = 5\nshards = 4\n')
            process.send_signal(signal.SIGHUP)
            await read_until(b"configuration reloaded")
            await read_until(b"\n")
            line = seen[seen.index(b"configuration reloaded") :].split(b"\n")[0].decode()
            assert "live now runtime.max_connections" in line
            assert "after a restart only runtime.shards" in line
            admitted = await trio.open_tcp_stream("127.0.0.1", port)
            init = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
            await admitted.send_all(init)
            assert b'"result"' in await admitted.receive_some()  # the new limit admits it
            path.write_text("[runtime]\nmax_connections = -1\n")  # now invalid: refused whole, nothing changes
            process.send_signal(signal.SIGHUP)
            await read_until(b"configuration not reloaded")
            for stream in (first, refused, admitted):
                await stream.aclose()
    finally:
        process.kill()
        await process.wait()
        await process.stderr.aclose()

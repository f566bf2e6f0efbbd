"""The start-up capacity check (issue 19): ``[serve] connections`` / ``--connections`` against workers x each
process's connection limit. A target that fits starts the server (and says so), one that does not exits 2 with
one line naming the target, the capacity and the workers it needs, with or without ``--workers`` and with
``--workers auto``; bad values exit 2 too.

The processes run with a 1,000-file limit (``RLIMIT_NOFILE``, set before exec), so the figures do not depend on
the machine: 900 connections per process (the runtime's 90% default).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from mcp_trio.config import ConfigError, load_config
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.workers import FILE_RESERVE, connection_capacity

FILES = 1000


def limited(files: int = FILES, one_core: bool = False) -> Callable[[], None]:
    """A ``preexec_fn``: the child's open-file limit (soft and hard) is ``files``, and maybe one core only."""

    def setup() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
        if one_core:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    return setup


def serve(*args: str, env: dict[str, str] | None = None, one_core: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_trio", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
        preexec_fn=limited(one_core=one_core),
    )


def test_capacity_is_workers_times_the_runtime_connection_limit() -> None:
    capacity = connection_capacity(6, 20_000, RuntimeConfig())
    assert (capacity.per_worker, capacity.total, capacity.limited_by) == (18_000, 108_000, "default")
    assert capacity.shortfall(100_000) is None
    assert capacity.shortfall(108_000) is None
    assert capacity.workers_for(100_000) == 6
    problem = capacity.shortfall(108_001)
    assert problem is not None
    assert problem.startswith(
        "[serve] connections = 108,001 cannot be reached: 6 workers x 18,000 connections = 108,000 "
        "(per process: open-file limit 20,000, less 10% kept for the process's own descriptors"
    )
    assert "it needs --workers 7" in problem


def test_an_explicit_max_connections_counts_but_never_past_the_file_limit_less_the_reserve() -> None:
    lower = connection_capacity(2, 20_000, RuntimeConfig(max_connections=5_000))
    assert (lower.per_worker, lower.limited_by) == (5_000, "max_connections")
    assert "it needs --workers 3" in (lower.shortfall(10_001) or "")
    higher = connection_capacity(2, 20_000, RuntimeConfig(max_connections=50_000))
    assert (higher.per_worker, higher.limited_by) == (20_000 - FILE_RESERVE, "file_limit")
    assert f"less {FILE_RESERVE} kept" in (higher.shortfall(40_000) or "")
    none = connection_capacity(4, FILE_RESERVE, RuntimeConfig(max_connections=10))
    assert none.per_worker == 0
    assert none.workers_for(1) is None
    assert "no number of workers can" in (none.shortfall(1) or "")


def test_the_key_is_validated_and_set_from_every_source(tmp_path: Path) -> None:
    file = tmp_path / "mcp-trio.toml"
    file.write_text("[serve]\nconnections = 50000\n")
    assert load_config(str(file), {}).serve.connections == 50_000
    assert load_config(None, {"MCP_TRIO_SERVE_CONNECTIONS": "7"}).serve.connections == 7
    assert load_config(None, {}).serve.connections is None
    flagged = load_config(str(file), {}, {"serve": {"connections": 9}})
    assert (flagged.serve.connections, flagged.sources["serve.connections"]) == (9, "flag --connections")
    file.write_text("[serve]\nconnections = 0\n")
    with pytest.raises(ConfigError, match="connections must be at least 1"):
        load_config(str(file), {})


def test_a_target_the_workers_cannot_reach_exits_2_naming_the_workers_it_needs() -> None:
    done = serve("--workers", "2", "--tcp", "127.0.0.1:0", "--connections", "1801")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        "mcp-trio: error: [serve] connections = 1,801 cannot be reached: 2 workers x 900 connections = 1,800 "
        "(per process: open-file limit 1,000, less 10% kept"
    )
    assert "it needs --workers 3" in done.stderr
    assert "workers ready" not in done.stderr  # refused before any worker started


def test_without_workers_the_one_process_is_checked_and_max_connections_is_named() -> None:
    done = serve("--tcp", "127.0.0.1:0", env={"MCP_TRIO_SERVE_CONNECTIONS": "901"})
    assert done.returncode == 2
    assert "1 worker x 900 connections = 900" in done.stderr
    assert "it needs --workers 2" in done.stderr
    done = serve("--tcp", "127.0.0.1:0", "--connections", "501", env={"MCP_TRIO_RUNTIME_MAX_CONNECTIONS": "500"})
    assert done.returncode == 2
    assert "1 worker x 500 connections = 500 (per process: open-file limit 1,000, [runtime] max_connections)" in (
        done.stderr
    )


def test_auto_workers_are_one_per_core_and_checked_as_such() -> None:
    done = serve("--workers", "auto", "--tcp", "127.0.0.1:0", "--connections", "901", one_core=True)
    assert done.returncode == 2
    assert "1 worker x 900 connections = 900" in done.stderr
    assert "it needs --workers 2" in done.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--connections", "0"], {}, "expected a number of connections (at least 1), got '0'"),
        (["--connections", "lots"], {}, "expected a number of connections (at least 1), got 'lots'"),
        ([], {"MCP_TRIO_SERVE_CONNECTIONS": "lots"}, 'MCP_TRIO_SERVE_CONNECTIONS = "lots": expected'),
        ([], {"MCP_TRIO_SERVE_CONNECTIONS": "-5"}, "connections must be at least 1"),
    ],
)
def test_bad_targets_exit_2(args: list[str], env: dict[str, str], message: str) -> None:
    done = serve("--tcp", "127.0.0.1:0", *args, env=env)
    assert done.returncode == 2
    assert message in done.stderr


async def stderr_until(process: trio.Process, needles: list[str]) -> str:
    """What ``process`` printed on stderr until every one of ``needles`` appeared (fails after 60 s)."""
    assert process.stderr is not None
    seen = ""
    with trio.fail_after(60):
        while not all(needle in seen for needle in needles):
            data = await process.stderr.receive_some(65536)
            assert data, f"the server exited (status {await process.wait()}); it said:\n{seen}"
            seen += data.decode(errors="replace")
    return seen


@pytest.mark.slow
async def test_a_target_that_fits_starts_the_workers_and_reports_the_capacity(tmp_path: Path) -> None:
    # From the file, which the workers read too: they must not check again with --workers 1 (they would fail).
    file = tmp_path / "mcp-trio.toml"
    file.write_text("[serve]\nconnections = 1800\n")
    argv = [sys.executable, "-m", "mcp_trio", "serve", "--workers", "2", "--tcp", "127.0.0.1:0", "--config", str(file)]
    process = await trio.lowlevel.open_process(
        argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, preexec_fn=limited(), start_new_session=True
    )
    try:
        # Ready means each worker got past its own start-up (one checking with --workers 1 would exit 2 first).
        seen = await stderr_until(process, ["2 workers ready"])
        assert "mcp-trio: capacity 2 x 900 = 1,800 connections (target 1,800)" in seen
        assert "capacity: 2 x 1,000 open files" in seen
        assert "error" not in seen
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the parent and its workers: one process group
        await process.wait()

"""``mcp-trio serve --admin`` end to end, in subprocesses: /health, /ready, /metrics (parsed by prometheus_client),
the bearer token, readiness during a drain with a request in flight, and ``mcp-trio health``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from mcp_trio.client import ClientConfig, open_client

pytestmark = pytest.mark.slow


@asynccontextmanager
async def serving(*extra: str, env: dict[str, str] | None = None) -> AsyncIterator[tuple[trio.Process, str, str]]:
    argv = [sys.executable, "-m", "mcp_trio", "serve", "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0", *extra]
    process = await trio.lowlevel.open_process(
        argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )
    assert process.stderr is not None
    seen = b""
    try:
        with trio.fail_after(30):
            while b"admin on " not in seen:
                seen += await process.stderr.receive_some(4096)
        mcp = re.search(rb"listening on (http://\S+)", seen)[1].decode()  # type: ignore[index]
        admin = re.search(rb"admin on (http://\S+)", seen)[1].decode()  # type: ignore[index]
        yield process, mcp, admin
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await process.stderr.aclose()


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def test_health_ready_and_metrics() -> None:
    async with serving() as (_, mcp, admin):
        async with open_client(mcp) as client:
            await client.call_tool("echo", {"text": "x"})
            status, body = await trio.to_thread.run_sync(get, f"{admin}/health")
            assert status == 200
            document = json.loads(body)
            assert document["status"] == "ok"
            assert document["ready"] is True
            assert document["connections"] >= 1
            assert document["connections_by_transport"].get("http", 0) >= 1
            assert {"memory", "gc", "admission", "shards", "tree"} <= set(document)
        status, _ = await trio.to_thread.run_sync(get, f"{admin}/ready")
        assert status == 200
        status, body = await trio.to_thread.run_sync(get, f"{admin}/metrics")
        assert status == 200
        families = {family.name: family for family in text_string_to_metric_families(body.decode())}
        assert {"mcp_trio_connections", "mcp_trio_refusals", "mcp_trio_gc_collections", "mcp_trio_ready"} <= set(
            families
        )
        assert families["mcp_trio_ready"].samples[0].value == 1
        status, _ = await trio.to_thread.run_sync(get, f"{admin}/elsewhere")
        assert status == 404


async def test_the_admin_token_is_required_when_set() -> None:
    async with serving(env={"MCP_TRIO_ADMIN_TOKEN": "s3cret"}) as (_, _, admin):
        status, _ = await trio.to_thread.run_sync(get, f"{admin}/health")
        assert status == 401
        status, _ = await trio.to_thread.run_sync(get, f"{admin}/health", "wrong")
        assert status == 401
        status, _ = await trio.to_thread.run_sync(get, f"{admin}/health", "s3cret")
        assert status == 200


async def test_not_ready_while_draining_and_the_request_in_flight_still_finishes() -> None:
    async with serving() as (process, mcp, admin), open_client(mcp) as client:
        answers: list[str] = []

        async def slow() -> None:
            result = await client.call_tool("sleep", {"seconds": 1.5})
            answers.append(result.content[0].text)  # type: ignore[union-attr]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(slow)
            await trio.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            await trio.sleep(0.3)
            status, body = await trio.to_thread.run_sync(get, f"{admin}/ready")
            assert status == 503
            assert json.loads(body)["draining"] is True
            status, body = await trio.to_thread.run_sync(get, f"{admin}/health")
            assert status == 503
            assert json.loads(body)["status"] == "draining"
        assert answers
        assert answers[0].startswith("slept")
        with trio.fail_after(30):
            assert await process.wait() == 0


async def test_the_health_command_prints_the_document_and_exits_by_status() -> None:
    async with serving() as (_, _, admin):
        done = await trio.run_process(
            [sys.executable, "-m", "mcp_trio", "health", f"{admin}/health"], capture_stdout=True, check=False
        )
        assert done.returncode == 0
        assert b"status" in done.stdout
        assert b"ok" in done.stdout
    done = await trio.run_process(
        [sys.executable, "-m", "mcp_trio", "health", "http://127.0.0.1:1/health"], capture_stderr=True, check=False
    )
    assert done.returncode == 2
    assert b"cannot read" in done.stderr


async def test_metrics_count_requests_per_method_and_tool_with_a_latency_histogram() -> None:
    async with serving() as (_, mcp, admin):
        async with open_client(mcp, config=ClientConfig(era="legacy")) as client:
            for _ in range(3):
                await client.call_tool("echo", {"text": "x"})
        _, body = await trio.to_thread.run_sync(get, f"{admin}/metrics")
        families = {family.name: family for family in text_string_to_metric_families(body.decode())}
        requests = {
            (s.labels["method"], s.labels["tool"], s.labels["outcome"]): s.value
            for s in families["mcp_trio_requests"].samples
            if s.name == "mcp_trio_requests_total"
        }
        assert requests[("tools/call", "echo", "ok")] == 3
        histogram = families["mcp_server_operation_duration_seconds"]
        count = next(s.value for s in histogram.samples if s.name.endswith("_count") and s.labels["tool"] == "echo")
        assert count == 3
        _, body = await trio.to_thread.run_sync(get, f"{admin}/health")
        assert json.loads(body)["requests_per_second"] > 0

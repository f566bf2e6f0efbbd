"""Shared helpers for the server tests (imported by name: tests/server is on sys.path, no package)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient, ServerRequestHandler, modern_meta, open_client

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ALL_CLIENT_CAPS: dict[str, Any] = {"sampling": {}, "elicitation": {}, "roots": {"listChanged": True}}


@asynccontextmanager
async def legacy_client(
    server: Server,
    *,
    capabilities: dict[str, Any] | None = None,
    on_request: ServerRequestHandler | None = None,
    version: str = LEGACY,
) -> AsyncIterator[RawClient]:
    """An in-memory client that has completed the legacy handshake (initialize + initialized)."""
    async with open_client(server, on_request=on_request) as client:
        await client.initialize(capabilities, version=version)
        yield client


def call(name: str, arguments: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """``tools/call`` params."""
    params: dict[str, Any] = {"name": name, **extra}
    if arguments is not None:
        params["arguments"] = arguments
    return params


def modern(params: dict[str, Any] | None = None, capabilities: dict[str, Any] | None = None, **meta: Any) -> dict:
    """``params`` with a 2026-07-28 ``_meta`` added."""
    return {**(params or {}), "_meta": modern_meta(capabilities, **meta)}


def result_of(response: dict[str, Any]) -> Any:
    assert "error" not in response, response
    return response["result"]


def error_of(response: dict[str, Any]) -> dict[str, Any]:
    assert "result" not in response, response
    error: dict[str, Any] = response["error"]
    return error


def text_of(result: dict[str, Any]) -> str:
    (block,) = result["content"]
    assert block["type"] == "text"
    text: str = block["text"]
    return text


async def settle() -> None:
    """Let every task run until all are blocked (notifications posted by the test get flushed)."""
    await trio.testing.wait_all_tasks_blocked()


async def ping(client: RawClient) -> None:
    """A round trip: everything the server wrote before answering it has been collected."""
    assert result_of(await client.request("ping")) == {}

"""The tasks extension from the client: a call answered with a task, followed to its end (input requests answered
by the client's handlers on the way), cancelled, and the legacy task-augmented call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

from mcp_trio.client import Client, ClientConfig, open_client
from mcp_trio.conformance_fixture import build_fixture_server
from mcp_trio.protocol.types import CreateTaskResult, ElicitRequestParams, ElicitResult, LegacyCreateTaskResult


async def confirm(params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


@asynccontextmanager
async def fixture_client(era: str, **options: Any) -> AsyncIterator[Client]:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with build_fixture_server().open_runtime() as runtime:
        runtime.serve_stream(server_stream)
        async with open_client(client_stream, config=ClientConfig(era=era), **options) as client:  # type: ignore[arg-type]
            yield client


async def test_a_modern_call_answered_with_a_task_is_followed_to_its_result(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with fixture_client("modern", tasks=True, elicitation=confirm) as client:
        created = await client.call_tool("slow_compute", {"seconds": 3, "label": "job"})
        assert isinstance(created, CreateTaskResult)
        final = await client.wait_task(created.task_id)
        assert final.status == "completed"
        assert "job finished after 3" in str(final.result)
        asking = await client.call_tool("confirm_delete", {"filename": "a.txt"})
        assert isinstance(asking, CreateTaskResult)
        final = await client.wait_task(asking.task_id)  # input_required: answered by the elicitation handler
        assert final.status == "completed"
        assert "a.txt deleted" in str(final.result)


async def test_a_task_can_be_cancelled(autojump_clock: trio.testing.MockClock) -> None:
    async with fixture_client("modern", tasks=True) as client:
        created = await client.call_tool("slow_compute", {"seconds": 1000})
        assert isinstance(created, CreateTaskResult)
        await client.cancel_task(created.task_id)
        final = await client.wait_task(created.task_id)
        assert final.status == "cancelled"


async def test_without_the_extension_the_same_call_answers_directly() -> None:
    async with fixture_client("modern") as client:
        result = await client.call_tool("slow_compute", {"seconds": 0, "label": "direct"})
        assert not isinstance(result, CreateTaskResult)
        assert "direct finished" in result.content[0].text  # type: ignore[union-attr]


async def test_a_legacy_task_augmented_call_to_a_server_without_legacy_tasks_gets_the_plain_result(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with fixture_client("legacy") as client:  # the fixture offers tasks on the 2026-07-28 wire only
        result = await client.call_tool("slow_compute", {"seconds": 2, "label": "old"}, task={"ttl": 60_000})
        assert not isinstance(result, LegacyCreateTaskResult)
        assert "old finished after 2" in result.content[0].text  # type: ignore[union-attr]

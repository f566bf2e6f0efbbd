"""JSON-RPC level behaviour of a stream connection: malformed input, limits, batches, duplicate ids."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from server_test_helpers import LEGACY, call, error_of, legacy_client, ping, result_of, settle

from mcp_trio.server.config import ServerConfig
from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient, open_client


def build_server(**config: Any) -> Server:
    server = Server("edges", config=ServerConfig(**config))

    @server.tool()
    def echo(text: str) -> str:
        return text

    @server.tool()
    async def wait(seconds: float) -> str:
        await trio.sleep(seconds)
        return f"waited {seconds}"

    return server


@pytest.mark.parametrize("garbage", [b"{not json", b'{"jsonrpc": "2.0", "id": 1', b"\xff\xfe", b"nul"])
async def test_unparseable_input_is_parse_error_with_null_id_and_the_connection_keeps_working(garbage: bytes) -> None:
    async with legacy_client(build_server()) as client:
        await client.send(garbage)
        response = await client.receive()
        assert response["id"] is None
        assert error_of(response)["code"] == -32700
        await ping(client)


@pytest.mark.parametrize(
    ("message", "expected_id"),
    [
        ({"jsonrpc": "1.0", "id": 5, "method": "ping"}, 5),
        ({"id": "abc", "method": "ping"}, "abc"),
        ({"jsonrpc": "2.0", "id": 6, "method": "ping", "result": {}}, 6),
        ({"jsonrpc": "2.0", "id": 7}, 7),
        ({"jsonrpc": "2.0", "id": 8, "method": 5}, 8),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "method": "ping", "id": True}, None),
        ("a string", None),
        (5, None),
        ({"jsonrpc": "2.0"}, None),
    ],
)
async def test_invalid_requests_are_32600_echoing_the_id_when_readable(message: Any, expected_id: Any) -> None:
    async with legacy_client(build_server()) as client:
        await client.send(message)
        response = await client.receive()
        assert response["id"] == expected_id
        assert error_of(response)["code"] == -32600
        await ping(client)


async def test_params_that_are_not_an_object_are_invalid_params() -> None:
    async with legacy_client(build_server()) as client:
        await client.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": [1, 2]})
        response = await client.receive()
    assert response["id"] == 3
    assert error_of(response)["code"] == -32602


async def test_oversized_message_is_32600_and_the_connection_keeps_working() -> None:
    async with legacy_client(build_server(max_message_size=200)) as client:
        big = call("echo", {"text": "x" * 300})
        await client.send({"jsonrpc": "2.0", "id": 50, "method": "tools/call", "params": big})
        response = await client.receive()
        assert response["id"] is None
        assert error_of(response)["code"] == -32600
        result = result_of(await client.request("tools/call", call("echo", {"text": "small"})))
    assert result == {"content": [{"type": "text", "text": "small"}]}


async def test_oversized_message_arriving_in_pieces_is_discarded_up_to_its_newline() -> None:
    async with legacy_client(build_server(max_message_size=200)) as client:
        await client.stream.send_all(b'{"jsonrpc":"2.0","id":9,"method":"ping","params":{"junk":"' + b"y" * 150)
        await settle()
        await client.stream.send_all(b"z" * 150)
        await settle()
        # The tail of the oversized line, then a good request in the same chunk.
        await client.stream.send_all(b'"}}\n{"jsonrpc":"2.0","id":10,"method":"ping"}\n')
        first = await client.receive()
        second = await client.receive()
    assert first["id"] is None
    assert error_of(first)["code"] == -32600
    assert second == {"jsonrpc": "2.0", "id": 10, "result": {}}


async def test_a_message_of_exactly_the_limit_is_accepted() -> None:
    async with legacy_client(build_server(max_message_size=200)) as client:
        message = {"jsonrpc": "2.0", "id": 11, "method": "ping", "params": {"pad": ""}}
        size = len(msgspec.json.encode(message))
        message["params"]["pad"] = "p" * (200 - size)
        assert len(msgspec.json.encode(message)) == 200
        await client.send(message)
        assert await client.receive() == {"jsonrpc": "2.0", "id": 11, "result": {}}


async def test_blank_lines_and_crlf_are_tolerated() -> None:
    async with legacy_client(build_server()) as client:
        await client.stream.send_all(b'\n\n  \r\n{"jsonrpc":"2.0","id":"x","method":"ping"}\r\n')
        assert await client.receive() == {"jsonrpc": "2.0", "id": "x", "result": {}}


async def test_batches_are_rejected_outside_2025_03_26() -> None:
    async with legacy_client(build_server(), version=LEGACY) as client:
        await client.send(
            [{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}]
        )
        response = await client.receive()
        assert response["id"] is None
        assert error_of(response)["code"] == -32600
        await ping(client)


async def test_batches_are_rejected_before_initialize() -> None:
    async with open_client(build_server()) as client:
        await client.send([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
        response = await client.receive()
    assert response["id"] is None
    assert error_of(response)["code"] == -32600


async def test_each_batch_member_is_answered_on_2025_03_26() -> None:
    async with legacy_client(build_server(), version="2025-03-26") as client:
        await client.send(
            [
                {"jsonrpc": "2.0", "id": "a", "method": "ping"},
                {"jsonrpc": "2.0", "id": "b", "method": "tools/call", "params": call("echo", {"text": "hi"})},
                {"jsonrpc": "2.0", "method": "notifications/unknown"},
                {"jsonrpc": "1.0", "id": "c", "method": "ping"},
                {"jsonrpc": "2.0", "id": "d", "method": "tools/call", "params": call("wait", {"seconds": 0})},
            ]
        )
        with trio.fail_after(5):
            responses = [await client.receive() for _ in range(4)]
    by_id = {r["id"]: r for r in responses}
    assert set(by_id) == {"a", "b", "c", "d"}
    assert by_id["a"]["result"] == {}
    assert by_id["b"]["result"] == {"content": [{"type": "text", "text": "hi"}]}
    assert by_id["c"]["error"]["code"] == -32600
    assert by_id["d"]["result"] == {"content": [{"type": "text", "text": "waited 0.0"}]}


async def test_an_empty_batch_is_invalid_request() -> None:
    async with legacy_client(build_server(), version="2025-03-26") as client:
        await client.send(b"[]")
        response = await client.receive()
    assert response["id"] is None
    assert error_of(response)["code"] == -32600


async def test_a_duplicate_in_flight_request_id_is_32600_and_the_first_still_completes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with legacy_client(build_server()) as client:
        await client.send({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": call("wait", {"seconds": 5})})
        await settle()
        await client.send({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": call("echo", {"text": "dup"})})
        duplicate = await client.receive()
        first = await client.receive()
        # Once answered, the id may be used again.
        await client.send({"jsonrpc": "2.0", "id": 77, "method": "ping"})
        again = await client.receive()
    assert duplicate["id"] == 77
    assert error_of(duplicate)["code"] == -32600
    assert first == {"jsonrpc": "2.0", "id": 77, "result": {"content": [{"type": "text", "text": "waited 5.0"}]}}
    assert again == {"jsonrpc": "2.0", "id": 77, "result": {}}
    assert trio.current_time() == pytest.approx(5.0)


async def test_integer_and_string_ids_are_distinct() -> None:
    async with legacy_client(build_server()) as client:
        await client.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        await client.send({"jsonrpc": "2.0", "id": "1", "method": "ping"})
        ids = [(await client.receive())["id"], (await client.receive())["id"]]
    assert ids == [1, "1"]


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "notifications/whatever"},
        {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"bad": 1}},
        {"jsonrpc": "2.0", "method": "tools/list"},  # a request method sent as a notification
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        {"jsonrpc": "2.0", "id": 999, "result": {}},  # an answer to nothing we asked
        {"jsonrpc": "2.0", "id": 998, "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "x"}},
    ],
)
async def test_unknown_notifications_and_stray_responses_get_no_answer(message: dict[str, Any]) -> None:
    async with legacy_client(build_server()) as client:
        await client.send(message)
        await client.send({"jsonrpc": "2.0", "id": "next", "method": "ping"})
        assert await client.receive() == {"jsonrpc": "2.0", "id": "next", "result": {}}


async def test_unknown_notifications_before_initialize_are_ignored() -> None:
    async with open_client(build_server()) as client:
        await client.notify("notifications/whatever", {"x": 1})
        await client.send({"jsonrpc": "2.0", "id": "next", "method": "ping"})
        assert await client.receive() == {"jsonrpc": "2.0", "id": "next", "result": {}}


async def test_the_server_never_writes_embedded_newlines() -> None:
    async with legacy_client(build_server()) as client:
        await client.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call("echo", {"text": "a\nb"})})
        line = b""
        while not line.endswith(b"\n"):
            line += await client.stream.receive_some(65536)
    assert line.count(b"\n") == 1
    assert msgspec.json.decode(line)["result"]["content"][0]["text"] == "a\nb"


async def test_raw_client_fixture_sanity() -> None:
    """The helpers this suite builds on: ids count up and responses are matched by id."""
    async with open_client(build_server()) as client:
        assert isinstance(client, RawClient)
        assert (await client.request("ping"))["id"] == 1
        assert (await client.request("ping"))["id"] == 2

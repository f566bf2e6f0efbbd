"""The modern, stateless wire (2026-07-28): per-request ``_meta``, discovery, MRTR and listen streams."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from server_test_helpers import ALL_CLIENT_CAPS, MODERN, call, error_of, modern, result_of, settle, text_of

from mcp_trio.conformance_fixture import build_fixture_server
from mcp_trio.protocol.types import ElicitRequest, ElicitRequestParams
from mcp_trio.server.config import ServerConfig
from mcp_trio.server.context import Context
from mcp_trio.server.server import Server
from mcp_trio.testing import RawClient, modern_meta, open_client

V = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
LOG = "io.modelcontextprotocol/logLevel"
SUB = "io.modelcontextprotocol/subscriptionId"
SERVER_INFO = {"name": "mcp-trio-conformance", "version": "1.0.0"}


async def test_server_discover_describes_the_server() -> None:
    async with open_client(build_fixture_server()) as client:
        result = result_of(await client.request("server/discover", modern()))
    # The fixture's task tools add the tasks extension; that extension is not this suite's subject.
    result["capabilities"].pop("extensions", None)
    assert result == {
        "_meta": {"io.modelcontextprotocol/serverInfo": SERVER_INFO},
        "resultType": "complete",
        "ttlMs": 60000,
        "cacheScope": "public",
        "supportedVersions": [MODERN],
        "capabilities": {
            "logging": {},
            "completions": {},
            "prompts": {"listChanged": True},
            "resources": {"subscribe": True, "listChanged": True},
            "tools": {"listChanged": True},
        },
        "instructions": "The fixture server of the official MCP conformance suite.",
    }


async def test_caching_hints_follow_the_server_config() -> None:
    server = Server("cfg", config=ServerConfig(cache_ttl_ms=5, cache_scope="private"))
    server.add_tool(lambda: "x", name="x")
    async with open_client(server) as client:
        discover = result_of(await client.request("server/discover", modern()))
        tools = result_of(await client.request("tools/list", modern()))
    for result in (discover, tools):
        assert (result["ttlMs"], result["cacheScope"]) == (5, "private")


@pytest.mark.parametrize(
    ("method", "params", "cacheable"),
    [
        ("tools/list", {}, True),
        ("resources/list", {}, True),
        ("resources/templates/list", {}, True),
        ("prompts/list", {}, True),
        ("resources/read", {"uri": "test://static-text"}, True),
        ("tools/call", {"name": "test_simple_text", "arguments": {}}, False),
        ("prompts/get", {"name": "test_simple_prompt"}, False),
        (
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                "argument": {"name": "arg1", "value": "p"},
            },
            False,
        ),
    ],
)
async def test_every_modern_result_has_result_type_and_cacheable_ones_have_hints(
    method: str, params: dict[str, Any], cacheable: bool
) -> None:
    async with open_client(build_fixture_server()) as client:
        result = result_of(await client.request(method, modern(params)))
    assert result["resultType"] == "complete"
    if cacheable:
        assert (result["ttlMs"], result["cacheScope"]) == (60000, "public")
    else:
        assert "ttlMs" not in result
        assert "cacheScope" not in result


async def test_every_page_of_a_modern_list_carries_caching_hints() -> None:
    server = Server("paged", config=ServerConfig(page_size=1))
    server.add_tool(lambda: "a", name="a")
    server.add_tool(lambda: "b", name="b")
    async with open_client(server) as client:
        first = result_of(await client.request("tools/list", modern()))
        second = result_of(await client.request("tools/list", modern({"cursor": first["nextCursor"]})))
    assert [t["name"] for t in first["tools"] + second["tools"]] == ["a", "b"]
    assert "nextCursor" not in second
    for page in (first, second):
        assert (page["resultType"], page["ttlMs"], page["cacheScope"]) == ("complete", 60000, "public")


async def test_modern_invalid_cursor_is_invalid_params() -> None:
    async with open_client(build_fixture_server()) as client:
        assert error_of(await client.request("tools/list", modern({"cursor": "%%%"})))["code"] == -32602


async def test_modern_tool_call_and_tool_error() -> None:
    async with open_client(build_fixture_server()) as client:
        ok = result_of(await client.request("tools/call", modern(call("test_simple_text", {}))))
        failed = result_of(await client.request("tools/call", modern(call("test_error_handling", {}))))
        unknown = await client.request("tools/call", modern(call("nope", {})))
    assert ok == {
        "resultType": "complete",
        "content": [{"type": "text", "text": "This is a simple text response for testing."}],
    }
    assert failed == {
        "resultType": "complete",
        "content": [{"type": "text", "text": "This tool intentionally returns an error for testing"}],
        "isError": True,
    }
    assert error_of(unknown)["code"] == -32602


async def test_modern_requests_keep_no_session_state_between_requests() -> None:
    """A modern client never initializes; each request stands alone, with its own capabilities."""
    async with open_client(build_fixture_server()) as client:
        with_sampling = await client.request(
            "tools/call", modern(call("test_missing_capability", {}), {"sampling": {}})
        )
        without = await client.request("tools/call", modern(call("test_missing_capability", {}), {}))
    assert text_of(result_of(with_sampling)) == "sampling capability present"
    assert error_of(without) == {
        "code": -32021,
        "message": "this tool needs the sampling capability",
        "data": {"requiredCapabilities": {"sampling": {}}},
    }


# ---------------------------------------------------------------------- resources


async def test_modern_resource_not_found_is_invalid_params_with_the_uri() -> None:
    async with open_client(build_fixture_server()) as client:
        response = await client.request("resources/read", modern({"uri": "test://nonexistent"}))
    assert response == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {
            "code": -32602,
            "message": "resource not found: test://nonexistent",
            "data": {"uri": "test://nonexistent"},
        },
    }


async def test_modern_template_read() -> None:
    async with open_client(build_fixture_server()) as client:
        result = result_of(await client.request("resources/read", modern({"uri": "test://template/7/data"})))
    assert result["contents"] == [
        {
            "uri": "test://template/7/data",
            "mimeType": "application/json",
            "text": '{"id":"7","templateTest":true,"data":"Data for ID: 7"}',
        }
    ]


# ---------------------------------------------------------------------- _meta validation


@pytest.mark.parametrize(
    ("meta", "code"),
    [
        ({V: MODERN}, -32602),  # no capabilities
        ({V: MODERN, CAPS: 5}, -32602),  # malformed capabilities
        ({V: MODERN, CAPS: {}, LOG: "loud"}, -32602),  # unknown log level
        ({V: MODERN, CAPS: {}, "io.modelcontextprotocol/clientInfo": {"name": 1}}, -32602),
    ],
)
async def test_malformed_modern_meta_is_invalid_params(meta: dict[str, Any], code: int) -> None:
    async with open_client(build_fixture_server()) as client:
        response = await client.request("tools/list", {"_meta": meta})
    assert response["id"] == 1
    assert error_of(response)["code"] == code


@pytest.mark.parametrize("version", ["2025-11-25", "2099-01-01"])
async def test_unsupported_modern_version_is_32022_with_supported_and_requested(version: str) -> None:
    async with open_client(build_fixture_server()) as client:
        response = await client.request("tools/list", {"_meta": {V: version, CAPS: {}}})
    error = error_of(response)
    assert error["code"] == -32022
    assert error["data"] == {"supported": [MODERN], "requested": version}


async def test_a_request_without_meta_on_a_fresh_connection_is_invalid_request() -> None:
    """Dual-era: without ``_meta`` naming a version the request is read as legacy, which needs initialize."""
    async with open_client(build_fixture_server()) as client:
        assert error_of(await client.request("tools/list"))["code"] == -32600


@pytest.mark.parametrize("params", [None, {}, {"_meta": {}}])
async def test_server_discover_without_meta_is_invalid_params(params: dict[str, Any] | None) -> None:
    async with open_client(build_fixture_server()) as client:
        assert error_of(await client.request("server/discover", params))["code"] == -32602


async def test_meta_with_capabilities_but_no_version_is_invalid_params() -> None:
    async with open_client(build_fixture_server()) as client:
        assert error_of(await client.request("tools/list", {"_meta": {CAPS: {}}}))["code"] == -32602


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("ping", {}),
        ("logging/setLevel", {"level": "debug"}),
        ("resources/subscribe", {"uri": "test://static-text"}),
        ("resources/unsubscribe", {"uri": "test://static-text"}),
        (
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}},
        ),
    ],
)
async def test_methods_removed_from_the_modern_wire_are_method_not_found(method: str, params: dict[str, Any]) -> None:
    async with open_client(build_fixture_server()) as client:
        response = await client.request(method, modern(params))
        # The connection did not become a legacy session either.
        after = await client.request("tools/list", modern())
    assert error_of(response)["code"] == -32601
    assert result_of(after)["resultType"] == "complete"


async def test_modern_requests_do_not_initialize_the_connection() -> None:
    async with open_client(build_fixture_server()) as client:
        result_of(await client.request("tools/list", modern()))
        assert error_of(await client.request("tools/list"))["code"] == -32600
        # ... and a legacy handshake still works afterwards.
        assert (await client.initialize())["protocolVersion"] == "2025-11-25"


# ---------------------------------------------------------------------- logging and progress


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({}, 0), ({LOG: "info"}, 3), ({LOG: "debug"}, 3), ({LOG: "warning"}, 0)],
)
async def test_modern_log_messages_follow_the_request_log_level(
    extra: dict[str, Any], expected: int, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_client(build_fixture_server()) as client:
        result = result_of(await client.request("tools/call", modern(call("test_tool_with_logging", {}), **extra)))
    assert result["resultType"] == "complete"
    assert len(client.notifications) == expected
    assert all(n["method"] == "notifications/message" for n in client.notifications)


async def test_modern_progress_needs_a_progress_token(autojump_clock: trio.testing.MockClock) -> None:
    async with open_client(build_fixture_server()) as client:
        result_of(await client.request("tools/call", modern(call("test_tool_with_progress", {}))))
        assert client.notifications == []
        result_of(await client.request("tools/call", modern(call("test_tool_with_progress", {}), progressToken="pt")))
    assert [n["params"]["progress"] for n in client.notifications] == [0, 50, 100]
    assert {n["params"]["progressToken"] for n in client.notifications} == {"pt"}


async def test_modern_request_can_be_cancelled(autojump_clock: trio.testing.MockClock) -> None:
    server = Server("cancel")
    cancelled = trio.Event()

    @server.tool()
    async def forever() -> str:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()
        return "never"  # pragma: no cover

    async with open_client(server) as client:
        await client.send({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": modern(call("forever"))})
        await settle()
        await client.notify("notifications/cancelled", {"requestId": 9})
        with trio.fail_after(5):
            await cancelled.wait()
        response = await client.request("tools/list", modern())
    assert response["id"] == 1
    assert client.notifications == []


# ---------------------------------------------------------------------- MRTR


def elicit(message: str = "Name?") -> ElicitRequest:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    return ElicitRequest(params=ElicitRequestParams(message=message, requested_schema=schema))


async def test_input_required_result_then_retry_completes() -> None:
    async with open_client(build_fixture_server()) as client:
        first = result_of(
            await client.request(
                "tools/call", modern(call("test_input_required_result_elicitation", {}), ALL_CLIENT_CAPS)
            )
        )
        assert first["resultType"] == "input_required"
        assert "ttlMs" not in first
        assert first["inputRequests"] == {
            "user_name": {
                "method": "elicitation/create",
                "params": {
                    "message": "What is your name?",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                },
            }
        }
        assert isinstance(first["requestState"], str)
        retry = modern(
            call("test_input_required_result_elicitation", {}),
            ALL_CLIENT_CAPS,
        )
        retry["requestState"] = first["requestState"]
        retry["inputResponses"] = {"user_name": {"action": "accept", "content": {"name": "Alice"}}}
        second = await client.request("tools/call", retry)
    assert second["id"] == 2
    assert result_of(second) == {"resultType": "complete", "content": [{"type": "text", "text": "Hello, Alice!"}]}


async def test_retry_with_responses_but_without_state_also_completes() -> None:
    async with open_client(build_fixture_server()) as client:
        params = modern(call("test_input_required_result_elicitation", {}), ALL_CLIENT_CAPS)
        params["inputResponses"] = {"user_name": {"action": "accept", "content": {"name": "Bo"}}}
        result = result_of(await client.request("tools/call", params))
    assert text_of(result) == "Hello, Bo!"


async def test_multi_round_input_carries_earlier_answers_in_the_sealed_state() -> None:
    name = "test_input_required_result_multi_round"
    async with open_client(build_fixture_server()) as client:
        first = result_of(await client.request("tools/call", modern(call(name, {}), ALL_CLIENT_CAPS)))
        assert list(first["inputRequests"]) == ["step1"]
        retry = modern(call(name, {}), ALL_CLIENT_CAPS)
        retry["requestState"] = first["requestState"]
        retry["inputResponses"] = {"step1": {"action": "accept", "content": {"name": "Alice"}}}
        second = result_of(await client.request("tools/call", retry))
        assert second["resultType"] == "input_required"
        assert list(second["inputRequests"]) == ["step2"]
        assert second["requestState"] != first["requestState"]
        final = modern(call(name, {}), ALL_CLIENT_CAPS)
        final["requestState"] = second["requestState"]
        final["inputResponses"] = {"step2": {"action": "accept", "content": {"color": "blue"}}}
        third = result_of(await client.request("tools/call", final))
    assert text_of(third) == "Alice likes blue."


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s + "x",
        lambda s: "A" + s[1:] if s[0] != "A" else "B" + s[1:],
        lambda s: s.split(".")[0],
        lambda s: "not-a-token",
        lambda s: "",
    ],
)
async def test_tampered_request_state_is_invalid_params(mangle: Any) -> None:
    name = "test_input_required_result_tampered_state"
    async with open_client(build_fixture_server()) as client:
        first = result_of(await client.request("tools/call", modern(call(name, {}), ALL_CLIENT_CAPS)))
        retry = modern(call(name, {}), ALL_CLIENT_CAPS)
        retry["requestState"] = mangle(first["requestState"])
        retry["inputResponses"] = {"confirm": {"action": "accept", "content": {"ok": True}}}
        response = await client.request("tools/call", retry)
    assert error_of(response)["code"] == -32602


async def test_request_state_is_bound_to_the_tool_that_issued_it() -> None:
    async with open_client(build_fixture_server()) as client:
        first = result_of(
            await client.request(
                "tools/call", modern(call("test_input_required_result_tampered_state", {}), ALL_CLIENT_CAPS)
            )
        )
        retry = modern(call("test_input_required_result_request_state", {}), ALL_CLIENT_CAPS)
        retry["requestState"] = first["requestState"]
        retry["inputResponses"] = {"confirm": {"action": "accept", "content": {"ok": True}}}
        response = await client.request("tools/call", retry)
    assert error_of(response)["code"] == -32602


async def test_request_state_from_another_server_key_is_rejected() -> None:
    name = "test_input_required_result_tampered_state"
    issuer = Server("a", request_state_key=b"k" * 32)
    verifier = Server("b", request_state_key=b"z" * 32)
    shared = Server("c", request_state_key=b"k" * 32)
    for server in (issuer, verifier, shared):

        async def tool(ctx: Context) -> str:
            await ctx.request_inputs({"confirm": elicit()})
            return "ok"

        server.add_tool(tool, name=name)
    async with open_client(issuer) as client:
        token = result_of(await client.request("tools/call", modern(call(name, {}), ALL_CLIENT_CAPS)))["requestState"]
    retry = modern(call(name, {}), ALL_CLIENT_CAPS)
    retry["requestState"] = token
    retry["inputResponses"] = {"confirm": {"action": "accept", "content": {"name": "x"}}}
    async with open_client(verifier) as client:
        assert error_of(await client.request("tools/call", retry))["code"] == -32602
    async with open_client(shared) as client:
        assert text_of(result_of(await client.request("tools/call", retry))) == "ok"


async def test_expired_request_state_is_invalid_params() -> None:
    server = Server("ttl", config=ServerConfig(request_state_ttl=-1.0))

    @server.tool()
    async def ask(ctx: Context) -> str:
        await ctx.request_inputs({"a": elicit()})
        await ctx.request_inputs({"b": elicit()})
        return "ok"

    async with open_client(server) as client:
        first = result_of(await client.request("tools/call", modern(call("ask", {}), ALL_CLIENT_CAPS)))
        retry = modern(call("ask", {}), ALL_CLIENT_CAPS)
        retry["requestState"] = first["requestState"]
        retry["inputResponses"] = {"a": {"action": "accept", "content": {"name": "x"}}}
        response = await client.request("tools/call", retry)
    assert error_of(response) == {"code": -32602, "message": "requestState expired"}


async def test_wrong_shaped_answer_is_asked_again_and_extra_keys_are_ignored() -> None:
    server = Server("shapes")

    @server.tool()
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("Name?", {"type": "object"}, key="who")
        return f"{answer.action}"

    async with open_client(server) as client:
        retry = modern(call("ask", {}), ALL_CLIENT_CAPS)
        retry["inputResponses"] = {"who": {"action": "sideways"}, "unasked": {"whatever": 1}}
        again = result_of(await client.request("tools/call", retry))
        assert again["resultType"] == "input_required"
        assert list(again["inputRequests"]) == ["who"]
        retry["inputResponses"] = {"who": {"action": "decline"}, "unasked": {"whatever": 1}}
        done = result_of(await client.request("tools/call", retry))
    assert done == {"resultType": "complete", "content": [{"type": "text", "text": "decline"}]}


async def test_several_inputs_in_one_round_only_missing_ones_are_asked_again() -> None:
    name = "test_input_required_result_multiple_inputs"
    async with open_client(build_fixture_server()) as client:
        first = result_of(await client.request("tools/call", modern(call(name, {}), ALL_CLIENT_CAPS)))
        assert set(first["inputRequests"]) == {"user_name", "greeting", "client_roots"}
        assert {k: v["method"] for k, v in first["inputRequests"].items()} == {
            "user_name": "elicitation/create",
            "greeting": "sampling/createMessage",
            "client_roots": "roots/list",
        }
        retry = modern(call(name, {}), ALL_CLIENT_CAPS)
        retry["requestState"] = first["requestState"]
        retry["inputResponses"] = {"user_name": {"action": "accept", "content": {"name": "Ann"}}}
        second = result_of(await client.request("tools/call", retry))
        assert set(second["inputRequests"]) == {"greeting", "client_roots"}
        retry = modern(call(name, {}), ALL_CLIENT_CAPS)
        retry["requestState"] = second["requestState"]
        retry["inputResponses"] = {
            "greeting": {"role": "assistant", "content": {"type": "text", "text": "Hi"}, "model": "m"},
            "client_roots": {"roots": []},
        }
        third = result_of(await client.request("tools/call", retry))
    assert text_of(third) == "Hi, Ann!"


async def test_mrtr_asks_only_for_declared_capabilities() -> None:
    name = "test_input_required_result_capabilities"
    async with open_client(build_fixture_server()) as client:
        none = result_of(await client.request("tools/call", modern(call(name, {}), {})))
        sampling_only = result_of(await client.request("tools/call", modern(call(name, {}), {"sampling": {}})))
    assert text_of(none).startswith("Nothing to ask")
    assert {k: v["method"] for k, v in sampling_only["inputRequests"].items()} == {"sample": "sampling/createMessage"}


async def test_mrtr_request_for_an_undeclared_capability_is_32021() -> None:
    async with open_client(build_fixture_server()) as client:
        response = await client.request("tools/call", modern(call("test_input_required_result_elicitation", {}), {}))
    error = error_of(response)
    assert error["code"] == -32021
    assert error["data"] == {"requiredCapabilities": {"elicitation": {}}}


async def test_request_state_carries_application_state() -> None:
    name = "test_input_required_result_request_state"
    async with open_client(build_fixture_server()) as client:
        first = result_of(await client.request("tools/call", modern(call(name, {}), ALL_CLIENT_CAPS)))
        retry = modern(call(name, {}), ALL_CLIENT_CAPS)
        retry["requestState"] = first["requestState"]
        retry["inputResponses"] = {"confirm": {"action": "accept", "content": {"ok": True}}}
        result = result_of(await client.request("tools/call", retry))
    assert text_of(result) == "Confirmed with state-ok"


async def test_mrtr_on_prompts_get() -> None:
    name = "test_input_required_result_prompt"
    async with open_client(build_fixture_server()) as client:
        first = result_of(await client.request("prompts/get", modern({"name": name}, ALL_CLIENT_CAPS)))
        assert list(first["inputRequests"]) == ["user_context"]
        retry = modern({"name": name}, ALL_CLIENT_CAPS)
        retry["requestState"] = first["requestState"]
        retry["inputResponses"] = {"user_context": {"action": "accept", "content": {"context": "tea"}}}
        result = result_of(await client.request("prompts/get", retry))
    assert result["resultType"] == "complete"
    assert result["messages"] == [
        {"role": "user", "content": {"type": "text", "text": "Use the following context: tea"}}
    ]


async def test_mrtr_on_resources_read() -> None:
    server = Server("res")

    async def read(ctx: Context) -> str:
        answer = await ctx.elicit("Which?", {"type": "object"}, key="which")
        return f"picked {answer.action}"

    server.add_resource(read, "test://ask", name="ask")
    async with open_client(server) as client:
        first = result_of(await client.request("resources/read", modern({"uri": "test://ask"}, ALL_CLIENT_CAPS)))
        assert first["resultType"] == "input_required"
        assert "ttlMs" not in first
        retry = modern({"uri": "test://ask"}, ALL_CLIENT_CAPS)
        retry["requestState"] = first["requestState"]
        retry["inputResponses"] = {"which": {"action": "cancel"}}
        result = result_of(await client.request("resources/read", retry))
    assert result == {
        "resultType": "complete",
        "ttlMs": 60000,
        "cacheScope": "public",
        "contents": [{"uri": "test://ask", "text": "picked cancel"}],
    }


# ---------------------------------------------------------------------- subscriptions/listen


async def start_listen(client: RawClient, request_id: Any, notifications: dict[str, Any]) -> dict[str, Any]:
    await client.send(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "subscriptions/listen",
            "params": {"notifications": notifications, "_meta": modern_meta()},
        }
    )
    with trio.fail_after(5):
        return await client.receive()


async def test_listen_acknowledges_first_with_the_honoured_filter() -> None:
    server = Server("partial")
    server.add_tool(lambda: "x", name="x")  # tools only: no prompts, no resources
    async with open_client(server) as client:
        ack = await start_listen(
            client, "L1", {"toolsListChanged": True, "promptsListChanged": True, "resourcesListChanged": True}
        )
    assert ack == {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {SUB: "L1"}, "notifications": {"toolsListChanged": True}},
    }


async def test_listen_delivers_requested_notifications_tagged_with_the_subscription_id() -> None:
    server = build_fixture_server()
    async with open_client(server) as client:
        ack = await start_listen(client, 5, {"toolsListChanged": True, "resourceSubscriptions": ["test://static-text"]})
        assert ack["params"]["notifications"] == {
            "toolsListChanged": True,
            "resourceSubscriptions": ["test://static-text"],
        }
        server.add_prompt(lambda: "p", name="unrequested")  # prompts were not asked for
        server.notify_resource_updated("test://watched-resource")  # nor was this uri
        server.add_tool(lambda: "x", name="dynamic")
        server.notify_resource_updated("test://static-text")
        with trio.fail_after(5):
            first = await client.receive()
            second = await client.receive()
    assert first == {
        "jsonrpc": "2.0",
        "method": "notifications/tools/list_changed",
        "params": {"_meta": {SUB: 5}},
    }
    assert second == {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"_meta": {SUB: 5}, "uri": "test://static-text"},
    }


async def test_listen_stream_ends_without_a_response_when_cancelled() -> None:
    server = build_fixture_server()
    async with open_client(server) as client:
        await start_listen(client, "L", {"toolsListChanged": True})
        assert len(server.hub) == 1
        await client.notify("notifications/cancelled", {"requestId": "L"})
        await settle()
        assert len(server.hub) == 0
        server.add_tool(lambda: "x", name="dynamic")
        await settle()
        response = await client.request("tools/list", modern())
    assert response["id"] == 1
    assert client.notifications == []


async def test_listen_ends_gracefully_with_a_complete_result_when_the_server_closes_streams() -> None:
    server = build_fixture_server()
    async with open_client(server) as client:
        await start_listen(client, "L", {"toolsListChanged": True})
        server.hub.close()
        with trio.fail_after(5):
            response = await client.receive()
    assert response == {"jsonrpc": "2.0", "id": "L", "result": {"_meta": {SUB: "L"}, "resultType": "complete"}}


async def test_several_listen_streams_on_one_connection_are_demultiplexed() -> None:
    server = build_fixture_server()
    async with open_client(server) as client:
        await start_listen(client, "tools", {"toolsListChanged": True})
        await start_listen(client, "prompts", {"promptsListChanged": True})
        server.add_tool(lambda: "x", name="dynamic")
        server.add_prompt(lambda: "p", name="dynamic")
        with trio.fail_after(5):
            got = {(await client.receive())["method"], (await client.receive())["method"]}
        assert got == {"notifications/tools/list_changed", "notifications/prompts/list_changed"}


async def test_listen_without_modern_meta_is_rejected() -> None:
    async with open_client(build_fixture_server()) as client:
        response = await client.request("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    assert response["id"] == 1
    assert "error" in response

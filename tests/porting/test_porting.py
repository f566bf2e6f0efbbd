"""Servers written for the official SDK's ``MCPServer``, ported by changing their imports, behave the same.

Each server in ``servers/`` runs twice as a stdio subprocess, once on the official SDK and once on mcp-trio,
and ``porting_client.py`` drives the same scenario against both. The messages each sent are normalised by the rules
below (the same rules for both sides; each one is a deliberate difference listed in ``docs/porting.md``) and
must then be identical, step by step. The few steps where the two answer differently on purpose are checked
against what each side must send, so a change on either side fails the test too.
"""

from __future__ import annotations

import copy
import difflib
import json
from typing import Any

import pytest
import trio
from porting_client import SCENARIOS, Transcript, run

#: Words both sides' error text must contain, for every step that fails (the wording itself differs: the SDK's
#: is pydantic's and ``Error executing tool <name>: ...``). A failing step not listed here fails the test.
ERROR_WORDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("weather", "ToolError"): ("no station in Paris, FR",),
    ("weather", "crash"): ("calibrate",),
    ("weather", "invalid: above le"): ("forecast", "days"),
    ("weather", "invalid: missing"): ("forecast", "city"),
    ("weather", "invalid: wrong type"): ("summary", "metric"),
    ("weather", "invalid: model field"): ("get_weather", "location", "country"),
    ("weather", "unknown tool"): ("tornado",),
    ("notes", "read: template, bad int"): ("notes://two/text",),
    ("notes", "read: unknown"): ("notes://nowhere",),
    ("recipes", "prompt: missing argument"): ("dish",),
    ("recipes", "prompt: unknown"): ("dessert",),
    ("booking", "elicit: accept, invalid answer"): ("book_table",),
}

#: Steps answered differently on purpose: (what the SDK sends, what we send), as an error code or "isError".
DIFFERENT: dict[tuple[str, str], tuple[int | str, int | str]] = {
    ("weather", "unknown tool"): ("isError", -32602),  # the specification's protocol error for an unknown tool
    ("notes", "read: template, bad int"): (-32603, -32602),  # the client's URI is wrong: invalid params
    ("notes", "read: unknown"): (-32602, -32002),  # 2025-11-25's "resource not found" (-32602 is 2026-07-28's)
    ("recipes", "prompt: missing argument"): (0, -32602),  # the SDK's code 0 is no JSON-RPC error code
    ("recipes", "prompt: unknown"): (0, -32602),
}

_LOG_RANK = {"debug": 0, "info": 1, "notice": 2, "warning": 3, "error": 4, "critical": 5, "alert": 6, "emergency": 7}
_WRAPPED_STRING = {"type": "object", "properties": {"result": {"type": "string"}}, "required": ["result"]}


def default_title(field: str) -> str:
    """The ``title`` pydantic gives a field it was not given one for."""
    return field.title().replace("_", " ")


def schema(node: Any, defs: dict[str, Any] | None = None) -> Any:
    """Rules 1 and 2: local ``$ref``s inlined (the SDK keeps models in ``$defs``), and the titles pydantic makes up
    dropped: an object schema's (the class or ``<function>Arguments``/``Output``) and a property's own name."""
    if isinstance(node, list):
        return [schema(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    defs = {**(defs or {}), **node.get("$defs", {})}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        node = {**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}}
    out = {key: schema(value, defs) for key, value in node.items() if key != "$defs"}
    if out.get("type") == "object":
        out.pop("title", None)
        for name, field in out.get("properties", {}).items():
            if isinstance(field, dict) and field.get("title") == default_title(name):
                del field["title"]
    return out


def result(body: dict[str, Any]) -> dict[str, Any]:
    """Rules 3, 7 and 8 on a ``tools/call`` result."""
    body = dict(body)
    if body.get("isError") is False:
        del body["isError"]  # rule 3: false is the default
    structured = body.get("structuredContent")
    texts = [block.get("text") for block in body.get("content", [])]
    if len(texts) == 1 and structured == {"result": texts[0]}:
        del body["structuredContent"]  # rule 8: the SDK's {"result": text} for a str return
    elif structured is not None:
        body["content"] = "<the JSON of structuredContent>"  # rule 7: each side's text rendering of the data
    return body


def normalise(server: str, step: str, messages: list[dict[str, Any]], side: str) -> list[dict[str, Any]]:
    """Apply the rules of ``docs/porting.md`` to what one side sent during one step (a deep copy)."""
    out = []
    for message in copy.deepcopy(messages):
        method, body = message.get("method"), message.get("result")
        if method == "notifications/message" and _LOG_RANK[message["params"]["level"]] < _LOG_RANK["info"]:
            continue  # rule 6: below info only after logging/setLevel asks for it
        if method == "elicitation/create":
            message["id"] = "<server request>"
            if message["params"].get("mode") == "form":
                del message["params"]["mode"]  # rule 5: an absent mode is form mode
            message["params"]["requestedSchema"] = schema(message["params"]["requestedSchema"])
        if "error" in message or (isinstance(body, dict) and body.get("isError")):
            text = message["error"]["message"] if "error" in message else body["content"][0]["text"]  # type: ignore[index]
            words = ERROR_WORDS.get((server, step))
            assert words is not None, f"{server}/{step} failed on {side}: {message}"
            for word in words:
                assert word in text, f"{server}/{step} on {side}: {word!r} not in {text!r}"
            if "error" in message:
                message["error"]["message"] = "<error text>"
            else:
                body["content"][0]["text"] = "<error text>"  # type: ignore[index]
        if isinstance(body, dict):
            if step == "initialize":
                del body["capabilities"]  # rule 9: we declare what is offered; the SDK declares everything
                del body["serverInfo"]["version"]  # rule 9: "0.0.0" by default, the SDK's is ""
            for tool in body.get("tools", []):
                tool["inputSchema"] = schema(tool["inputSchema"])
                if "outputSchema" in tool:
                    tool["outputSchema"] = schema(tool["outputSchema"])
                    if tool["outputSchema"] == _WRAPPED_STRING:
                        del tool["outputSchema"]  # rule 8
            if "content" in body:
                message["result"] = body = result(body)
            for listing in ("resources", "resourceTemplates", "contents"):
                for item in body.get(listing, []):
                    if item.get("mimeType") == "text/plain":
                        del item["mimeType"]  # rule 4: the SDK's implicit text/plain
        out.append(message)
    return out


def check_ours_renders_structured_content(transcript: Transcript) -> None:
    """Rule 7's other half: our text block of a structured result is exactly the JSON of structuredContent."""
    for messages in transcript.values():
        for message in messages:
            body = message.get("result")
            if isinstance(body, dict) and "structuredContent" in body:
                (block,) = body["content"]
                assert json.loads(block["text"]) == body["structuredContent"], message


def check_different(server: str, step: str, sdk: list[dict[str, Any]], ours: list[dict[str, Any]]) -> None:
    for side, messages, expected in (
        ("sdk", sdk, DIFFERENT[server, step][0]),
        ("trio", ours, DIFFERENT[server, step][1]),
    ):
        (answer,) = messages
        if expected == "isError":
            assert answer["result"]["isError"] is True, (side, answer)
        else:
            assert answer["error"]["code"] == expected, (side, answer)


@pytest.mark.slow
@pytest.mark.parametrize("server", sorted(SCENARIOS))
async def test_a_ported_server_behaves_as_on_the_sdk(server: str) -> None:
    runs: dict[str, Any] = {}

    async def one(target: str) -> None:
        runs[target] = await run(server, target)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, "sdk")
            nursery.start_soon(one, "trio")
    (sdk, sdk_progress), (ours, our_progress) = runs["sdk"], runs["trio"]
    assert list(sdk) == list(ours)
    check_ours_renders_structured_content(ours)
    assert our_progress == sdk_progress
    for step in sdk:
        if (server, step) in DIFFERENT:
            check_different(server, step, sdk[step], ours[step])
            continue
        expected = normalise(server, step, sdk[step], "sdk")
        got = normalise(server, step, ours[step], "trio")
        assert got == expected, f"{server}: {step} (- sdk, + mcp-trio)\n" + "\n".join(
            difflib.unified_diff(_lines(expected), _lines(got), lineterm="", n=2)
        )


def _lines(messages: list[dict[str, Any]]) -> list[str]:
    return json.dumps(messages, indent=1, sort_keys=True).splitlines()


def test_the_rules_leave_a_real_difference_visible() -> None:
    """The normalisation is not so loose that it hides a changed value, a lost field or a different code."""
    answer = {"jsonrpc": "2.0", "id": 3, "result": {"content": [{"type": "text", "text": "x"}], "isError": False}}
    changed = copy.deepcopy(answer)
    changed["result"]["content"][0]["text"] = "y"
    assert normalise("weather", "str out", [answer], "sdk") != normalise("weather", "str out", [changed], "trio")
    tool = {"name": "t", "inputSchema": {"type": "object", "properties": {"a": {"type": "integer", "title": "A"}}}}
    loose = copy.deepcopy(tool)
    loose["inputSchema"]["properties"]["a"] = {"type": "number"}
    listing = [{"jsonrpc": "2.0", "id": 2, "result": {"tools": [tool]}}]
    other = [{"jsonrpc": "2.0", "id": 2, "result": {"tools": [loose]}}]
    assert normalise("weather", "tools/list", listing, "sdk") != normalise("weather", "tools/list", other, "trio")
    titled = copy.deepcopy(tool)
    titled["inputSchema"]["properties"]["a"]["title"] = "Amount"  # a title the author gave is kept
    kept = normalise("weather", "tools/list", [{"jsonrpc": "2.0", "id": 2, "result": {"tools": [titled]}}], "trio")
    assert kept[0]["result"]["tools"][0]["inputSchema"]["properties"]["a"]["title"] == "Amount"
    refused = [{"jsonrpc": "2.0", "id": 4, "error": {"code": -32602, "message": "unknown prompt: dessert"}}]
    crashed = [{"jsonrpc": "2.0", "id": 4, "error": {"code": -32603, "message": "Unknown prompt: dessert"}}]
    step = ("recipes", "prompt: unknown")
    assert normalise(*step, refused, "sdk") != normalise(*step, crashed, "trio")
    with pytest.raises(AssertionError, match="'dessert' not in"):
        normalise(*step, [{"jsonrpc": "2.0", "id": 4, "error": {"code": -32602, "message": "no such prompt"}}], "x")

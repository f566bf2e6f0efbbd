"""A minimal stdio MCP server with an ``echo`` tool, used by ``make serve`` until the framework lands.

It speaks just enough of the legacy wire (``initialize``, ``ping``, ``tools/list``, ``tools/call``) to be
useful from an MCP client, answers every malformed line with the right JSON-RPC error, and exits on EOF.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import trio

PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
ECHO_TOOL = {
    "name": "echo",
    "description": "Echo the given text back.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}

_encoder = msgspec.json.Encoder()


def _error(id_: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def handle_line(line: bytes) -> dict[str, Any] | None:
    """Return the response to one JSON-RPC line, or ``None`` for a notification."""
    try:
        msg = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return _error(None, -32700, "parse error")
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0" or "method" not in msg:
        return _error(msg.get("id") if isinstance(msg, dict) else None, -32600, "invalid request")
    if "id" not in msg:
        return None
    id_, method, params = msg["id"], msg["method"], msg.get("params") or {}
    if method == "initialize":
        requested = params.get("protocolVersion")
        version = requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "mcp-trio-demo", "version": "0.1.0"},
        }
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": [ECHO_TOOL]}
    elif method == "tools/call":
        if params.get("name") != "echo":
            return _error(id_, -32602, f"unknown tool: {params.get('name')!r}")
        text = (params.get("arguments") or {}).get("text")
        if not isinstance(text, str):
            result = {
                "content": [{"type": "text", "text": "text must be a string"}],
                "isError": True,
            }
        else:
            result = {"content": [{"type": "text", "text": text}]}
    else:
        return _error(id_, -32601, f"method not found: {method}")
    return {"jsonrpc": "2.0", "id": id_, "result": result}


async def serve_stdio() -> None:
    """Serve newline-delimited JSON-RPC on stdin/stdout until EOF."""
    stdin = trio.lowlevel.FdStream(sys.stdin.fileno())
    stdout = trio.lowlevel.FdStream(sys.stdout.fileno())
    buffer = bytearray()
    while True:
        chunk = await stdin.receive_some(65536)
        if not chunk:
            return
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end]).strip()
            del buffer[: end + 1]
            if line and (response := handle_line(line)) is not None:
                await stdout.send_all(_encoder.encode(response) + b"\n")

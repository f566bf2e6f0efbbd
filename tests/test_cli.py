"""The ``mcp-trio`` command as a user runs it: a real subprocess over stdio."""

from __future__ import annotations

import subprocess
import sys

import msgspec


def _run_serve(lines: list[bytes]) -> list[dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "mcp_trio", "serve", "--stdio"],
        input=b"".join(line + b"\n" for line in lines),
        capture_output=True,
        timeout=60,
        check=True,
    )
    return [msgspec.json.decode(line) for line in proc.stdout.splitlines()]


def test_serve_answers_echo_over_stdio_and_exits_on_eof() -> None:
    responses = _run_serve(
        [
            b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
            b'"capabilities":{},"clientInfo":{"name":"t","version":"0"}}}',
            b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
            b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}',
        ]
    )
    assert [r["id"] for r in responses] == [1, 2]
    assert responses[0]["result"]["protocolVersion"] == "2025-11-25"  # type: ignore[index]
    assert responses[1]["result"] == {"content": [{"type": "text", "text": "hi"}]}


def test_serve_answers_garbage_with_parse_error() -> None:
    (response,) = _run_serve([b"{not json"])
    assert response["error"]["code"] == -32700  # type: ignore[index]
    assert response["id"] is None


def test_version_flag_prints_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mcp_trio", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("mcp-trio ")

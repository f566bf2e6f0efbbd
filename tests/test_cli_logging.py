"""Logs under ``mcp-trio serve``: on stderr only (stdout carries MCP messages under --stdio), as JSON lines with
``--log-format json``, and a failing handler's record names its connection and request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FAILING_SERVER = """
from mcp_trio import Server

server = Server("failing")


@server.tool(blocking=False)
def explode() -> str:
    raise RuntimeError("boom")
"""

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def test_json_logs_stay_on_stderr_and_name_the_failing_request(tmp_path: Path) -> None:
    (tmp_path / "failing_server.py").write_text(FAILING_SERVER)
    messages = [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "explode"}},
    ]
    done = subprocess.run(
        [sys.executable, "-m", "mcp_trio", "serve", "failing_server:server", "--stdio", "--log-format", "json"],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]  # stdout: only JSON-RPC messages
    assert [answer.get("id") for answer in answers] == [1, 2]
    assert answers[1]["result"]["isError"] is True  # a tool's failure is a result, and it is logged
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    failure = next(record for record in records if record["message"].startswith("tool explode raised"))
    assert failure["level"] == "error"
    assert "connection" in failure["message"]
    assert "request 2" in failure["message"]
    assert "RuntimeError: boom" in failure["traceback"]
    # Besides the records, stderr holds only the "mcp-trio: ..." announcements that scripts wait for.
    assert all(line.startswith(("{", "mcp-trio: ")) for line in done.stderr.splitlines() if line.strip())

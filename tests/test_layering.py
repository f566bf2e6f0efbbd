"""Imports point one way; these tests keep the layers honest."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_protocol_core_does_not_import_trio() -> None:
    loaded = _modules_after_import("mcp_trio.protocol")
    assert "mcp_trio.protocol" in loaded
    assert "trio" not in loaded


@pytest.mark.parametrize("forbidden", ["mcp_trio"])
def test_supervision_does_not_import_mcp_trio(forbidden: str) -> None:
    loaded = _modules_after_import("supervision")
    assert "supervision" in loaded
    assert forbidden not in loaded

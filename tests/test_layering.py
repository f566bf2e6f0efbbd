"""Imports point one way (``docs/design.md``); these tests keep every arrow of the layer diagram honest.

Every import statement of every module is checked, including imports inside functions and under
``TYPE_CHECKING``: a layer that needs a higher one only for a type still depends on it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Each layer and the layers it may import (besides itself and third-party packages).
LAYERS: dict[str, set[str]] = {
    "supervision": set(),
    "mcp_trio.protocol": set(),
    "mcp_trio.transports": {"mcp_trio.protocol"},
    "mcp_trio.runtime": {"mcp_trio.protocol", "mcp_trio.transports", "supervision"},
    "mcp_trio.server": {"mcp_trio.protocol", "mcp_trio.transports", "mcp_trio.runtime", "supervision"},
    # Watching a runtime: its counters, GC pauses, memory; served over the project's own HTTP connection.
    "mcp_trio.observability": {"mcp_trio.protocol", "mcp_trio.transports", "mcp_trio.runtime", "supervision"},
    # The client rides the same framings as the server (transports); never the server or the runtime.
    "mcp_trio.client": {"mcp_trio.protocol", "mcp_trio.transports", "supervision"},
    # The top: the command line, the demo and fixture servers, the testing helpers, the package's re-exports.
    "mcp_trio.top": {
        "mcp_trio.protocol",
        "mcp_trio.transports",
        "mcp_trio.runtime",
        "mcp_trio.server",
        "mcp_trio.client",
        "mcp_trio.observability",
        "supervision",
    },
}
#: Third-party packages a layer must not touch at all.
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    "mcp_trio.protocol": {"trio", "h11", "wsproto", "trio_websocket"},
    "supervision": {"h11", "msgspec"},
}


def _layer_of(module: str) -> str:
    if module == "supervision" or module.startswith("supervision."):
        return "supervision"
    for layer in (
        "mcp_trio.protocol",
        "mcp_trio.transports",
        "mcp_trio.runtime",
        "mcp_trio.server",
        "mcp_trio.client",
        "mcp_trio.observability",
    ):
        if module == layer or module.startswith(layer + "."):
            return layer
    return "mcp_trio.top"


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("mcp_trio", "supervision"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append((".".join(parts), path))
    return found


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, absolute, with its line."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
    return out


MODULES = _modules()


def test_the_layer_table_covers_every_package() -> None:
    assert {_layer_of(module) for module, _ in MODULES} == set(LAYERS)


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[module for module, _ in MODULES])
def test_imports_point_down_the_layers(module: str, path: Path) -> None:
    layer = _layer_of(module)
    allowed = LAYERS[layer] | {layer}
    forbidden_third_party = FORBIDDEN_THIRD_PARTY.get(layer, set())
    wrong = []
    for line, target in _imports(module, path):
        top = target.split(".")[0]
        if top in ("mcp_trio", "supervision"):
            if target == "mcp_trio":
                if layer != "mcp_trio.top":
                    wrong.append(f"line {line}: {target} (the package's re-exports sit at the top)")
                continue
            if _layer_of(target) not in allowed:
                wrong.append(f"line {line}: {target} ({_layer_of(target)} is not below {layer})")
        elif top in forbidden_third_party:
            wrong.append(f"line {line}: {target} ({layer} must not use {top})")
    assert not wrong, f"{module} imports against the layering:\n" + "\n".join(wrong)


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_protocol_core_does_not_import_trio_at_run_time() -> None:
    loaded = _modules_after_import("mcp_trio.protocol")
    assert "mcp_trio.protocol" in loaded
    assert "trio" not in loaded


def test_supervision_does_not_import_mcp_trio_at_run_time() -> None:
    loaded = _modules_after_import("supervision")
    assert "supervision" in loaded
    assert not {name for name in loaded if name == "mcp_trio" or name.startswith("mcp_trio.")}


def test_transports_do_not_load_the_server_at_run_time() -> None:
    loaded = _modules_after_import("mcp_trio.transports.http")
    assert not {name for name in loaded if name.startswith(("mcp_trio.server", "mcp_trio.runtime"))}

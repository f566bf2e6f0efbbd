"""The MCP server: registration API, dispatch and per-request context."""

from __future__ import annotations

__all__: list[str] = []

"""The MCP client."""

from __future__ import annotations

__all__: list[str] = []

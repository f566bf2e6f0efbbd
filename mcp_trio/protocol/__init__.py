"""Sans-IO MCP: framing, JSON-RPC envelope, MCP types and session state machines.

Nothing in this package performs I/O, imports trio or reads a clock; time is passed in.
"""

from __future__ import annotations

__all__: list[str] = []

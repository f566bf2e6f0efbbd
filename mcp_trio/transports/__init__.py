"""Trio I/O adapters: stdio, TCP/Unix sockets, WebSocket and Streamable HTTP."""

from __future__ import annotations

__all__: list[str] = []

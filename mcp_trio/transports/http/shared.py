"""What the HTTP transport needs from a server: a small structural interface, never the ``Server`` class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.profile import ServerProfile
from mcp_trio.protocol.session import ServerSession
from mcp_trio.server.hub import NotificationHub

__all__ = ["McpServer", "Dispatching", "ToolEntry"]


class Dispatching(Protocol):
    def dispatch(self, session: ServerSession, peer: Any, event: RequestReceived) -> Any:
        """The result, or a coroutine producing it; raises ``McpError`` for protocol errors."""


class _ToolDescription(Protocol):
    @property
    def input_schema(self) -> dict[str, Any]: ...


class ToolEntry(Protocol):
    @property
    def tool(self) -> _ToolDescription: ...


class McpServer(Protocol):
    """The parts of ``mcp_trio.server.server.Server`` the transport drives."""

    @property
    def profile(self) -> ServerProfile: ...

    @property
    def dispatcher(self) -> Dispatching: ...

    @property
    def hub(self) -> NotificationHub: ...

    @property
    def tools(self) -> Mapping[str, ToolEntry]: ...

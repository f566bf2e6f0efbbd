"""mcp-trio: a Model Context Protocol server and client framework on Trio.

The public API is re-exported here and pinned by ``tests/test_public_api.py``. Wire types live in
``mcp_trio.protocol.types``; the sans-IO protocol core in ``mcp_trio.protocol``.

Re-exports are resolved lazily (PEP 562) so that ``import mcp_trio.protocol`` stays free of trio: the
protocol core is sans-IO and usable on its own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Server": "mcp_trio.server.server",
    "ServerConfig": "mcp_trio.server.config",
    "Context": "mcp_trio.server.context",
    "ToolError": "mcp_trio.server.tools",
    "McpError": "mcp_trio.protocol.errors",
    "InvalidParams": "mcp_trio.protocol.errors",
    "InvalidRequest": "mcp_trio.protocol.errors",
    "MethodNotFound": "mcp_trio.protocol.errors",
    "MissingClientCapability": "mcp_trio.protocol.errors",
    "ResourceNotFound": "mcp_trio.protocol.errors",
    "RemoteError": "mcp_trio.protocol.errors",
    "ServerBusy": "mcp_trio.protocol.errors",
    "BreakerSettings": "mcp_trio.server.config",
    "CircuitBreaker": "mcp_trio.runtime.breaker",
    "CircuitOpen": "mcp_trio.runtime.breaker",
    "open_client": "mcp_trio.client.connect",
    "Client": "mcp_trio.client.client",
    "ClientConfig": "mcp_trio.client.config",
    "ConnectionClosed": "mcp_trio.client.driver",
    "RequestTimeout": "mcp_trio.client.driver",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from mcp_trio.client.client import Client as Client
    from mcp_trio.client.config import ClientConfig as ClientConfig
    from mcp_trio.client.connect import open_client as open_client
    from mcp_trio.client.driver import ConnectionClosed as ConnectionClosed
    from mcp_trio.client.driver import RequestTimeout as RequestTimeout
    from mcp_trio.protocol.errors import InvalidParams as InvalidParams
    from mcp_trio.protocol.errors import InvalidRequest as InvalidRequest
    from mcp_trio.protocol.errors import McpError as McpError
    from mcp_trio.protocol.errors import MethodNotFound as MethodNotFound
    from mcp_trio.protocol.errors import MissingClientCapability as MissingClientCapability
    from mcp_trio.protocol.errors import RemoteError as RemoteError
    from mcp_trio.protocol.errors import ResourceNotFound as ResourceNotFound
    from mcp_trio.protocol.errors import ServerBusy as ServerBusy
    from mcp_trio.runtime.breaker import CircuitBreaker as CircuitBreaker
    from mcp_trio.runtime.breaker import CircuitOpen as CircuitOpen
    from mcp_trio.server.config import BreakerSettings as BreakerSettings
    from mcp_trio.server.config import ServerConfig as ServerConfig
    from mcp_trio.server.context import Context as Context
    from mcp_trio.server.server import Server as Server
    from mcp_trio.server.tools import ToolError as ToolError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mcp_trio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

"""The MCP client: ``open_client(target)`` for every transport and both wire eras (see ``docs/client.md``)."""

from mcp_trio.client.auth import (
    AuthError,
    AuthorizationCode,
    ClientCredentials,
    ClientMetadata,
    ClientRegistration,
    OAuthClient,
    Tokens,
    TokenStorage,
)
from mcp_trio.client.client import Client
from mcp_trio.client.config import ClientConfig
from mcp_trio.client.connect import open_client
from mcp_trio.client.driver import ConnectionClosed, RequestTimeout, apply_schema_defaults
from mcp_trio.client.http import HttpConnectionError

__all__ = [
    "Client",
    "ClientConfig",
    "ConnectionClosed",
    "RequestTimeout",
    "HttpConnectionError",
    "apply_schema_defaults",
    "open_client",
    "OAuthClient",
    "AuthorizationCode",
    "ClientCredentials",
    "ClientMetadata",
    "ClientRegistration",
    "TokenStorage",
    "Tokens",
    "AuthError",
]

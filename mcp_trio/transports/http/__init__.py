"""Streamable HTTP transport on h11 over Trio, serving both MCP wire eras on one endpoint.

* ``HttpEndpoint``: one served MCP endpoint (the runtime's ``HttpListener`` makes one and feeds it
  connections; ``Server.serve_http`` is the entry point).
* ``HttpConfig``: every limit, with units.
* ``EventStore`` / ``InMemoryEventStore``: where legacy SSE events wait for a resume.
* ``SessionStore`` / ``InMemorySessionStore`` / ``DirectorySessionStore``: where legacy sessions' negotiated
  state is kept so another process can adopt them.
* ``AuthSettings``, ``TokenVerifier``, ``StaticTokenVerifier``, ``AccessToken``: OAuth resource-server auth.

Module map: ``connection`` (one HTTP/1.1 connection), ``request_head`` (the strict plain-request fast path; h11
reads every other request), ``response_head`` (response serialisation), ``idle`` (open connections and the
keep-alive reaper), ``endpoint`` (routing and checks), ``modern``
(stateless 2026-07-28), ``legacy`` and ``sessions`` (2025-x sessions, resumable streams), ``sse`` (response
streams), ``event_store``, ``session_store``, ``headers`` (negotiation, SEP-2243 routing headers), ``security``
(Host/Origin), ``auth``, ``config``.
"""

from __future__ import annotations

from mcp_trio.transports.http.auth import AccessToken as AccessToken
from mcp_trio.transports.http.auth import AuthSettings as AuthSettings
from mcp_trio.transports.http.auth import StaticTokenVerifier as StaticTokenVerifier
from mcp_trio.transports.http.auth import TokenVerifier as TokenVerifier
from mcp_trio.transports.http.config import HttpConfig as HttpConfig
from mcp_trio.transports.http.endpoint import HttpEndpoint as HttpEndpoint
from mcp_trio.transports.http.event_store import EventStore as EventStore
from mcp_trio.transports.http.event_store import InMemoryEventStore as InMemoryEventStore
from mcp_trio.transports.http.session_store import DirectorySessionStore as DirectorySessionStore
from mcp_trio.transports.http.session_store import InMemorySessionStore as InMemorySessionStore
from mcp_trio.transports.http.session_store import SessionStore as SessionStore

__all__ = [
    "HttpEndpoint",
    "HttpConfig",
    "EventStore",
    "InMemoryEventStore",
    "SessionStore",
    "InMemorySessionStore",
    "DirectorySessionStore",
    "AuthSettings",
    "TokenVerifier",
    "StaticTokenVerifier",
    "AccessToken",
]

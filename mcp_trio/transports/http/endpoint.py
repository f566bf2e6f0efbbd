"""Routing one HTTP request: path, method, DNS-rebinding checks, authentication, negotiation, then era.

The checks run cheapest and most fundamental first, before the body is read: unknown path (404), a ``Host`` that
is not ours (421) or a foreign ``Origin`` (403), authentication (401/403), method (405 + ``Allow``), media types
(415, 406), size (413). Only then is the body read and decoded (-32700 / -32600 with HTTP 400), and the message
goes to the modern or the legacy handler:

* modern when ``MCP-Protocol-Version`` names a 2026-07-28+ version, or names nothing we know (or is absent) while
  the body's ``_meta`` names a protocol version, or when legacy sessions are disabled;
* legacy otherwise (``initialize`` mints a session; everything else needs ``Mcp-Session-Id``).

GET and DELETE exist only on the legacy wire: for a modern client (or a modern-only endpoint) they are 405.
"""

from __future__ import annotations

from typing import Final

import trio

from mcp_trio.protocol.errors import InvalidRequest, McpError, MessageTooLarge, ServerBusy
from mcp_trio.protocol.jsonrpc import Notification, Request, decode_message, encode_message, error_response
from mcp_trio.transports.hangups import HangupWatch
from mcp_trio.transports.http.auth import WELL_KNOWN_PREFIX, AuthFailure, authenticate, metadata_document
from mcp_trio.transports.http.config import HttpConfig
from mcp_trio.transports.http.connection import HttpConnection, HttpRequest
from mcp_trio.transports.http.event_store import EventStore, InMemoryEventStore
from mcp_trio.transports.http.forward import owner_socket, relay
from mcp_trio.transports.http.headers import MCP_PROTOCOL_VERSION, MCP_SESSION_ID, accepts, media_type, retry_after
from mcp_trio.transports.http.idle import OpenConnections
from mcp_trio.transports.http.legacy import LegacyEndpoint
from mcp_trio.transports.http.modern import handle_modern_post, loose_params, meta_version
from mcp_trio.transports.http.response_head import response_head
from mcp_trio.transports.http.security import OriginPolicy, host_with_port
from mcp_trio.transports.lean_socket import LeanSocketStream
from mcp_trio.transports.port import Place, SessionHost, SessionTable

__all__ = ["HttpEndpoint"]

_JSON: Final = "application/json"
_JSON_TYPE: Final = ("content-type", _JSON)
_SSE: Final = "text/event-stream"
_ALLOW_LEGACY: Final = "GET, POST, DELETE"
_ALLOW_MODERN: Final = "POST"


class HttpEndpoint:
    """Everything one served MCP endpoint shares across its connections.

    Args:
        host: the MCP server to drive.
        config: transport limits.
        path: the endpoint's path (``/mcp``).
        host_name, port: the bound address (for the Host/Origin defaults and the default resource URI).
        sessions: where legacy sessions live (the runtime's shards).
    """

    __slots__ = (
        "config",
        "connections",
        "hangups",
        "host",
        "legacy",
        "metadata_paths",
        "metadata_url",
        "origins",
        "path",
        "resource",
        "sessions",
        "store",
    )

    def __init__(
        self,
        host: SessionHost,
        config: HttpConfig,
        path: str,
        host_name: str,
        port: int,
        sessions: SessionTable,
        hangups: HangupWatch | None = None,
    ) -> None:
        self.host = host
        #: Notices clients leaving during streamed responses (``None``: each stream watches with a task).
        self.hangups = hangups
        self.config = config
        self.path = path
        self.origins = OriginPolicy(host_name, port, config.allowed_hosts, config.allowed_origins)
        store: EventStore = config.event_store or InMemoryEventStore(
            config.event_store_max_events, config.event_store_max_bytes, config.event_store_max_age
        )
        self.store = store
        self.legacy = LegacyEndpoint(host, config, sessions, store)
        self.sessions = sessions
        #: The endpoint's open connections, swept for keep-alive idleness (``reap_forever``).
        self.connections = OpenConnections(
            config.keep_alive_timeout, config.keep_alive_sweep_interval, config.sse_keepalive_interval
        )
        auth = config.auth
        origin = f"http://{host_with_port(host_name, port)}"
        self.resource = auth.resource if auth is not None and auth.resource is not None else origin + path
        base = self.resource.partition("://")
        authority = base[2].partition("/")[0]
        self.metadata_url = f"{base[0]}://{authority}{WELL_KNOWN_PREFIX}{path}"
        self.metadata_paths = frozenset({WELL_KNOWN_PREFIX, WELL_KNOWN_PREFIX + path})

    def open_connection(self, sock: trio.socket.SocketType, connection_id: int, place: Place) -> HttpConnection:
        """An accepted socket as one of this endpoint's connections (run it with ``connection.run()``)."""
        return HttpConnection(LeanSocketStream(sock), self.config, self, place, connection_id)

    @staticmethod
    def refusal(error: McpError) -> bytes:
        """What a connection refused at accept receives before it is closed: a 503 with ``Retry-After``."""
        body = encode_message(error_response(error))
        headers = [_JSON_TYPE]
        if isinstance(error, ServerBusy):
            headers.append(retry_after(error.retry_after_ms))
        return response_head(error.http_status, headers, len(body), close=True) + body

    async def __call__(self, connection: HttpConnection, http: HttpRequest) -> None:
        """Answer one request (the connection's ``RequestHandler``)."""
        on_endpoint = http.path == self.path
        if not on_endpoint and not (self.config.auth is not None and http.path in self.metadata_paths):
            await connection.send_error(404, InvalidRequest(f"no MCP endpoint at {http.path!r}"))
            return
        headers = http.headers
        if not self.origins.host_allowed(headers.get("host")):
            await connection.send_error(421, InvalidRequest("Host header not allowed"))
            return
        if not self.origins.origin_allowed(headers.get("origin")):
            await connection.send_error(403, InvalidRequest("Origin not allowed"))
            return
        if not on_endpoint:
            await self._metadata(connection, http)
            return
        if self.config.auth is not None:
            outcome = await authenticate(self.config.auth, headers, self.resource, self.metadata_url)
            if isinstance(outcome, AuthFailure):
                challenge = [("www-authenticate", outcome.challenge)]
                await connection.send_error(outcome.status, InvalidRequest(outcome.message), headers=challenge)
                return
            connection.principal = outcome.client_id
        version = headers.get(MCP_PROTOCOL_VERSION)
        modern_client = version is not None and version in self.host.profile.modern_versions
        legacy = self.config.legacy_sessions
        session_id = headers.get(MCP_SESSION_ID) if legacy and not modern_client else None
        if session_id is not None and self.sessions.get(session_id) is None:
            owner = owner_socket(session_id, self.config.worker_id, self.config.worker_socket_dir)
            if owner is not None:
                await relay(connection, http, owner)
                return
        method = http.method
        if method == "POST":
            await self._post(connection, http, version)
        elif method in ("GET", "DELETE") and legacy and not modern_client:
            if await connection.read_body() is None:  # normally empty; read so the connection can be reused
                return
            if method == "DELETE":
                await self.legacy.delete(connection, http)
            elif not accepts(headers.get("accept"), _SSE):
                await connection.send_error(406, InvalidRequest("GET needs Accept: text/event-stream"))
            else:
                await self.legacy.get(connection, http, header_version=version)
        else:
            allow = _ALLOW_LEGACY if legacy and not modern_client else _ALLOW_MODERN
            await connection.send_error(405, InvalidRequest(f"method {method} not allowed"), headers=[("allow", allow)])

    async def _metadata(self, connection: HttpConnection, http: HttpRequest) -> None:
        auth = self.config.auth
        assert auth is not None
        if http.method != "GET":
            await connection.send_error(405, InvalidRequest("metadata is read with GET"), headers=[("allow", "GET")])
            return
        body = encode_message(metadata_document(auth, self.resource))
        await connection.send_json(200, body, [("cache-control", "max-age=3600")])

    async def _post(self, connection: HttpConnection, http: HttpRequest, version: str | None) -> None:
        headers = http.headers
        if media_type(headers.get("content-type")) != _JSON:
            await connection.send_error(415, InvalidRequest("Content-Type must be application/json"))
            return
        accept = headers.get("accept")
        json_ok = accepts(accept, _JSON)
        sse_ok = accepts(accept, _SSE)
        if not json_ok and not sse_ok:
            await connection.send_error(406, InvalidRequest("Accept must admit application/json or text/event-stream"))
            return
        declared = connection.declared_length(http)
        if declared is not None and declared > self.config.max_body_bytes:
            error = MessageTooLarge(f"body over {self.config.max_body_bytes} bytes")
            await connection.send_error(413, error, close=True)
            return
        body = await connection.read_body()
        if body is None:
            return
        try:
            message = decode_message(body)
        except McpError as error:
            await connection.send_error(400, error)
            return
        if isinstance(message, list):
            await connection.send_error(400, InvalidRequest("JSON-RPC batches are not accepted over HTTP"))
            return
        profile = self.host.profile
        modern = not self.config.legacy_sessions or (version is not None and version in profile.modern_versions)
        if (
            not modern
            and (version is None or version not in profile.legacy_versions)
            and isinstance(message, Request | Notification)
        ):
            modern = meta_version(loose_params(message.params)) is not None
        if modern:
            await handle_modern_post(
                self.host,
                connection,
                http,
                message,
                header_version=version,
                sse=sse_ok,
                stream_limit=self.config.max_stream_buffer_bytes,
            )
        else:
            await self.legacy.post(connection, http, message, header_version=version, json=json_ok, sse=sse_ok)

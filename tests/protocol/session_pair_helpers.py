"""A client and a server session wired back to back with no I/O (h11's ConnectionPair), through real bytes.

Every message crosses the "wire" as ``encode_message`` bytes decoded again by ``decode_message``, so the JSON
shape is exercised, not just the structs. ``feed_server`` mirrors what a stream transport does with one line
(parse errors and batches included).
"""

from __future__ import annotations

from typing import Any

import msgspec

from mcp_trio.protocol import (
    Answered,
    ClientSession,
    ErrorReceived,
    ErrorResponse,
    Event,
    InvalidRequest,
    McpError,
    Message,
    RequestReceived,
    ResponseReceived,
    ServerProfile,
    ServerSession,
    decode_message,
    encode_message,
)
from mcp_trio.protocol.types import (
    ClientCapabilities,
    ElicitationCapability,
    Implementation,
    ListChangedCapability,
    ResourcesCapability,
    SamplingCapability,
    ServerCapabilities,
)

SERVER_INFO = Implementation(name="test-server", version="1.0")
CLIENT_INFO = Implementation(name="test-client", version="2.0")
ALL_SERVER_CAPS = ServerCapabilities(
    tools=ListChangedCapability(list_changed=True),
    prompts=ListChangedCapability(list_changed=True),
    resources=ResourcesCapability(subscribe=True, list_changed=True),
    logging={},
    completions={},
)
ALL_CLIENT_CAPS = ClientCapabilities(
    roots=ListChangedCapability(list_changed=True),
    sampling=SamplingCapability(),
    elicitation=ElicitationCapability(),
)
MODERN_VERSION = "2026-07-28"


def profile(capabilities: ServerCapabilities = ALL_SERVER_CAPS, **kw: Any) -> ServerProfile:
    return ServerProfile(SERVER_INFO, capabilities, **kw)


def wire(message: Any) -> Any:
    """One trip over the wire: encode to bytes, decode again."""
    return decode_message(encode_message(message))


def as_json(message: Any) -> Any:
    """A message as the peer sees its JSON."""
    return msgspec.json.decode(encode_message(message))


class Pair:
    """A ``ClientSession`` and a ``ServerSession`` back to back."""

    def __init__(
        self,
        *,
        modern: bool = False,
        server_profile: ServerProfile | None = None,
        client_capabilities: ClientCapabilities = ALL_CLIENT_CAPS,
        client: ClientSession | None = None,
        log_level: str | None = None,
    ) -> None:
        self.server = ServerSession(server_profile if server_profile is not None else profile())
        if client is not None:
            self.client = client
        elif modern:
            self.client = ClientSession(
                modern=True, capabilities=client_capabilities, client_info=CLIENT_INFO, log_level=log_level
            )
        else:
            self.client = ClientSession(capabilities=client_capabilities, client_info=CLIENT_INFO)

    def to_server(self, message: Message) -> Event | None:
        return self.server.receive(wire(message))

    def to_client(self, message: Message) -> Event | None:
        return self.client.receive(wire(message))

    def handshake(self, version: str | None = None) -> ResponseReceived:
        request = self.client.initialize(version=version) if version is not None else self.client.initialize()
        answered = self.to_server(request)
        assert isinstance(answered, Answered)
        response = self.to_client(answered.message)
        assert isinstance(response, ResponseReceived), response
        assert self.to_server(self.client.initialized()) is not None
        return response

    def call(self, method: str, params: Any = msgspec.UNSET, **kw: Any) -> Event | None:
        """Client request: the server's event if the application must answer, else the client's event."""
        event = self.to_server(self.client.send_request(method, params, **kw))
        if isinstance(event, Answered):
            return self.to_client(event.message)
        return event

    def answer(self, event: RequestReceived, result: Any) -> Event | None:
        """The server application answers ``event``; returns what the client makes of it."""
        response = self.server.respond(event.id, result)
        assert response is not None
        return self.to_client(response)

    def server_call(self, method: str, params: Any = msgspec.UNSET) -> Event | None:
        """Server request: the client's event (an ``Answered`` is delivered back to the server)."""
        event = self.to_client(self.server.send_request(method, params))
        if isinstance(event, Answered):
            return self.to_server(event.message)
        return event

    def client_answer(self, event: RequestReceived, result: Any) -> Event | None:
        response = self.client.respond(event.id, result)
        assert response is not None
        return self.to_server(response)


def feed_server(server: ServerSession, data: bytes) -> tuple[list[Any], list[Event]]:
    """What a stream transport does with one line: the JSON replies to send and the events for the app."""
    replies: list[Any] = []
    events: list[Event] = []

    def handle(message: Message) -> None:
        event = server.receive(message)
        if isinstance(event, Answered):
            replies.append(as_json(event.message))
        elif event is not None:
            events.append(event)

    try:
        decoded = decode_message(data)
    except McpError as error:
        replies.append(as_json(server.reject(error).message))
        return replies, events
    if isinstance(decoded, list):
        if not server.batches_allowed:
            replies.append(
                as_json(server.reject(InvalidRequest("JSON-RPC batches are only part of 2025-03-26")).message)
            )
            return replies, events
        for member in decoded:
            if isinstance(member, McpError):
                replies.append(as_json(server.reject(member).message))
            else:
                handle(member)
    else:
        handle(decoded)
    return replies, events


def error_of(event: Event | None) -> dict[str, Any]:
    """The JSON error object of an ``Answered`` error or an ``ErrorReceived``."""
    if isinstance(event, Answered):
        assert isinstance(event.message, ErrorResponse), event
        return as_json(event.message)["error"]  # type: ignore[no-any-return]
    assert isinstance(event, ErrorReceived), event
    return msgspec.to_builtins(event.error)  # type: ignore[no-any-return]

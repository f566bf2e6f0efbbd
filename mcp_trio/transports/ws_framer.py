"""WebSocket text messages as the stream framing's framer: wsproto underneath, sans-IO.

Theory of operation
-------------------
``StreamConnection`` feeds bytes to its framer and asks it for whole messages; ``WebSocketFramer`` answers with
the text messages of an open WebSocket (RFC 6455), one JSON-RPC message each, and keeps to itself what else a
WebSocket carries: a Ping is answered with a Pong, the peer's Close with a Close, and whatever ends the
WebSocket queues the Close frame that says why:

=====  ==========================================================================================
1000   the client closes (our client's own close)
1001   the server shuts down
1002   a frame wsproto cannot parse (unmasked, reserved bits, bad lengths, a bad Close...)
1003   a binary message: MCP messages are JSON text (1003 "cannot accept this type of data", not 1007)
1007   a text message that is not UTF-8
1008   the MCP handshake was not completed in time (the runtime's ``handshake_timeout``)
1009   a message over ``max_message_size``
1011   keep-alive: no answer to a ping within ``pong_timeout``
1013   refused at accept for overload (the refusal's JSON-RPC error goes first, as its one message)
=====  ==========================================================================================

What the framer wants written collects in ``output`` (``take_output``); once a Close was sent or received, or
the peer left, the WebSocket is ``finished`` and no message comes any more. A message is capped while it
arrives: wsproto hands over each frame's payload as it is read, so no more than ``max_message_size`` plus one
read is ever held. wsproto checks UTF-8 and gives text as ``str``, re-encoded once here for the JSON decoder.
A server frame is a two-to-ten-byte header and the payload, written here straight into the outbox (wsproto's
``send`` would take ``str`` and copy the payload four times); a client's frames must be masked, so they go
through wsproto.
"""

from __future__ import annotations

import struct
import sys
from typing import Final

from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.frame_protocol import CloseReason

from mcp_trio.protocol.framing import NEED_DATA, NeedData

__all__ = ["WebSocketFramer", "CloseReason", "WSPROTO_BYTES"]

#: What wsproto's ``Connection`` holds for an idle WebSocket (frame parser, its generator, buffers), which
#: ``sys.getsizeof`` cannot see: measured with tracemalloc over 1,000 of them.
WSPROTO_BYTES: Final = 1_700

_OPEN: Final = ConnectionState.OPEN
_LOCAL_CLOSING: Final = ConnectionState.LOCAL_CLOSING
_REMOTE_CLOSING: Final = ConnectionState.REMOTE_CLOSING
_CLOSED: Final = ConnectionState.CLOSED
#: Headers of unmasked final text frames with a payload of 0-125 bytes (FIN + opcode 1, then the length).
_SHORT_HEADERS: Final = tuple(bytes((0x81, size)) for size in range(126))
_MEDIUM_HEADER: Final = struct.Struct("!BBH")
_LONG_HEADER: Final = struct.Struct("!BBQ")


class WebSocketFramer:
    """One WebSocket's messages (see the module docstring).

    Args:
        connection: wsproto's connection once the upgrade is done; ``None`` until then (``attach``).
        max_message_size: the largest message accepted, in bytes; a larger one closes the WebSocket with 1009.
    """

    __slots__ = ("_dead", "_parts", "_size", "_ws", "close_code", "heard", "max_message_size", "output")

    def __init__(self, connection: Connection | None, max_message_size: int) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self._ws = connection
        self.max_message_size = max_message_size
        self._parts: list[bytes] | None = None  # a message that arrives in several pieces
        self._size = 0
        self._dead = False  # wsproto failed to parse: what the peer sends now is noise
        #: Frames to write (Pongs, Closes), in order; ``take_output`` hands them over.
        self.output: bytearray | None = None
        #: Set by every read: the keep-alive sweep clears it and pings a peer that stayed silent.
        self.heard = True
        #: The code of the Close sent or received, once there is one.
        self.close_code: int | None = None

    def attach(self, connection: Connection) -> None:
        """The upgrade is done: frames start."""
        self._ws = connection

    @property
    def client(self) -> bool:
        return self._ws is not None and self._ws.client

    @property
    def open(self) -> bool:
        """Messages may be sent: the WebSocket is open and no Close was sent or received."""
        ws = self._ws
        return ws is not None and ws.state is _OPEN

    @property
    def finished(self) -> bool:
        """No message will come any more: a Close was sent or received, or the peer left."""
        ws = self._ws
        return ws is not None and ws.state is not _OPEN

    @property
    def awaiting_close(self) -> bool:
        """We sent a Close and the peer has neither answered it nor left."""
        ws = self._ws
        return ws is not None and ws.state is _LOCAL_CLOSING

    @property
    def buffered(self) -> int:
        """Bytes held of a message that has not arrived whole."""
        return self._size

    def size_info(self) -> int:
        """Bytes this framer holds, wsproto's objects included (``WSPROTO_BYTES``, measured)."""
        return sys.getsizeof(self) + self._size + (WSPROTO_BYTES if self._ws is not None else 0)

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means it closed the connection."""
        self.heard = True
        ws = self._ws
        if ws is None:
            raise RuntimeError("the WebSocket upgrade is not done")
        if not data:
            if ws.state is not _CLOSED:
                ws.receive_data(None)  # wsproto reports it as a Close 1006 (abnormal closure)
            return
        if self._dead or ws.state is _CLOSED:
            return
        ws.receive_data(data)

    def next_message(self) -> bytes | NeedData:
        """The next whole text message, or ``NEED_DATA``; Pings, Closes and failures are dealt with on the way."""
        ws = self._ws
        if ws is None:
            return NEED_DATA
        for event in ws.events():
            kind = type(event)
            if kind is TextMessage:
                if ws.state is _OPEN:  # after a Close, the peer's last messages are not read
                    message = self._text(event)  # type: ignore[arg-type]
                    if message is not None:
                        return message
            elif kind is Ping:
                if ws.state is _OPEN:
                    self._queue(ws.send(event.response()))  # type: ignore[attr-defined]
            elif kind is BytesMessage:
                if ws.state is _OPEN:
                    self._parts, self._size = None, 0
                    self.fail(CloseReason.UNSUPPORTED_DATA, "MCP messages are text frames, not binary")
            elif kind is CloseConnection:
                self._closing(event)  # type: ignore[arg-type]
            # a Pong needs nothing: ``heard`` was set when it arrived
        return NEED_DATA

    def _text(self, event: TextMessage) -> bytes | None:
        data = event.data.encode()  # valid UTF-8: wsproto decoded it strictly
        parts = self._parts
        if parts is None and event.message_finished:
            if len(data) > self.max_message_size:
                self._too_big()
                return None
            return data
        size = self._size + len(data)
        if size > self.max_message_size:
            self._parts, self._size = None, 0
            self._too_big()
            return None
        if parts is None:
            self._parts = parts = []
        parts.append(data)
        self._size = size
        if not event.message_finished:
            return None
        self._parts, self._size = None, 0
        return b"".join(parts)

    def _too_big(self) -> None:
        self.fail(CloseReason.MESSAGE_TOO_BIG, f"a message exceeded the {self.max_message_size}-byte limit")

    def _closing(self, event: CloseConnection) -> None:
        ws = self._ws
        assert ws is not None
        state = ws.state
        if state is _REMOTE_CLOSING:  # the peer closes: answer in kind (its code echoed)
            self.close_code = event.code
            self._queue(ws.send(event.response()))
        elif state is not _CLOSED:  # wsproto could not parse the peer's frames: its parser is done
            self._dead = True
            self.fail(event.code, event.reason or "")
        # CLOSED: the answer to our Close, or the peer left without one (1006)

    # ------------------------------------------------------------------ output

    def write(self, outbox: bytearray, message: bytes) -> None:
        """Append ``message`` to ``outbox`` as one text frame (the caller checked ``open``)."""
        ws = self._ws
        assert ws is not None
        if ws.client:
            outbox += ws.send(TextMessage(data=message.decode()))
            return
        size = len(message)
        if size < 126:
            outbox += _SHORT_HEADERS[size]
        elif size < 65536:
            outbox += _MEDIUM_HEADER.pack(0x81, 126, size)
        else:
            outbox += _LONG_HEADER.pack(0x81, 127, size)
        outbox += message

    def ping(self) -> bytes:
        """A Ping frame (empty when the WebSocket is not open)."""
        ws = self._ws
        if ws is None or ws.state is not _OPEN:
            return b""
        return ws.send(Ping())

    def close(self, code: int, reason: str = "") -> bytes:
        """The Close frame that ends the WebSocket with ``code`` (empty when it is not open any more)."""
        ws = self._ws
        if ws is None or ws.state is not _OPEN:
            return b""
        self.close_code = code
        return ws.send(CloseConnection(code=code, reason=reason))

    def fail(self, code: int, reason: str) -> None:
        """End the WebSocket with ``code``: its Close frame goes to ``output``."""
        self._queue(self.close(code, reason))

    def _queue(self, data: bytes) -> None:
        if not data:
            return
        if self.output is None:
            self.output = bytearray(data)
        else:
            self.output += data

    def take_output(self) -> bytearray | None:
        """The frames to write now (``None`` when there are none)."""
        output, self.output = self.output, None
        return output

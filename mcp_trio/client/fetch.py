"""A small one-shot HTTP/1.1 client for the authorization side of MCP (metadata, registration, tokens).

Theory of operation: one request per connection (``Connection: close``), written with h11 over a Trio TCP (or
TLS) stream, under one deadline that covers connecting, sending and reading. Nothing from the peer is trusted:
the head is bounded by h11's ``max_incomplete_event_size`` and the body by ``max_body``, and redirects are
returned, never followed (an OAuth client must see a ``Location`` itself). Every failure, whatever raised it,
leaves as a ``FetchError``: this module is the one edge where socket, TLS, h11 and timeout errors are mapped.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Final
from urllib.parse import urlsplit

import attrs
import h11
import trio

__all__ = ["FetchError", "FetchResponse", "Fetcher", "fetch"]

#: Defaults, with units.
DEFAULT_TIMEOUT: Final = 10.0  # seconds for the whole exchange
DEFAULT_MAX_BODY: Final = 1 << 20  # bytes
DEFAULT_MAX_HEAD: Final = 64 << 10  # bytes
_RECEIVE_SIZE: Final = 64 << 10
#: What the peer or the network can raise while we talk to it.
_FOREIGN: Final = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, UnicodeError)


class FetchError(ConnectionError):
    """The exchange did not produce a complete HTTP response: unreachable, timed out, malformed or too big."""


@attrs.frozen
class FetchResponse:
    """A complete response.

    Attributes:
        status: the HTTP status code.
        headers: header values by lower-case name (a repeated header keeps its last value).
        body: the whole body (at most ``max_body`` bytes).
    """

    status: int
    headers: dict[str, str]
    body: bytes


#: The shape of ``fetch``: what the OAuth client takes, so tests (and applications with their own HTTP stack)
#: can substitute it. Arguments: method, URL, request headers, body.
Fetcher = Callable[[str, str, Sequence[tuple[str, str]], bytes], Awaitable[FetchResponse]]


async def fetch(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109  # the exchange owns its deadline: a Fetcher is self-bounded
    max_body: int = DEFAULT_MAX_BODY,
    max_head: int = DEFAULT_MAX_HEAD,
    ssl_context: ssl.SSLContext | None = None,
) -> FetchResponse:
    """Send one request and read its whole response; redirects are returned as they are.

    Args:
        method: ``GET``, ``POST``...
        url: an ``http://`` or ``https://`` URL (a fragment is dropped).
        headers: request headers (``Host``, ``Content-Length`` and ``Connection`` are set here).
        body: the request body.
        timeout: seconds for the whole exchange.
        max_body: the largest response body accepted, in bytes.
        max_head: the largest response head accepted, in bytes.
        ssl_context: for ``https://``; the standard library's defaults if omitted.

    Raises:
        FetchError: anything but a complete response within the limits.
        ValueError: ``url`` is not an absolute http(s) URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http:// or https:// URL: {url!r}")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError as error:
        raise ValueError(f"bad port in {url!r}") from error
    host = parts.hostname
    authority = f"[{host}]" if ":" in host else host
    if port != (443 if tls else 80):
        authority = f"{authority}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request_headers = [
        ("host", authority),
        *[(name, value) for name, value in headers if name.lower() not in ("host", "content-length", "connection")],
        ("content-length", str(len(body))),
        ("connection", "close"),
    ]
    try:
        with trio.fail_after(timeout):
            if tls:
                context = ssl_context if ssl_context is not None else ssl.create_default_context()
                stream: trio.abc.Stream = await trio.open_ssl_over_tcp_stream(
                    host, port, ssl_context=context, https_compatible=True
                )
            else:
                stream = await trio.open_tcp_stream(host, port)
            async with stream:
                return await _exchange(stream, method, target, request_headers, body, max_body, max_head)
    except trio.TooSlowError:
        raise FetchError(f"{method} {url}: no complete answer within {timeout} s") from None
    except _FOREIGN as error:
        raise FetchError(f"{method} {url}: {type(error).__name__}: {error}") from error


async def _exchange(
    stream: trio.abc.Stream,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    max_body: int,
    max_head: int,
) -> FetchResponse:
    connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head)
    out = connection.send(h11.Request(method=method, target=target, headers=headers)) or b""
    if body:
        out += connection.send(h11.Data(data=body)) or b""
    out += connection.send(h11.EndOfMessage()) or b""
    await stream.send_all(out)
    response: h11.Response | None = None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(_RECEIVE_SIZE)
            connection.receive_data(bytes(data))  # b"" is the end of the stream
            continue
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > max_body:
                raise FetchError(f"a response body over {max_body} bytes")
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            raise FetchError("the server closed the connection before the response was complete")
    assert response is not None  # h11 yields the head before any body event
    found = {name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers}
    return FetchResponse(response.status_code, found, b"".join(chunks))

"""What the client says about itself, and Dynamic Client Registration (RFC 7591) with it.

The same ``ClientMetadata`` is the body of a registration request and the content of a Client ID Metadata
Document, so an application hosting its CIMD can serve ``metadata.document(url)``.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
import msgspec

from mcp_trio.client.fetch import Fetcher
from mcp_trio.client.oauth.discovery import ServerMetadata
from mcp_trio.client.oauth.errors import AuthError
from mcp_trio.client.oauth.tokens import ClientRegistration
from mcp_trio.client.oauth.wire import ACCEPT_JSON, JSON, decode_as, decode_json, raise_for_oauth_error, send

__all__ = ["ClientMetadata", "register"]


@attrs.frozen
class ClientMetadata:
    """This client as an authorization server sees it (RFC 7591 section 2).

    Attributes:
        redirect_uris: where the authorization server sends the user back; the first one is used.
        client_name: shown to the user on the consent page.
        application_type: ``"native"`` for desktop, CLI and localhost clients, ``"web"`` for remote ones (the
            MCP specification asks for it in registration).
        grant_types: ``refresh_token`` included asks for refresh tokens (and ``offline_access`` where the
            server advertises it).
        token_endpoint_auth_method: asked for in registration; ``None``: chosen from the server's metadata.
        client_uri, logo_uri: optional, shown to the user.
        extra: further registration fields, sent as they are.
    """

    redirect_uris: tuple[str, ...]
    client_name: str = "mcp-trio"
    application_type: Literal["native", "web"] = "native"
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    token_endpoint_auth_method: str | None = None
    client_uri: str | None = None
    logo_uri: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not self.redirect_uris:
            raise ValueError("ClientMetadata needs at least one redirect URI")

    @property
    def wants_refresh_tokens(self) -> bool:
        return "refresh_token" in self.grant_types

    def document(self, client_id: str | None = None, auth_method: str | None = None) -> dict[str, Any]:
        """The metadata as JSON: a registration request, or (with ``client_id``) a Client ID Metadata Document."""
        document: dict[str, Any] = {
            "client_name": self.client_name,
            "redirect_uris": list(self.redirect_uris),
            "grant_types": list(self.grant_types),
            "response_types": ["code"],
            "application_type": self.application_type,
        }
        if client_id is not None:
            document["client_id"] = client_id
        method = auth_method or self.token_endpoint_auth_method
        if method is not None:
            document["token_endpoint_auth_method"] = method
        for name in ("client_uri", "logo_uri"):
            if (value := getattr(self, name)) is not None:
                document[name] = value
        document.update(self.extra)
        return document


class _Registered(msgspec.Struct):
    client_id: str
    client_secret: str | None = None
    token_endpoint_auth_method: str | None = None
    client_secret_expires_at: float | None = None


def _requested_method(metadata: ClientMetadata, server: ServerMetadata) -> str | None:
    """What to ask for: the configured method, else (a public client by default) ``none`` unless the server
    lists methods without it, then the first secret-based one it lists."""
    if metadata.token_endpoint_auth_method is not None:
        return metadata.token_endpoint_auth_method
    supported = server.token_endpoint_auth_methods_supported
    if not supported or "none" in supported:
        return None
    return next((m for m in ("client_secret_basic", "client_secret_post") if m in supported), None)


async def register(fetcher: Fetcher, server: ServerMetadata, metadata: ClientMetadata) -> ClientRegistration:
    """Register with the server's ``registration_endpoint`` (RFC 7591).

    Raises:
        AuthError: the server has no registration endpoint, refused, or answered with something unusable.
    """
    endpoint = server.registration_endpoint
    if endpoint is None:
        raise AuthError(f"{server.issuer} offers no dynamic client registration")
    what = f"client registration at {endpoint}"
    body = msgspec.json.encode(metadata.document(auth_method=_requested_method(metadata, server)))
    response = await send(fetcher, what, "POST", endpoint, [ACCEPT_JSON, JSON], body)
    raise_for_oauth_error(response, what)
    found = decode_as(decode_json(response, what), _Registered, what)
    if not found.client_id:
        raise AuthError(f"{what}: an empty client_id")
    return ClientRegistration(
        client_id=found.client_id,
        client_secret=found.client_secret,
        token_endpoint_auth_method=found.token_endpoint_auth_method,
        issuer=server.issuer,
        client_secret_expires_at=found.client_secret_expires_at,
    )

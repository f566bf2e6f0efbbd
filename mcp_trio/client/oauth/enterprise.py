"""Enterprise-managed authorization (SEP-990, "cross-app access"): the enterprise identity provider vouches for
the user, so the MCP server's authorization server needs no browser.

1. RFC 8693 token exchange at the identity provider: the user's identity token becomes an Identity Assertion
   JWT Authorization Grant (ID-JAG) for one authorization server (``audience``: its issuer) and one resource.
2. An RFC 7523 JWT bearer grant with that ID-JAG at the authorization server: ``JwtBearer(IdJagExchange(...))``.
"""

from __future__ import annotations

from typing import Final

import attrs
import msgspec

from mcp_trio.client.fetch import Fetcher, fetch
from mcp_trio.client.oauth.discovery import ServerMetadata
from mcp_trio.client.oauth.errors import AuthError
from mcp_trio.client.oauth.wire import (
    ACCEPT_JSON,
    FORM,
    basic_authorization,
    decode_as,
    decode_json,
    form,
    raise_for_oauth_error,
    send,
)

__all__ = ["IdJagExchange", "TOKEN_EXCHANGE_GRANT", "ID_JAG_TOKEN_TYPE", "ID_TOKEN_TYPE"]

TOKEN_EXCHANGE_GRANT: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_JAG_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:id_token"


class _Exchanged(msgspec.Struct):
    access_token: str
    issued_token_type: str


@attrs.frozen
class IdJagExchange:
    """Obtains an ID-JAG from the identity provider; an ``assertion`` source for ``JwtBearer``.

    Attributes:
        token_endpoint: the identity provider's token endpoint.
        subject_token: the user's identity token (an OpenID Connect ID token by default).
        client_id: this client at the identity provider.
        client_secret: if the identity provider authenticates this client (``client_secret_basic``).
        subject_token_type: the RFC 8693 type of ``subject_token``.
        fetcher: the HTTP exchange.
    """

    token_endpoint: str
    subject_token: str = attrs.field(repr=False)
    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    subject_token_type: str = ID_TOKEN_TYPE
    fetcher: Fetcher = fetch

    async def __call__(self, server: ServerMetadata, resource: str) -> str:
        """An ID-JAG for ``server`` and ``resource``.

        Raises:
            OAuthErrorResponse: the identity provider refused.
            AuthError: it answered with something other than an ID-JAG.
        """
        what = f"token exchange at {self.token_endpoint}"
        headers = [ACCEPT_JSON, FORM]
        params: dict[str, str | None] = {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "requested_token_type": ID_JAG_TOKEN_TYPE,
            "audience": server.issuer,
            "resource": resource,
            "subject_token": self.subject_token,
            "subject_token_type": self.subject_token_type,
        }
        if self.client_secret is None:
            params["client_id"] = self.client_id
        else:
            headers.append(basic_authorization(self.client_id, self.client_secret))
        response = await send(self.fetcher, what, "POST", self.token_endpoint, headers, form(params))
        raise_for_oauth_error(response, what)
        exchanged = decode_as(decode_json(response, what), _Exchanged, what)
        if exchanged.issued_token_type != ID_JAG_TOKEN_TYPE:
            raise AuthError(f"{what}: issued a {exchanged.issued_token_type!r}, not an ID-JAG")
        if not exchanged.access_token:
            raise AuthError(f"{what}: an empty ID-JAG")
        return exchanged.access_token

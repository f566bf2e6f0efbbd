"""Why an authorization could not be completed.

::

    AuthError                 discovery, validation or a grant failed; the message says which step and why
    └── OAuthErrorResponse    the authorization server answered with an RFC 6749 error (``error`` code)

Anything an authorization server or a protected resource sends that we cannot use (unreachable, not JSON, too
big, missing or ill-typed fields, an issuer or resource that does not match) becomes an ``AuthError``; nothing
else escapes the OAuth client.
"""

from __future__ import annotations

__all__ = ["AuthError", "OAuthErrorResponse"]


class AuthError(Exception):
    """The client could not obtain (or keep) credentials for the MCP server."""


class OAuthErrorResponse(AuthError):
    """The authorization server refused, with an OAuth error code (``invalid_grant``, ``access_denied``...).

    Attributes:
        error: the ``error`` code.
        description: ``error_description``, if any.
        status: the HTTP status (0 for an error in the authorization response, which is a redirect).
    """

    def __init__(self, where: str, error: str, description: str | None = None, status: int = 0) -> None:
        detail = f": {description}" if description else ""
        super().__init__(f"{where}: {error}{detail}")
        self.error = error
        self.description = description
        self.status = status

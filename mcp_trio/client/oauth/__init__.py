"""OAuth 2.1 for MCP clients, by concept: errors, discovery, tokens and registration, grants.

The public face is ``mcp_trio.client.auth`` (``OAuthClient`` and the names an application needs).
"""

"""mcp-trio: a Model Context Protocol server and client framework on Trio.

The public API is re-exported here and pinned by ``tests/test_public_api.py``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

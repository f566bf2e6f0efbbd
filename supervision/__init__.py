"""An OTP-grade supervision tree on Trio nurseries.

Imports trio only, never ``mcp_trio``: it is a reusable package of its own.
"""

from __future__ import annotations

__all__: list[str] = []

"""DNS-rebinding protection: which ``Host`` and ``Origin`` values this endpoint answers.

A browser tricked into talking to a local server sends the attacker's name in ``Host`` and the attacker's page in
``Origin``; checking both against an allow-list (loopback names with the bound port by default) defeats it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["OriginPolicy", "host_with_port"]

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def host_with_port(host: str, port: int) -> str:
    """``host:port`` with IPv6 literals bracketed."""
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"{host}:{port}"


class OriginPolicy:
    """Decides whether a request's ``Host`` and ``Origin`` are acceptable.

    Args:
        bound_host: the address the server listens on.
        port: the bound port.
        allowed_hosts: ``"name"`` (any port) or ``"name:port"`` entries; ``None`` for the loopback default.
        allowed_origins: exact ``scheme://host[:port]`` entries; ``None`` for http/https of the allowed hosts.
    """

    __slots__ = ("_any_port", "_hosts", "_origins")

    def __init__(
        self,
        bound_host: str,
        port: int,
        allowed_hosts: Iterable[str] | None = None,
        allowed_origins: Iterable[str] | None = None,
    ) -> None:
        if allowed_hosts is None:
            names = {*_LOOPBACK_NAMES, host_with_port(bound_host, port).rpartition(":")[0]}
            hosts = {f"{name}:{port}" for name in names}
            if port == 80:
                hosts |= names
            any_port: set[str] = set()
        else:
            hosts = {h.lower() for h in allowed_hosts if _has_port(h)}
            any_port = {h.lower() for h in allowed_hosts if not _has_port(h)}
        self._hosts = frozenset(hosts)
        self._any_port = frozenset(any_port)
        self._origins = (
            None if allowed_origins is None else frozenset(o.strip().rstrip("/").lower() for o in allowed_origins)
        )

    def host_allowed(self, host: str | None) -> bool:
        """Whether ``Host`` names this server (a missing Host is refused: HTTP/1.1 requires it)."""
        if host is None:
            return False
        host = host.strip().lower()
        if host in self._hosts:
            return True
        name = host.rpartition(":")[0] if _has_port(host) else host
        return name in self._any_port

    def origin_allowed(self, origin: str | None) -> bool:
        """Whether ``Origin`` (when sent) is one of ours."""
        if origin is None:
            return True
        origin = origin.strip().rstrip("/").lower()
        if self._origins is not None:
            return origin in self._origins
        scheme, sep, rest = origin.partition("://")
        return bool(sep) and scheme in ("http", "https") and self.host_allowed(rest)


def _has_port(host: str) -> bool:
    """``"a:1"`` and ``"[::1]:1"`` have a port; ``"a"`` and ``"[::1]"`` do not."""
    if host.startswith("["):
        return "]:" in host
    return ":" in host

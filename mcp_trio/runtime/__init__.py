"""Scale machinery: registry shards, mailboxes, limits, breaker, shedding, workers."""

from __future__ import annotations

__all__: list[str] = []

"""Metrics, health and the memory profiler."""

from __future__ import annotations

__all__: list[str] = []

"""attrs validators shared by the config classes of the transports and of the client (one copy of each rule)."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["positive", "positive_or_none"]


def positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


def positive_or_none(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be positive or None, not {value!r}")

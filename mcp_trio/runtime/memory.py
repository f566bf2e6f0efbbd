"""Process memory readings: cheap enough to sample every fraction of a second (load shedding, reports)."""

from __future__ import annotations

import os
from typing import Final

__all__ = ["resident_bytes"]

_PAGE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """This process's resident set size (RSS), in bytes; 0 where ``/proc`` cannot tell."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0

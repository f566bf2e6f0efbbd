"""Process memory and CPU time: readings cheap enough to sample every fraction of a second (load shedding,
reports, a silent worker's liveness), and handing freed memory back to the operating system once a busy period is over.

Theory of operation: CPython keeps what it frees. Small objects live in pymalloc's 1 MiB arenas, which return to
the system only when entirely empty, so a few survivors of a storm keep most of its arenas resident; larger
blocks come from glibc's heap, which shrinks only from its top unless ``malloc_trim`` releases the free pages
inside it. ``ReleasePolicy`` says when a busy period has ended (the work held, open connections plus requests in
flight, fell to half its peak, by at least ``min_drop``, and stopped falling); the runtime then calls
``release_free_memory``. With the default allocator that returns glibc's share (typically well under a megabyte);
a process started with ``PYTHONMALLOC=malloc`` allocates everything from glibc, and then the trim hands back
nearly all a storm took, at about 6% more instructions per call (``docs/overload.md``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from collections.abc import Callable
from typing import Final

__all__ = ["ReleasePolicy", "cpu_seconds", "release_free_memory", "resident_bytes"]

_PAGE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def resident_bytes(pid: int | None = None) -> int:
    """The resident set size (RSS) of this process (or of ``pid``), in bytes; 0 where ``/proc`` cannot tell."""
    try:
        with open(f"/proc/{pid if pid is not None else 'self'}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system, all threads) process ``pid`` has used; ``None`` where ``/proc`` cannot tell
    (or the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the name, in parentheses, may hold spaces
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


def _find_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    function: Callable[[int], int] = trim
    return function


_malloc_trim: Final = _find_malloc_trim()


def release_free_memory() -> bool:
    """Collect cyclic garbage, then hand the free pages of the C heap back to the system (glibc's
    ``malloc_trim(0)``): some 10-20 ms after a storm, once. Returns whether the C library could trim here."""
    gc.collect()
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


class ReleasePolicy:
    """When to release memory: once per busy period, after it ends (a pure policy, fed every load sample).

    ``work`` is what holds memory (open connections plus requests in flight). A period is over when ``work`` fell
    to half its peak since the last release, by at least ``min_drop``, and stopped falling or reached zero (a
    release while the last connections still close would miss what they free); the peak then starts again from there.

    Args:
        min_drop: the smallest fall in ``work`` worth a release.
    """

    __slots__ = ("_last", "_peak", "min_drop", "releases")

    def __init__(self, min_drop: int) -> None:
        if min_drop < 1:
            raise ValueError("min_drop must be positive")
        self.min_drop = min_drop
        self._peak = 0
        self._last = 0
        self.releases = 0

    def update(self, work: int) -> bool:
        """Feed the current ``work``; ``True`` when memory should be released now."""
        falling = work < self._last
        self._last = work
        if work > self._peak:
            self._peak = work
            return False
        if (not falling or not work) and work * 2 <= self._peak and self._peak - work >= self.min_drop:
            self._peak = work
            self.releases += 1
            return True
        return False

"""One task parked on an object until the object wakes it, with nothing made per wait.

Long-lived waits (an idle SSE response's writer, an idle listen stream's subscriber) would each keep a
``trio.Event`` alive; instead the waiting task parks itself in the object's ``_waiter`` slot and whoever has news
reschedules it. A cancelled wait clears the slot, so a later wake-up finds nobody to reschedule.
"""

from __future__ import annotations

from typing import Protocol

import trio

__all__ = ["Parkable", "park", "wake"]


class Parkable(Protocol):
    """An object one task at a time waits on: the task sits in ``_waiter`` while it waits."""

    _waiter: trio.lowlevel.Task | None


def wake(holder: Parkable) -> None:
    """Reschedule the task parked on ``holder``, if one is."""
    waiter = holder._waiter
    if waiter is not None:
        holder._waiter = None
        trio.lowlevel.reschedule(waiter)


async def park(holder: Parkable) -> None:
    """Wait until ``wake(holder)`` (or cancellation). The caller checks first whether there is anything to wait
    for, and checkpoints instead when there is not."""
    holder._waiter = trio.lowlevel.current_task()

    def abort(_: object) -> trio.lowlevel.Abort:
        holder._waiter = None
        return trio.lowlevel.Abort.SUCCEEDED

    await trio.lowlevel.wait_task_rescheduled(abort)

"""Where Trio's ExceptionGroups meet our callers: unwrap them so a caller sees one clear error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

#: What a supervisor never treats as a child's failure: its own cancellation, and the process being told to stop.
PASS_THROUGH: tuple[type[BaseException], ...] = (trio.Cancelled, KeyboardInterrupt, SystemExit, GeneratorExit)


def split_exit(exc: BaseException) -> tuple[BaseException | None, BaseException | None]:
    """Split what a child raised into ``(failure, passing)``.

    ``failure`` is what counts as the child's abnormal exit: any exception, including ``BaseException``
    subclasses that libraries define, and the non-cancellation part of a group. ``passing`` is what must keep
    propagating (``PASS_THROUGH``, alone or as the cancellation part of a group). Either may be ``None``.
    """
    if isinstance(exc, PASS_THROUGH):
        return None, exc
    if isinstance(exc, BaseExceptionGroup):
        passing, failure = exc.split(PASS_THROUGH)
        return failure, passing
    return exc, None


def single_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one meaningful exception in ``group``, ignoring ``trio.Cancelled``; ``None`` if not exactly one.

    Nested groups are flattened: an escalation that crossed two nurseries is still one error.
    """
    leaves: list[BaseException] = []
    _collect(group, leaves)
    meaningful = [exc for exc in leaves if not isinstance(exc, trio.Cancelled)]
    return meaningful[0] if len(meaningful) == 1 else None


def _collect(exc: BaseException, leaves: list[BaseException]) -> None:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            _collect(inner, leaves)
    else:
        leaves.append(exc)


@asynccontextmanager
async def open_started(start: Callable[..., Awaitable[object]]) -> AsyncIterator[Any]:
    """Run ``start(task_status=...)`` in a nursery for the duration of the block and yield its ready value.

    Leaving the block cancels it. If it fails instead (a supervisor's escalation), the block is cancelled and
    that one error is raised on its own, not inside Trio's ExceptionGroup.
    """
    try:
        async with trio.open_nursery() as nursery:
            yield await nursery.start(start)
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        error = single_error(group)
        if error is None:
            raise
        raise error from error.__cause__

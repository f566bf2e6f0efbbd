"""Where Trio's ExceptionGroups meet our callers: unwrap them so a caller sees one clear error."""

from __future__ import annotations

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

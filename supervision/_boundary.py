"""Where Trio's ExceptionGroups meet our callers: unwrap them so a caller sees one clear error."""

from __future__ import annotations

import trio


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

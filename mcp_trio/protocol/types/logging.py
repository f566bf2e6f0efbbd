"""Logging: levels, ``logging/setLevel`` (legacy) and ``notifications/message``.

Legacy clients set a session-wide level with ``logging/setLevel``. The modern wire removes that
method: a client opts in per request with ``_meta["io.modelcontextprotocol/logLevel"]`` and the
server sends ``notifications/message`` only on that request's stream. Logging is deprecated as of
2026-07-28 (SEP-2577) but still part of the wire.
"""

from typing import Any, Final, Literal, TypeAlias

from ._base import UNSET, NotificationParams, RequestParams, UnsetType

__all__ = [
    "LoggingLevel",
    "LOGGING_LEVELS",
    "LOGGING_SEVERITY",
    "should_log",
    "SetLevelParams",
    "LoggingMessageParams",
]

LoggingLevel: TypeAlias = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
"""Syslog severities (RFC 5424), least to most severe."""

LOGGING_LEVELS: Final[tuple[LoggingLevel, ...]] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)
"""All levels in ascending severity."""

LOGGING_SEVERITY: Final[dict[str, int]] = {level: rank for rank, level in enumerate(LOGGING_LEVELS)}
"""Level name to rank (``debug`` = 0 ... ``emergency`` = 7)."""


def should_log(message_level: LoggingLevel, threshold: LoggingLevel) -> bool:
    """Whether a message at ``message_level`` passes a client-chosen minimum ``threshold``."""
    return LOGGING_SEVERITY[message_level] >= LOGGING_SEVERITY[threshold]


class SetLevelParams(RequestParams, kw_only=True):
    """``logging/setLevel`` (legacy only)."""

    level: LoggingLevel


class LoggingMessageParams(NotificationParams, kw_only=True):
    """``notifications/message``; ``data`` is any JSON value (``null`` included)."""

    level: LoggingLevel
    data: Any
    logger: str | UnsetType = UNSET

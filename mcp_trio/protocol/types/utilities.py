"""Progress and cancellation notifications (both eras).

``notifications/progress`` answers a request whose ``_meta.progressToken`` was set; ``progress``
must increase. ``notifications/cancelled``: legacy peers may cancel in either direction (never
``initialize``; ``requestId`` optional in 2025-11-25 because tasks cancel via ``tasks/cancel``);
the modern wire uses it client to server on stdio, plus the server ending a ``subscriptions/listen``
stream. On modern HTTP, closing the response stream is the cancellation.
"""

from ._base import UNSET, NotificationParams, ProgressToken, RequestId, UnsetType

__all__ = ["ProgressParams", "CancelledParams"]


class ProgressParams(NotificationParams, kw_only=True):
    """``notifications/progress``; numbers keep their JSON int/float spelling."""

    progress_token: ProgressToken
    progress: int | float
    total: int | float | UnsetType = UNSET
    message: str | UnsetType = UNSET


class CancelledParams(NotificationParams, kw_only=True):
    """``notifications/cancelled``."""

    request_id: RequestId | UnsetType = UNSET
    reason: str | UnsetType = UNSET

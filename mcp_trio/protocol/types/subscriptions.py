"""``subscriptions/listen`` (2026-07-28): the modern, opt-in notification stream.

It replaces the legacy GET stream and ``resources/subscribe``. The server's first message on the
stream is ``notifications/subscriptions/acknowledged`` carrying the honoured subset of the filter;
every notification on the stream carries ``_meta["io.modelcontextprotocol/subscriptionId"]`` (the
listen request's id); a graceful end is the listen result ``{resultType: "complete"}`` with the
same ``_meta`` key. ``task_ids`` is added by the tasks extension.
"""

from ._base import UNSET, NotificationParams, RequestParams, Result, UnsetType, WireModel

__all__ = [
    "SubscriptionFilter",
    "SubscriptionsListenParams",
    "SubscriptionsListenResult",
    "SubscriptionsAcknowledgedParams",
]


class SubscriptionFilter(WireModel, kw_only=True):
    """Notification types a client opts in to (request) or the server honours (acknowledgement)."""

    tools_list_changed: bool | UnsetType = UNSET
    prompts_list_changed: bool | UnsetType = UNSET
    resources_list_changed: bool | UnsetType = UNSET
    resource_subscriptions: list[str] | UnsetType = UNSET
    task_ids: list[str] | UnsetType = UNSET


class SubscriptionsListenParams(RequestParams, kw_only=True):
    """``subscriptions/listen``."""

    notifications: SubscriptionFilter


class SubscriptionsListenResult(Result, kw_only=True):
    """Sent only when the server ends the stream gracefully; ``_meta`` holds the subscription id."""


class SubscriptionsAcknowledgedParams(NotificationParams, kw_only=True):
    """``notifications/subscriptions/acknowledged``: the honoured subset of the filter."""

    notifications: SubscriptionFilter

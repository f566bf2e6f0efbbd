"""``subscriptions/listen``: the modern wire's one long-lived request, a stream of server notifications.

The handler acknowledges first (``notifications/subscriptions/acknowledged`` with the honoured subset of the
filter), then delivers the list-changed and resource-updated notifications it subscribed to, each tagged with
``_meta["io.modelcontextprotocol/subscriptionId"]`` (the listen request's id), until the client goes away
(cancellation) or the server ends the stream gracefully with a complete result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.jsonrpc import Notification
from mcp_trio.protocol.session import ServerSession
from mcp_trio.protocol.types import (
    NotificationParams,
    ResourceUpdatedParams,
    SubscriptionFilter,
    SubscriptionsAcknowledgedParams,
    SubscriptionsListenParams,
    SubscriptionsListenResult,
    capability_enabled,
)
from mcp_trio.protocol.types.meta import SUBSCRIPTION_ID
from mcp_trio.server.context import Peer
from mcp_trio.server.hub import PROMPTS, RESOURCES, TOOLS, UPDATED, Subscriber

if TYPE_CHECKING:
    from mcp_trio.server.server import Server

__all__ = ["listen"]


def _honoured(server: Server, wanted: SubscriptionFilter) -> tuple[SubscriptionFilter, frozenset[str], set[str]]:
    caps = server.capabilities
    honoured = SubscriptionFilter()
    methods: set[str] = set()
    for flag, method, path in (
        ("tools_list_changed", TOOLS, "tools.listChanged"),
        ("prompts_list_changed", PROMPTS, "prompts.listChanged"),
        ("resources_list_changed", RESOURCES, "resources.listChanged"),
    ):
        if getattr(wanted, flag) is True and capability_enabled(caps, path):
            setattr(honoured, flag, True)
            methods.add(method)
    uris: set[str] = set()
    if wanted.resource_subscriptions is not UNSET and capability_enabled(caps, "resources"):
        uris = set(wanted.resource_subscriptions)
        honoured.resource_subscriptions = list(wanted.resource_subscriptions)
    return honoured, frozenset(methods), uris


async def listen(server: Server, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
    """Serve one ``subscriptions/listen`` request (runs until cancelled or the server ends it)."""
    params: SubscriptionsListenParams = event.params
    honoured, methods, uris = _honoured(server, params.notifications)
    meta = {SUBSCRIPTION_ID: event.id}
    subscriber = Subscriber(methods)
    # Subscribe before acknowledging, so nothing that changes after the client saw the ack can be missed; what
    # arrives meanwhile waits in the subscriber and goes out after the ack.
    server.hub.add(subscriber)
    for uri in uris:
        server.hub.subscribe(subscriber, uri)
    try:
        await peer.send(
            Notification(
                "notifications/subscriptions/acknowledged",
                SubscriptionsAcknowledgedParams(notifications=honoured, meta=meta),
            ),
            event.id,
        )
        while True:
            await subscriber.wait()
            if subscriber.closed:
                break
            for method, updated_uri in subscriber.take():
                body: Any = (
                    ResourceUpdatedParams(uri=updated_uri, meta=meta)
                    if method == UPDATED and updated_uri is not None
                    else NotificationParams(meta=meta)
                )
                await peer.send(Notification(method, body), event.id)
    finally:
        server.hub.remove(subscriber)
    return SubscriptionsListenResult(result_type="complete", meta=meta)

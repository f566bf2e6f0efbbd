"""``subscriptions/listen``: the modern wire's one long-lived request, a stream of server notifications.

The handler acknowledges first (``notifications/subscriptions/acknowledged`` with the honoured subset of the
filter), then delivers the list-changed and resource-updated notifications it subscribed to, each tagged with
``_meta["io.modelcontextprotocol/subscriptionId"]`` (the listen request's id), until the client goes away
(cancellation) or the server ends the stream gracefully with a complete result.

Where the framing can take messages without waiting (a ``PushOutlet``: Streamable HTTP), the stream is served
without a task of its own: a ``ListenPump`` turns the subscriber's pending notifications into messages when the
hub wakes it and whenever the client has caught up, so an idle stream holds the connection's task and a few
small objects, no second task. Elsewhere the ``listen`` coroutine runs as the request's task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from mcp_trio.protocol.events import RequestReceived
from mcp_trio.protocol.jsonrpc import Notification, encode_message
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
from mcp_trio.transports.port import PushOutlet

if TYPE_CHECKING:
    from mcp_trio.server.driver import SessionDriver
    from mcp_trio.server.server import Server

__all__ = ["listen", "ListenPump"]


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


def listen(server: Server, session: ServerSession, peer: Peer, event: RequestReceived) -> Any:
    """Serve one ``subscriptions/listen`` request: a ``ListenPump`` where the outlet takes pushes, else the
    coroutine that runs as the request's task (until cancelled or the server ends it)."""
    params: SubscriptionsListenParams = event.params
    honoured, methods, uris = _honoured(server, params.notifications)
    meta = {SUBSCRIPTION_ID: event.id}
    if isinstance(getattr(peer, "outlet", None), PushOutlet):
        return ListenPump(server, event, honoured, Subscriber(methods), uris, meta)
    return _listen(server, peer, event, honoured, Subscriber(methods), uris, meta)


def _acknowledged(honoured: SubscriptionFilter, meta: dict[str, Any]) -> Notification:
    return Notification(
        "notifications/subscriptions/acknowledged", SubscriptionsAcknowledgedParams(notifications=honoured, meta=meta)
    )


def _notification(method: str, uri: str | None, meta: dict[str, Any]) -> Notification:
    if method == UPDATED and uri is not None:
        return Notification(method, ResourceUpdatedParams(uri=uri, meta=meta))
    return Notification(method, NotificationParams(meta=meta))


def _subscribe(server: Server, subscriber: Subscriber, uris: set[str]) -> None:
    """Subscribe before acknowledging, so nothing that changes after the client saw the ack can be missed; what
    arrives meanwhile waits in the subscriber and goes out after the ack."""
    server.hub.add(subscriber)
    for uri in uris:
        server.hub.subscribe(subscriber, uri)


async def _listen(
    server: Server,
    peer: Peer,
    event: RequestReceived,
    honoured: SubscriptionFilter,
    subscriber: Subscriber,
    uris: set[str],
    meta: dict[str, Any],
) -> Any:
    _subscribe(server, subscriber, uris)
    try:
        await peer.send(_acknowledged(honoured, meta), event.id)
        while True:
            await subscriber.wait()
            if subscriber.closed:
                break
            for method, updated_uri in subscriber.take():
                await peer.send(_notification(method, updated_uri, meta), event.id)
    finally:
        server.hub.remove(subscriber)
    return SubscriptionsListenResult(result_type="complete", meta=meta)


class ListenPump:
    """A ``subscriptions/listen`` stream served without a task (see the module docstring).

    The session driver starts it (``start``) in place of a task and ends it with ``cancel`` when the client
    leaves; the pump ends itself with the complete result when the server closes the hub (a drain).
    """

    __slots__ = ("_driver", "_event", "_honoured", "_meta", "_server", "_started", "_subscriber", "_uris")

    def __init__(
        self,
        server: Server,
        event: RequestReceived,
        honoured: SubscriptionFilter,
        subscriber: Subscriber,
        uris: set[str],
        meta: dict[str, Any],
    ) -> None:
        self._server = server
        # Only what ending the request needs: the params (client capabilities and all) are not kept for hours.
        self._event = RequestReceived(event.id, event.method, None, event.era, event.version)
        self._honoured = honoured
        self._subscriber: Subscriber | None = subscriber
        self._uris = uris
        self._meta = meta
        self._driver: SessionDriver | None = None
        self._started = 0.0

    def start(self, driver: SessionDriver, started: float) -> None:
        """Subscribe, acknowledge, and deliver whatever is already pending."""
        subscriber = self._subscriber
        outlet = driver.outlet
        assert subscriber is not None
        assert isinstance(outlet, PushOutlet)
        self._driver = driver
        self._started = started
        subscriber.wake = self._flush
        _subscribe(self._server, subscriber, self._uris)
        outlet.when_room(self._flush)
        outlet.push(encode_message(_acknowledged(self._honoured, self._meta)), self._event.id)
        self._flush()

    def _flush(self) -> None:
        """Move pending notifications to the outlet while it has room (the rest stay coalesced in the
        subscriber until ``when_room`` calls again); end the stream once the hub closed the subscriber."""
        subscriber, driver = self._subscriber, self._driver
        if subscriber is None or driver is None:
            return
        if subscriber.closed:
            self._stop()
            result = SubscriptionsListenResult(result_type="complete", meta=self._meta)
            driver.pump_ended(self._event, result, self._started)
            return
        outlet: Any = driver.outlet
        while subscriber.pending and outlet.room:
            for method, uri in subscriber.take():  # one batch is bounded by what the stream subscribed to
                outlet.push(encode_message(_notification(method, uri, self._meta)), self._event.id)

    def cancel(self) -> None:
        """The client left, or the session closed: unsubscribe; no answer is due."""
        driver = self._driver
        if self._subscriber is not None and driver is not None:
            self._stop()
            driver.pump_ended(self._event, None, self._started)

    def _stop(self) -> None:
        subscriber = self._subscriber
        if subscriber is not None:
            self._subscriber = None
            subscriber.wake = None  # break the pump <-> subscriber cycle
            self._server.hub.remove(subscriber)
        driver = self._driver
        if driver is not None:
            driver.outlet.when_room(None)  # type: ignore[attr-defined]

"""Server-initiated notifications: list changes and resource updates, fanned out without blocking the sender.

Theory of operation: a change is *posted*, never awaited. Each subscriber (a legacy connection, or a modern
``subscriptions/listen`` stream) has a small map of pending notifications keyed by what they say
(``tools`` changed, resource ``uri`` updated), so a burst of changes coalesces into one notification per key and
a slow subscriber costs bounded memory, never an unbounded queue. The subscriber's own task delivers them.

When the server runs as several processes (``--workers``), a change posted in one must reach subscribers in all
of them: the hub also hands every post to its ``bus`` (a ``SubscriptionBus``), which carries it to the other
processes, where it arrives through ``deliver`` (local subscribers only, so it is never sent on again). One
process has no bus. The interface is small so that a multi-node deployment can plug in a network bus.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

import trio

from mcp_trio.protocol.types import SubscriptionFilter
from mcp_trio.transports import wakeup

__all__ = ["Subscriber", "NotificationHub", "SubscriptionBus", "TOOLS", "PROMPTS", "RESOURCES"]

TOOLS: Final = "notifications/tools/list_changed"
PROMPTS: Final = "notifications/prompts/list_changed"
RESOURCES: Final = "notifications/resources/list_changed"
UPDATED: Final = "notifications/resources/updated"


class Subscriber:
    """One destination for server notifications, with coalescing pending state and a wake-up.

    Args:
        wanted: the list-changed notification methods it wants.
        uris: resource URIs whose updates it wants.
        wake: called (synchronously) when something new is pending, for subscribers that flush by themselves.
    """

    __slots__ = ("_waiter", "closed", "pending", "uris", "wake", "wanted")

    def __init__(
        self, wanted: frozenset[str], uris: set[str] | None = None, wake: Callable[[], None] | None = None
    ) -> None:
        self.wanted = wanted
        self.uris = uris
        self.wake = wake
        self.pending: dict[str, str | None] = {}  # key -> uri (for updates) or None
        #: The task parked in ``wait`` (no ``trio.Event``: an idle listen stream keeps nothing but this slot).
        self._waiter: trio.lowlevel.Task | None = None
        self.closed = False

    def post(self, method: str, uri: str | None = None) -> None:
        key = method if uri is None else f"{method}\0{uri}"
        if key in self.pending:
            return
        self.pending[key] = uri
        self._release()
        if self.wake is not None:
            self.wake()

    def take(self) -> list[tuple[str, str | None]]:
        """Everything pending, oldest first, as (method, uri)."""
        items = [(key.partition("\0")[0], uri) for key, uri in self.pending.items()]
        self.pending.clear()
        return items

    def close(self) -> None:
        """The server is ending its streams: wake the waiter (or the ``wake`` callback) for good."""
        self.closed = True
        self._release()
        if self.wake is not None:
            self.wake()

    def _release(self) -> None:
        wakeup.wake(self)  # the module's, not ``self.wake`` (the callback of a subscriber that flushes itself)

    async def wait(self) -> None:
        """Wait until something is pending or the subscriber is closed (a checkpoint either way)."""
        if self.pending or self.closed:
            await trio.lowlevel.checkpoint()
            return
        await wakeup.park(self)


class SubscriptionBus(Protocol):
    """Carries server notifications to the other processes serving the same server (``NotificationHub.bus``)."""

    def publish(self, method: str, uri: str | None) -> None:
        """Send one change to the other processes; must not block (drop or coalesce under pressure)."""


class NotificationHub:
    """Who wants which server notifications; ``post_*`` never blocks.

    ``post_*`` may be called from any thread (a synchronous handler runs in a worker thread, and may well
    change the server's tools or resources): off the Trio thread the post hops onto it first.
    """

    __slots__ = ("_by_uri", "_subscribers", "_token", "bus")

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._by_uri: dict[str, set[Subscriber]] = {}
        self._token: trio.lowlevel.TrioToken | None = None
        #: Where posts also go, for the other processes of a multi-process server (``None``: one process).
        self.bus: SubscriptionBus | None = None

    def bind(self, token: trio.lowlevel.TrioToken) -> None:
        """Remember the Trio run that serves this hub, so other threads can post to it."""
        self._token = token

    def _elsewhere(self) -> bool:
        """True when called off the Trio thread while a run is bound (the post must hop over)."""
        return self._token is not None and not trio.lowlevel.in_trio_run()

    def add(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)
        for uri in subscriber.uris or ():
            self._by_uri.setdefault(uri, set()).add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        for uri in tuple(subscriber.uris or ()):
            self.unsubscribe(subscriber, uri)

    def subscribe(self, subscriber: Subscriber, uri: str) -> None:
        if subscriber.uris is None:
            subscriber.uris = set()
        subscriber.uris.add(uri)
        self._by_uri.setdefault(uri, set()).add(subscriber)

    def unsubscribe(self, subscriber: Subscriber, uri: str) -> None:
        if subscriber.uris is not None:
            subscriber.uris.discard(uri)
        holders = self._by_uri.get(uri)
        if holders is not None:
            holders.discard(subscriber)
            if not holders:
                del self._by_uri[uri]

    def post_list_changed(self, method: str) -> None:
        if self._elsewhere():
            trio.from_thread.run_sync(self.post_list_changed, method, trio_token=self._token)
            return
        self.deliver(method, None)
        if self.bus is not None:
            self.bus.publish(method, None)

    def post_resource_updated(self, uri: str) -> None:
        if self._elsewhere():
            trio.from_thread.run_sync(self.post_resource_updated, uri, trio_token=self._token)
            return
        self.deliver(UPDATED, uri)
        if self.bus is not None:
            self.bus.publish(UPDATED, uri)

    def deliver(self, method: str, uri: str | None) -> None:
        """Post to this process's subscribers only (what a bus calls with another process's change)."""
        if uri is None:
            for subscriber in tuple(self._subscribers):
                if method in subscriber.wanted:
                    subscriber.post(method)
        else:
            for subscriber in tuple(self._by_uri.get(uri, ())):
                subscriber.post(method, uri)

    def close(self) -> None:
        """End every long-lived stream (graceful shutdown): each subscriber's waiter wakes and finishes."""
        for subscriber in tuple(self._subscribers):
            subscriber.close()

    def __len__(self) -> int:
        return len(self._subscribers)


def wanted_from_filter(notifications: SubscriptionFilter) -> frozenset[str]:
    """The list-changed methods a modern ``subscriptions/listen`` filter asks for."""
    wanted = set()
    if notifications.tools_list_changed is True:
        wanted.add(TOOLS)
    if notifications.prompts_list_changed is True:
        wanted.add(PROMPTS)
    if notifications.resources_list_changed is True:
        wanted.add(RESOURCES)
    return frozenset(wanted)

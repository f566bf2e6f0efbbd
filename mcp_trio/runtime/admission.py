"""Admission: every decision to accept or refuse work, made in one place, with one counter per reason.

Theory of operation
-------------------
Overload must be refused at the door, at once and explicitly, never queued until the process dies. Each kind of
work is checked where it arrives, with the cheapest test first:

* a **connection** when it is accepted (``admit_connection``): shedding level, the global and per-shard
  connection limits, the accept rate. A refused connection gets the refusal as its only message (a JSON-RPC
  error line, or an HTTP 503) and is closed; it never becomes a child of a shard.
* a **request** before it is dispatched (``admit_request``): the shedding level, then the rate limits of its
  connection or session and of its client identity (``Limiter``).
* a request that will run **as a task** (``admit_task``): the global and per-shard in-flight limits, or the
  listen-stream limit for ``subscriptions/listen``. Requests answered inline never wait anywhere, so they are
  not "in flight"; the per-connection limit lives in the framing (it can also *block*: TCP backpressure).

Every refusal is a ``ServerBusy`` (-32000, HTTP 503) whose ``data`` names the limit (``reason``) and when to
retry (``retryAfterMs``), and is counted in ``refusals[reason]``. The hot path pays for what is configured: with
no rate limits and no shedding, ``admit_request`` is one comparison.

Refusing must cost less than the work it refuses, or a bombed server spends its core on refusals and queues
anyway. A request's refusal is therefore a ``Refusal``: its JSON is encoded once per limit and retry hint and
kept as a template around the request id (about 1 us, against 3.4 us for a trivial call); a ``ServerBusy``
exception is made only where one is needed.
"""

from __future__ import annotations

import logging
import math
import resource
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from mcp_trio.protocol.errors import ServerBusy
from mcp_trio.protocol.jsonrpc import RequestId, encode_message, error_response
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.rate import KeyedBuckets, TokenBucket
from mcp_trio.runtime.shedding import LoadShedder, ShedLevel

if TYPE_CHECKING:
    from mcp_trio.runtime.shard import Shard

__all__ = ["Admission", "Limiter", "LISTEN", "Refusal"]

logger: Final = logging.getLogger("mcp_trio.runtime")
#: The one request that holds a task for as long as its client listens: it has a limit of its own.
LISTEN: Final = "subscriptions/listen"


_TEMPLATES_KEPT: Final = 512  # refusal templates cached per runtime (limits x distinct retry hints)


class Refusal:
    """One limit's refusal of a request, answered from a template (see the module docstring).

    Shared by every request the same limit refuses with the same retry hint: it holds no request state.
    """

    __slots__ = ("_head", "_tail", "message", "reason", "retry_after_ms")

    def __init__(self, message: str, reason: str, retry_after_ms: int) -> None:
        self.message = message
        self.reason = reason
        self.retry_after_ms = retry_after_ms
        encoded = encode_message(error_response(self.error()))
        head, found, tail = encoded.partition(b'"id":null')
        assert found, encoded
        self._head = head + b'"id":'
        self._tail = tail

    def error(self) -> ServerBusy:
        """A fresh exception with this refusal's message and data."""
        return ServerBusy(self.message, reason=self.reason, retry_after_ms=self.retry_after_ms)

    def answer(self, request_id: RequestId | None) -> bytes:
        """The error response to ``request_id``: exactly ``encode_message(error_response(self.error(), id))``."""
        return self._head + encode_message(request_id) + self._tail


def descriptor_limit() -> int:
    """The process's soft limit on open files (what ``accept`` hits as ``EMFILE``)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class Limiter:
    """The rate limits one connection or session is subject to: its own bucket and its client's.

    Made only when a rate limit is configured, so an unlimited server holds none per connection.
    """

    __slots__ = ("_admission", "_detail", "bucket", "client", "reason")

    def __init__(self, admission: Admission, bucket: TokenBucket | None, reason: str, client: str | None) -> None:
        self._admission = admission
        self.bucket = bucket
        self.reason = reason  # rate_limit_connection or rate_limit_session
        self.client = client
        self._detail = f"over {bucket.rate:g} requests/s ({reason.rpartition('_')[2]})" if bucket is not None else ""

    def admit(self, now: float) -> Refusal | None:
        bucket = self.bucket
        if bucket is not None and not bucket.take(now):
            return self._admission.refusal(self.reason, self._detail, bucket.retry_after(now))
        clients = self._admission.clients
        if clients is not None and self.client is not None and not clients.take(self.client, now):
            wait = clients.retry_after(self.client, now)
            return self._admission.refusal("rate_limit_client", f"client over {clients.rate:g} requests/s", wait)
        return None


class Admission:
    """The admission decisions and counters of one runtime (see the module docstring).

    Args:
        config: the limits.
    """

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.max_connections = config.connection_limit(descriptor_limit())
        self.soft_connections = (
            config.soft_connections if config.soft_connections is not None else int(self.max_connections * 0.8)
        )
        self.connections = 0
        self.in_flight = 0
        #: Set by ``Runtime.drain``: requests that would run as tasks are refused (reason ``draining``).
        self.draining = False
        #: Called when ``in_flight`` drops to zero (``Runtime.drain`` waits for it).
        self.on_idle: Callable[[], object] | None = None
        self.listen_streams = 0
        #: Refusals so far, by reason.
        self.refusals: dict[str, int] = {}
        self._templates: dict[tuple[str, str, int], Refusal] = {}
        self.accepts = TokenBucket(config.accept_rate, config.accept_burst) if config.accept_rate else None
        self.clients = (
            KeyedBuckets(config.client_rate, config.client_burst, config.max_clients_tracked)
            if config.client_rate
            else None
        )
        self.shedder = LoadShedder(
            memory=config.shed_memory,
            loop_lag=config.shed_loop_lag,
            in_flight=config.shed_in_flight,
            recover_ratio=config.shed_recover_ratio,
            recover_after=config.shed_recover_after,
        )
        #: The shedding level requests and accepts check (the shedder's, refreshed on every sample).
        self.level = ShedLevel.NORMAL
        self._over_soft = False

    #: The limits ``reconfigure`` changes on a live runtime (the others shape the tree or its tasks at start).
    LIVE_KEYS: Final = frozenset(
        {
            "max_in_flight",
            "max_in_flight_per_shard",
            "max_listen_streams",
            "max_connections",
            "soft_connections",
            "max_connections_per_shard",
            "retry_after_ms",
            "accept_rate",
            "accept_burst",
            "client_rate",
            "client_burst",
            "max_clients_tracked",
            "connection_rate",
            "connection_burst",
            "session_rate",
            "session_burst",
            "shed_memory",
            "shed_loop_lag",
            "shed_in_flight",
            "shed_recover_ratio",
            "shed_recover_after",
            "drain_timeout",
        }
    )

    def reconfigure(self, config: RuntimeConfig) -> None:
        """Adopt new limits (``LIVE_KEYS``) on a live runtime: counters and the shedding level carry on; rate
        limits of connections and sessions already open keep their buckets, new ones get the new rates."""
        self.config = config
        self.max_connections = config.connection_limit(descriptor_limit())
        self.soft_connections = (
            config.soft_connections if config.soft_connections is not None else int(self.max_connections * 0.8)
        )
        self.accepts = TokenBucket(config.accept_rate, config.accept_burst) if config.accept_rate else None
        self.clients = (
            KeyedBuckets(config.client_rate, config.client_burst, config.max_clients_tracked)
            if config.client_rate
            else None
        )
        level = self.level
        self.shedder = LoadShedder(
            memory=config.shed_memory,
            loop_lag=config.shed_loop_lag,
            in_flight=config.shed_in_flight,
            recover_ratio=config.shed_recover_ratio,
            recover_after=config.shed_recover_after,
        )
        self.level = level  # the next sample decides again, with the new thresholds
        self._templates.clear()

    # ------------------------------------------------------------------ refusals

    def refuse(self, reason: str, detail: str, retry_after: float | None = None) -> ServerBusy:
        """Count a refusal and build its error; ``retry_after`` in seconds (default: the configured hint)."""
        return self.refusal(reason, detail, retry_after).error()

    def refusal(self, reason: str, detail: str, retry_after: float | None = None) -> Refusal:
        """Count a refusal of a request and return its (cached) ``Refusal``; ``retry_after`` as in ``refuse``."""
        self.refusals[reason] = self.refusals.get(reason, 0) + 1
        retry_ms = self.config.retry_after_ms if retry_after is None else max(1, math.ceil(retry_after * 1000))
        key = (reason, detail, retry_ms)
        templates = self._templates
        refusal = templates.get(key)
        if refusal is None:
            if len(templates) >= _TEMPLATES_KEPT:
                templates.clear()  # many distinct retry hints: start over rather than grow
            refusal = templates[key] = Refusal(f"server busy: {detail}; retry later", reason, retry_ms)
        return refusal

    # ------------------------------------------------------------------ connections

    def admit_connection(self, shard: Shard, now: float) -> ServerBusy | None:
        """Whether a new connection may join ``shard``; the refusal when it may not."""
        if self.level >= ShedLevel.REFUSE_CONNECTIONS:
            return self.refuse("shedding", f"shedding load ({self.shedder.reason})")
        if self.connections >= self.max_connections:
            return self.refuse("connections", f"{self.max_connections} connections open")
        per_shard = self.config.max_connections_per_shard
        if per_shard is not None and len(shard.connection_table) >= per_shard:
            return self.refuse("connections_per_shard", f"{per_shard} connections open in {shard.name}")
        accepts = self.accepts
        if accepts is not None and not accepts.take(now):
            return self.refuse("accept_rate", f"over {accepts.rate:g} new connections/s", accepts.retry_after(now))
        return None

    def connection_opened(self) -> None:
        self.connections += 1
        if self.connections > self.soft_connections and not self._over_soft:
            self._over_soft = True
            logger.warning(
                "%d connections open: past the soft limit of %d (the hard limit is %d)",
                self.connections,
                self.soft_connections,
                self.max_connections,
            )

    def connection_closed(self) -> None:
        self.connections -= 1
        if self._over_soft and self.connections <= self.soft_connections * 0.9:
            self._over_soft = False  # logged again next time it is crossed

    @property
    def over_soft_limit(self) -> bool:
        return self._over_soft

    # ------------------------------------------------------------------ requests

    def limiter(self, kind: str, client: Callable[[], str | None]) -> Limiter | None:
        """The rate limits of a new connection (``kind="connection"``) or legacy session (``"session"``), or
        ``None`` when none applies (then nothing is made per connection). ``client()`` names the client
        identity; it is called only when per-client limits are configured (it may cost a system call)."""
        config = self.config
        rate, burst = (
            (config.connection_rate, config.connection_burst)
            if kind == "connection"
            else (config.session_rate, config.session_burst)
        )
        bucket = TokenBucket(rate, burst) if rate is not None else None
        identity = client() if self.clients is not None else None
        if bucket is None and identity is None:
            return None
        return Limiter(self, bucket, f"rate_limit_{kind}", identity)

    def admit_task(self, shard: Shard, method: str) -> Refusal | None:
        """Whether a request may start running as a task in ``shard``; if so, it is counted as in flight."""
        if self.draining:
            return self.refusal("draining", "the server is shutting down")
        if method == LISTEN:
            if self.listen_streams >= self.config.max_listen_streams:
                return self.refusal("listen_streams", f"{self.config.max_listen_streams} listen streams open")
            self.listen_streams += 1
            return None
        if self.in_flight >= self.config.max_in_flight:
            return self.refusal("in_flight", f"{self.config.max_in_flight} requests in progress")
        per_shard = self.config.max_in_flight_per_shard
        if per_shard is not None and shard.in_flight >= per_shard:
            return self.refusal("in_flight_per_shard", f"{per_shard} requests in progress in {shard.name}")
        self.in_flight += 1
        shard.in_flight += 1
        return None

    def task_done(self, shard: Shard, method: str) -> None:
        """A request admitted by ``admit_task`` ended (answered, cancelled or failed)."""
        if method == LISTEN:
            self.listen_streams -= 1
        else:
            self.in_flight -= 1
            shard.in_flight -= 1
            if not self.in_flight and self.on_idle is not None:
                self.on_idle()

    # ------------------------------------------------------------------ shedding

    def sample(self, now: float, *, rss: int | None, lag: float | None) -> ShedLevel:
        """Feed the shedder a fresh reading (called every ``load_check_interval``); returns the level."""
        before = self.level
        level = self.shedder.update(now, rss=rss, lag=lag, in_flight=self.in_flight / self.config.max_in_flight)
        self.level = level
        if level != before:
            if level > before:
                logger.warning("shedding load: %s (%s)", level.name.lower().replace("_", " "), self.shedder.reason)
            else:
                logger.info("load shedding eased to %s", level.name.lower().replace("_", " "))
        return level

    # ------------------------------------------------------------------ observing

    def statistics(self) -> dict[str, object]:
        """The admission figures as plain data (for the report and, later, ``/health``)."""
        return {
            "connections": self.connections,
            "soft_connections": self.soft_connections,
            "max_connections": self.max_connections,
            "over_soft_limit": self._over_soft,
            "in_flight": self.in_flight,
            "max_in_flight": self.config.max_in_flight,
            "listen_streams": self.listen_streams,
            "shedding": self.level.name.lower(),
            "shedding_reason": self.shedder.reason if self.level else None,
            "refusals": dict(sorted(self.refusals.items())),
        }

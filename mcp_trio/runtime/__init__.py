"""The supervised runtime: the OTP tree every server runs under, its shards, listeners and housekeeping.

``Runtime`` is the application supervisor (``application``): housekeeping, background work, N shards and one
listener per transport. A ``Shard`` (``shard``) supervises its connections and their requests and holds the
tables that make a connection or session id lead to its object in O(1). Listeners (``listeners``) are the
transports' accept loops; ``LoopWatchdog`` (``watchdog``) names any handler that holds the event loop too long.
Limits live in ``RuntimeConfig`` (``config``) and are enforced by ``Admission`` (``admission``) with pure
policies: ``TokenBucket``/``KeyedBuckets`` (``rate``), ``CircuitBreaker`` (``breaker``), ``LoadShedder``
(``shedding``) and ``ReleasePolicy`` (``memory``), each taking ``now`` from the caller.
"""

from __future__ import annotations

from mcp_trio.runtime.admission import Admission as Admission
from mcp_trio.runtime.admission import Refusal as Refusal
from mcp_trio.runtime.application import Runtime as Runtime
from mcp_trio.runtime.application import open_runtime as open_runtime
from mcp_trio.runtime.breaker import BreakerStatistics as BreakerStatistics
from mcp_trio.runtime.breaker import CircuitBreaker as CircuitBreaker
from mcp_trio.runtime.breaker import CircuitOpen as CircuitOpen
from mcp_trio.runtime.config import RuntimeConfig as RuntimeConfig
from mcp_trio.runtime.listeners import HttpListener as HttpListener
from mcp_trio.runtime.listeners import StdioListener as StdioListener
from mcp_trio.runtime.listeners import TcpListener as TcpListener
from mcp_trio.runtime.listeners import UnixListener as UnixListener
from mcp_trio.runtime.listeners import WebSocketListener as WebSocketListener
from mcp_trio.runtime.memory import ReleasePolicy as ReleasePolicy
from mcp_trio.runtime.rate import KeyedBuckets as KeyedBuckets
from mcp_trio.runtime.rate import TokenBucket as TokenBucket
from mcp_trio.runtime.shard import Shard as Shard
from mcp_trio.runtime.shard import ShardStatistics as ShardStatistics
from mcp_trio.runtime.shedding import LoadShedder as LoadShedder
from mcp_trio.runtime.shedding import ShedLevel as ShedLevel
from mcp_trio.runtime.watchdog import LoopWatchdog as LoopWatchdog
from mcp_trio.runtime.watchdog import WatchdogStatistics as WatchdogStatistics

__all__ = [
    "Runtime",
    "open_runtime",
    "RuntimeConfig",
    "Shard",
    "ShardStatistics",
    "TcpListener",
    "UnixListener",
    "StdioListener",
    "HttpListener",
    "WebSocketListener",
    "LoopWatchdog",
    "WatchdogStatistics",
    "Admission",
    "Refusal",
    "TokenBucket",
    "KeyedBuckets",
    "CircuitBreaker",
    "CircuitOpen",
    "BreakerStatistics",
    "LoadShedder",
    "ShedLevel",
    "ReleasePolicy",
]

"""One load-generator process: ``python -m soak.generator CONFIG_JSON``.

Its sessions are ``mcp_trio.open_client`` sessions to the target. Calls are paced open-loop: session ``k`` sends
at its intended times (``rate`` per second), and a call's latency counts from its *intended* send time, so a
server that falls behind cannot hide its queueing behind a client that waits (coordinated omission, as wrk2
avoids it); a send more than ``LATE`` after its intended time is counted as late. The bomb phase is closed-loop
(``depth`` calls in flight per session, each sent as soon as the previous answer came), or with a ``bomb_rate``
open-loop at that rate with at most ``depth`` unanswered per session (seed 002's shape: a window, as a pipelining
client has).

Every second the process prints one JSON line: calls sent and answered, errors by kind (overload refusals by
their reason, counted apart from failures), late sends, sessions that failed to open or were lost later (a ping
or the session itself failing outside a call), and that second's latency histogram (HDR, microseconds,
base64), sessions open; at the end one line with the whole run's histogram. The runner merges the processes'
lines. Session ``k`` connects from ``source_addresses[(first_index + k) % len(...)]`` when the runner gives a list
(ephemeral ports are per source address: see ``ClientConfig.local_address``).
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

import trio

from mcp_trio.client import ClientConfig, ConnectionClosed, RequestTimeout, open_client
from mcp_trio.protocol.errors import RemoteError
from soak.lean import run_lean
from soak.plan import CALL_TIMEOUT, LATE, OPEN_CONCURRENCY, session_plan
from soak.scenarios import operation
from soak.tally import Tally, remote_error_kind

__all__ = ["main"]


class Generator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.tally = Tally()
        self.turn = 0  # the mix's position
        self.open_seconds = 0.0
        self.current_second = 0  # the second being counted (1: the first after the common start)

    async def call(self, client: Any, intended: float) -> None:
        tally = self.tally
        error: str | None = None
        tally.counts["sent"] += 1
        self.turn += 1
        method, params = operation(self.config["tool"], self.turn)
        sent_at = trio.current_time()
        try:
            result = await client.request(method, params, timeout=CALL_TIMEOUT)
            if getattr(result, "is_error", False) is True:
                error = "tool_error"
        except RemoteError as exc:
            error = remote_error_kind(exc)
        except RequestTimeout:
            error = "timeout"
        except (ConnectionClosed, OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            error = "closed"
        now = trio.current_time()
        tally.record(now - intended, error, now - sent_at)

    async def paced(self, client: Any, rate: float, begin: float, until: float, window: int = 0) -> None:
        """Open loop: one call every 1/rate seconds from ``begin`` (the schedule, not when the session got there:
        a session that opened late sends late, and those sends are counted) until ``until``, each timed from
        when it was due.

        With a ``window``, at most that many calls are unanswered at once: a send waits for a free place (and
        its latency still counts from when it was due), and the sends still due when ``until`` comes are
        counted as ``unsent`` rather than sent after the phase.
        """
        interval = 1 / rate
        intended = begin
        places = trio.Semaphore(window) if window else None

        async def windowed(due: float) -> None:
            try:
                await self.call(client, due)
            finally:
                assert places is not None
                places.release()

        async with trio.open_nursery() as nursery:
            while intended < until:
                await trio.sleep_until(intended)
                if places is not None:
                    acquired = False
                    with trio.move_on_at(until):
                        await places.acquire()
                        acquired = True
                    if not acquired:  # the window stayed full to the end of the phase
                        self.tally.counts["unsent"] += math.ceil((until - intended) / interval)
                        break
                if trio.current_time() - intended > LATE:
                    self.tally.counts["late"] += 1
                if places is None:
                    nursery.start_soon(self.call, client, intended)
                else:
                    nursery.start_soon(windowed, intended)
                intended += interval

    async def closed_loop(self, client: Any, until: float, depth: int) -> None:
        async def one() -> None:
            while trio.current_time() < until:
                await self.call(client, trio.current_time())

        async with trio.open_nursery() as nursery:
            for _ in range(depth):
                nursery.start_soon(one)

    async def session(self, index: int, start: float, gate: trio.Semaphore) -> None:
        cfg = self.config
        plan = session_plan(cfg, index, start)
        await trio.sleep_until(plan.opens)
        await gate.acquire()  # at most OPEN_CONCURRENCY handshakes at once
        released = False
        sources = cfg.get("source_addresses") or [None]
        local = sources[(cfg.get("first_index", 0) + index) % len(sources)]
        config = ClientConfig(era=cfg["era"], request_timeout=CALL_TIMEOUT, local_address=local)
        try:
            async with open_client(cfg["target"], config=config) as client:
                gate.release()
                released = True
                self.tally.opened += 1
                self.tally.open += 1
                try:
                    for phase in plan.phases:
                        if phase.rate:
                            await self.paced(client, phase.rate, phase.begin, phase.until, phase.window)
                        else:
                            await self.closed_loop(client, phase.until, phase.window)
                    if plan.ping_at is not None:
                        await trio.sleep_until(plan.ping_at)
                        await client.ping(timeout=CALL_TIMEOUT)
                        self.tally.answered_pings += 1
                finally:
                    self.tally.open -= 1
        except Exception as exc:  # noqa: BLE001
            # Counted by kind, never fatal: one session the server refused, dropped or closed mid-handshake must not
            # end the other sessions' run (a generator that dies takes its share of the figures with it).
            self.tally.session_failed(released, type(exc).__name__)
        finally:
            if not released:
                gate.release()

    async def report_forever(self, start: float) -> None:
        while True:
            self.current_second += 1
            await trio.sleep_until(start + self.current_second)
            self.tally.emit({"second": self.current_second})

    async def run(self) -> None:
        cfg = self.config
        start = trio.current_time() + max(0.0, cfg["start_at"] - time.time())
        gate = trio.Semaphore(OPEN_CONCURRENCY)
        async with trio.open_nursery() as reporting:
            reporting.start_soon(self.report_forever, start)
            opened_at = trio.current_time()
            async with trio.open_nursery() as nursery:
                for index in range(cfg["sessions"]):
                    nursery.start_soon(self.session, index, start, gate)
            self.open_seconds = trio.current_time() - opened_at
            reporting.cancel_scope.cancel()
        self.tally.emit_final(max(1, self.current_second))


def main() -> None:
    config = json.loads(sys.argv[1])
    if config.get("engine") == "lean":
        run_lean(config)
    else:
        trio.run(Generator(config).run)


if __name__ == "__main__":
    main()

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
from typing import Any, Final

import trio
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from mcp_trio.client import ClientConfig, ConnectionClosed, RequestTimeout, open_client
from mcp_trio.protocol.errors import RemoteError

__all__ = ["main"]

LATE: Final = 0.010
MAX_MICROS: Final = 120_000_000
OPEN_CONCURRENCY: Final = 100


async def _echo(client: Any) -> Any:
    return await client.call_tool("echo", {"text": "soak"}, timeout=30)


async def _slow(client: Any) -> Any:
    return await client.call_tool("sleep", {"seconds": 0.05}, timeout=30)


async def _read(client: Any) -> Any:
    return await client.read_resource("demo://counter", timeout=30)


async def _prompt(client: Any) -> Any:
    return await client.get_prompt("summarize", {"text": "soak"}, timeout=30)


async def _list(client: Any) -> Any:
    return await client.list_tools_page(timeout=30)


#: The ``mix`` scenario's cycle of 20 operations against the demo server: half cheap calls, a slow tool, reads,
#: prompts and listings.
_MIX: Final = (*[_echo] * 10, _slow, _slow, _read, _read, _read, _prompt, _prompt, _prompt, _list, _list)


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_MICROS, 3)


class Generator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.second = _histogram()
        self.total = _histogram()
        # From when each call actually went out: the server's share alone, apart from any lag of this generator
        # (which the latency from the intended time includes, as it must for an open-loop figure).
        self.service_second = _histogram()
        self.service_total = _histogram()
        self.counts: dict[str, Any] = self._fresh()
        self.opened = 0
        self.open = 0  # sessions open now (``opened`` counts every one that ever opened)
        self.turn = 0  # the mix's position (a fixed cycle: runs are reproducible)
        self.answered_pings = 0
        self.open_seconds = 0.0
        self.current_second = 0  # the second being counted (1: the first after the common start)

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {
            "sent": 0,
            "ok": 0,
            "late": 0,
            "unsent": 0,
            "errors": {},
            "open_failed": 0,
            "lost": 0,
            "session_errors": {},
        }

    def record(self, latency: float, error: str | None, service: float | None = None) -> None:
        micros = max(1, min(MAX_MICROS, int(latency * 1e6)))
        if error is None:
            self.counts["ok"] += 1
            self.second.record_value(micros)
            self.total.record_value(micros)
            service_micros = micros if service is None else max(1, min(MAX_MICROS, int(service * 1e6)))
            self.service_second.record_value(service_micros)
            self.service_total.record_value(service_micros)
        else:
            errors = self.counts["errors"]
            errors[error] = errors.get(error, 0) + 1

    async def call(self, client: Any, intended: float) -> None:
        tool = self.config["tool"]
        error: str | None = None
        self.counts["sent"] += 1
        sent_at = trio.current_time()
        try:
            if tool == "mix":
                self.turn += 1
                result = await _MIX[self.turn % len(_MIX)](client)
            else:
                result = await client.call_tool(tool, {"text": "soak"} if tool == "echo" else {}, timeout=30)
            if getattr(result, "is_error", False) is True:
                error = "tool_error"
        except RemoteError as exc:
            reason = exc.data.get("reason") if exc.code == -32000 and isinstance(exc.data, dict) else None
            error = f"refused:{reason}" if reason else f"error:{exc.code}"
        except RequestTimeout:
            error = "timeout"
        except (ConnectionClosed, OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            error = "closed"
        now = trio.current_time()
        self.record(now - intended, error, now - sent_at)

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
                        self.counts["unsent"] += math.ceil((until - intended) / interval)
                        break
                if trio.current_time() - intended > LATE:
                    self.counts["late"] += 1
                if places is None:
                    nursery.start_soon(self.call, client, intended)
                else:
                    nursery.start_soon(windowed, intended)
                intended += interval

    async def closed_loop(self, client: Any, until: float) -> None:
        async def one() -> None:
            while trio.current_time() < until:
                await self.call(client, trio.current_time())

        async with trio.open_nursery() as nursery:
            for _ in range(self.config["depth"]):
                nursery.start_soon(one)

    async def session(self, index: int, start: float, gate: trio.Semaphore) -> None:
        cfg = self.config
        sessions, ramp = cfg["sessions"], cfg["ramp"]
        opens = start + (ramp * index / sessions if ramp else 0.0)
        await trio.sleep_until(opens)
        await gate.acquire()  # at most OPEN_CONCURRENCY handshakes at once
        released = False
        sources = cfg.get("source_addresses") or [None]
        local = sources[(cfg.get("first_index", 0) + index) % len(sources)]
        config = ClientConfig(era=cfg["era"], request_timeout=30, local_address=local)
        try:
            async with open_client(cfg["target"], config=config) as client:
                gate.release()
                released = True
                self.opened += 1
                self.open += 1
                try:
                    await self._drive(client, index, start, opens)
                finally:
                    self.open -= 1
        except Exception as exc:  # noqa: BLE001
            # Counted by kind, never fatal: one session the server refused, dropped or closed mid-handshake must not
            # end the other sessions' run (a generator that dies takes its share of the figures with it).
            phase = "lost" if released else "open_failed"
            self.counts[phase] += 1
            kinds = self.counts["session_errors"]
            kind = f"{phase}:{type(exc).__name__}"
            kinds[kind] = kinds.get(kind, 0) + 1
        finally:
            if not released:
                gate.release()

    async def _drive(self, client: Any, index: int, start: float, opens: float) -> None:
        cfg = self.config
        sessions, ramp, rate = cfg["sessions"], cfg["ramp"], cfg["rate"]
        warm_end = start + cfg["warmup"]
        hold_end = start + cfg["warmup"] + ramp + cfg["duration"]
        closes = hold_end + (ramp * (sessions - index) / sessions if ramp else 0.0)
        end = closes + cfg["cooldown"]
        if cfg["scenario"] == "idle":
            await trio.sleep_until(hold_end)
            await client.ping(timeout=30)
            self.answered_pings += 1
        elif cfg["scenario"] == "bomb":
            await self.paced(client, rate, opens, warm_end)
            if cfg.get("bomb_rate"):
                await self.paced(client, cfg["bomb_rate"], warm_end, hold_end, window=cfg["depth"])
            else:
                await self.closed_loop(client, hold_end)
            # Due from the end of bombing: calls due while this session's bombing calls drain are sent late and
            # their latency shows it (the recovery is measured from there).
            await self.paced(client, rate, hold_end, end)
        else:
            await self.paced(client, rate, opens, closes)

    async def report_forever(self, start: float) -> None:
        while True:
            self.current_second += 1
            await trio.sleep_until(start + self.current_second)
            self.emit({"second": self.current_second})

    def emit(self, extra: dict[str, Any]) -> None:
        line = {**extra, **self.counts, "opened": self.opened, "open": self.open, "hist": _encode(self.second)}
        line["shist"] = _encode(self.service_second)
        self.second = _histogram()
        self.service_second = _histogram()
        self.counts = self._fresh()
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

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
        # The last, partial second is a second like the others (the runner merges it with the other processes').
        last = max(1, self.current_second)
        self.emit(
            {
                "final": True,
                "second": last,
                "total_hist": _encode(self.total),
                "total_shist": _encode(self.service_total),
                "answered_pings": self.answered_pings,
            }
        )


def _encode(histogram: HdrHistogram) -> str:
    """The histogram in HDR's own compressed, base64 form (``decode_and_add`` reads it back)."""
    return bytes(histogram.encode()).decode("ascii")


def main() -> None:
    trio.run(Generator(json.loads(sys.argv[1])).run)


if __name__ == "__main__":
    main()

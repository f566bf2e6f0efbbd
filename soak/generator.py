"""One load-generator process: ``python -m soak.generator CONFIG_JSON``.

Its sessions are ``mcp_trio.open_client`` sessions to the target. Calls are paced open-loop: session ``k`` sends
at its intended times (``rate`` per second), and a call's latency counts from its *intended* send time, so a
server that falls behind cannot hide its queueing behind a client that waits (coordinated omission, as wrk2
avoids it); a send more than ``LATE`` after its intended time is counted as late. The bomb phase is closed-loop
instead (``depth`` calls in flight per session, each sent as soon as the previous answer came).

Every second the process prints one JSON line: calls sent and answered, errors by kind (overload refusals by
their reason, counted apart from failures), late sends, and that second's latency histogram (HDR, microseconds,
base64); at the end one line with the whole run's histogram. The runner merges the processes' lines.
"""

from __future__ import annotations

import json
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
        self.counts: dict[str, Any] = self._fresh()
        self.opened = 0
        self.turn = 0  # the mix's position (a fixed cycle: runs are reproducible)
        self.answered_pings = 0
        self.open_seconds = 0.0

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {"sent": 0, "ok": 0, "late": 0, "errors": {}}

    def record(self, latency: float, error: str | None) -> None:
        micros = max(1, min(MAX_MICROS, int(latency * 1e6)))
        if error is None:
            self.counts["ok"] += 1
            self.second.record_value(micros)
            self.total.record_value(micros)
        else:
            errors = self.counts["errors"]
            errors[error] = errors.get(error, 0) + 1

    async def call(self, client: Any, intended: float) -> None:
        tool = self.config["tool"]
        error: str | None = None
        self.counts["sent"] += 1
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
        except (ConnectionClosed, OSError):
            error = "closed"
        self.record(trio.current_time() - intended, error)

    async def paced(self, client: Any, rate: float, begin: float, until: float) -> None:
        """Open loop: one call every 1/rate seconds from ``begin`` (the schedule, not when the session got there:
        a session that opened late sends late, and those sends are counted) until ``until``, each timed from
        when it was due."""
        interval = 1 / rate
        intended = begin
        async with trio.open_nursery() as nursery:
            while intended < until:
                await trio.sleep_until(intended)
                if trio.current_time() - intended > LATE:
                    self.counts["late"] += 1
                nursery.start_soon(self.call, client, intended)
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
        try:
            async with open_client(cfg["target"], config=ClientConfig(era=cfg["era"], request_timeout=30)) as client:
                gate.release()
                released = True
                self.opened += 1
                await self._drive(client, index, start, opens)
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
            await self.closed_loop(client, hold_end)
            await self.paced(client, rate, max(hold_end, trio.current_time()), end)
        else:
            await self.paced(client, rate, opens, closes)

    async def report_forever(self, start: float) -> None:
        second = 0
        while True:
            second += 1
            await trio.sleep_until(start + second)
            self.emit({"second": second})

    def emit(self, extra: dict[str, Any]) -> None:
        line = {**extra, **self.counts, "opened": self.opened, "hist": _encode(self.second)}
        self.second = _histogram()
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
        self.emit({"final": True, "total_hist": _encode(self.total), "answered_pings": self.answered_pings})


def _encode(histogram: HdrHistogram) -> str:
    """The histogram in HDR's own compressed, base64 form (``decode_and_add`` reads it back)."""
    return bytes(histogram.encode()).decode("ascii")


def main() -> None:
    trio.run(Generator(json.loads(sys.argv[1])).run)


if __name__ == "__main__":
    main()

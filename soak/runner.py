"""Run a scenario: start the target (our server unless one is given), the generator processes, merge their
per-second figures, sample the server's memory and CPU, print progress, apply SLA gates, write the report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import trio
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from soak.scenarios import Scenario, SlaGate

__all__ = ["SoakReport", "run_soak", "LOOPBACK"]

LOOPBACK: Final = ("127.", "localhost", "::1", "[::1]")
_PAGE: Final = os.sysconf("SC_PAGE_SIZE")
_TICKS: Final = os.sysconf("SC_CLK_TCK")
_START_DELAY: Final = 1.0  # seconds between launching the generators and the common start


@attrs.define
class SoakReport:
    """Every figure of a run (``as_dict`` is the JSON report)."""

    scenario: dict[str, Any]
    target: str
    seconds: list[dict[str, Any]] = attrs.field(factory=list)
    totals: dict[str, Any] = attrs.field(factory=dict)
    server: dict[str, Any] = attrs.field(factory=dict)
    gates: list[dict[str, Any]] = attrs.field(factory=list)

    @property
    def passed(self) -> bool:
        return (
            all(gate["ok"] for gate in self.gates)
            and self.totals.get("exactly_one_answer", False)
            and self.totals.get("returned_to_baseline", True)  # known only when the server is ours
        )

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "passed": self.passed}


def _loopback(target: str) -> bool:
    if "://" in target:
        host = urlsplit(target).hostname or ""
    elif target.startswith("unix:"):
        return True
    else:
        return True  # a command line runs here
    return host.startswith(LOOPBACK) or host in ("localhost", "::1")


def _read_proc(pid: int) -> tuple[int, float] | None:
    """(RSS bytes, CPU seconds) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            rss = int(statm.read().split()[1]) * _PAGE
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return rss, (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


async def _start_ours(workers: int, emit: Callable[[str], None]) -> tuple[trio.Process, str, list[int], str]:
    argv = [
        sys.executable, "-m", "mcp_trio", "serve", "--tcp", "127.0.0.1:0", "--admin", "127.0.0.1:0",
        "--log-level", "info",
    ]  # fmt: skip
    if workers > 1:
        argv += ["--workers", str(workers)]
    process = await trio.lowlevel.open_process(argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert process.stderr is not None
    seen = b""
    with trio.fail_after(60):
        while not re.search(rb"listening on tcp://\S+:\d+", seen) or b"admin on " not in seen:
            chunk = await process.stderr.receive_some(65536)
            if not chunk:
                raise RuntimeError(f"the server exited: {seen.decode(errors='replace')[-500:]}")
            seen += chunk
    address = re.search(rb"listening on (tcp://\S+:\d+)", seen)[1].decode()  # type: ignore[index]
    admin = re.search(rb"admin on (http://\S+)", seen)[1].decode()  # type: ignore[index]
    pids = [int(p) for p in re.findall(rb"ready \(pid (\d+)\)", seen)] or [process.pid]
    emit(f"soak: started our server at {address} (pids {', '.join(map(str, pids))}; health at {admin}/health)")
    return process, address, pids, admin


async def _health(admin: str | None) -> dict[str, Any] | None:
    """Our server's ``/health`` document (its counts), or ``None`` without an admin endpoint."""
    if admin is None:
        return None

    def fetch() -> dict[str, Any] | None:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{admin}/health", timeout=10) as response:
                document: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503 while degraded still carries the document
            document = json.loads(error.read())
        except (OSError, ValueError):
            return None
        return document

    return await trio.to_thread.run_sync(fetch)


async def run_soak(
    scenario: Scenario,
    *,
    target: str | None = None,
    target_pids: list[int] | None = None,
    processes: int = 1,
    workers: int = 1,
    era: str = "auto",
    sla: list[SlaGate] | None = None,
    allow_remote: bool = False,
    emit: Callable[[str], None] = print,
) -> SoakReport:
    """Run ``scenario`` and return its report (see the module docstring).

    Raises:
        ValueError: a target that is not on this machine without ``allow_remote``.
    """
    if target is not None and not allow_remote and not _loopback(target):
        raise ValueError(f"{target} is not a loopback target: pass --allow-remote to load another machine")
    async with trio.open_nursery() as nursery:
        server: trio.Process | None = None
        admin: str | None = None
        pids = list(target_pids or [])
        if target is None:
            server, target, pids, admin = await _start_ours(workers, emit)
        report = SoakReport(attrs.asdict(scenario), target)
        try:
            before = await _health(admin)
            await _run(scenario, target, pids, processes, era, report, emit)
            if before is not None:
                await trio.sleep(1.0)  # the last sessions' connections finish closing
                after = await _health(admin)
                _baseline(report, before, after)
        finally:
            if server is not None:
                server.terminate()
                with trio.move_on_after(10):
                    await server.wait()
                if server.returncode is None:
                    server.kill()
            nursery.cancel_scope.cancel()
    _judge(report, sla or [])
    return report


async def _run(
    scenario: Scenario,
    target: str,
    pids: list[int],
    processes: int,
    era: str,
    report: SoakReport,
    emit: Callable[[str], None],
) -> None:
    processes = max(1, min(processes, scenario.sessions))
    start_at = time.time() + _START_DELAY + 0.5 * processes
    shares = [
        scenario.sessions // processes + (1 if i < scenario.sessions % processes else 0) for i in range(processes)
    ]
    per_second: dict[int, dict[str, Any]] = {}
    total = HdrHistogram(1, 120_000_000, 3)
    finals: list[dict[str, Any]] = []
    baseline = [_read_proc(pid) for pid in pids]
    rss_start = sum(b[0] for b in baseline if b is not None)

    async def generator(share: int) -> None:
        config = {**attrs.asdict(scenario), "scenario": scenario.name, "sessions": share, "target": target}
        config.update(start_at=start_at, era=era)
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "soak.generator", json.dumps(config)], stdout=subprocess.PIPE
        )
        assert process.stdout is not None
        buffer = b""
        while data := await process.stdout.receive_some(65536):
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                record = json.loads(line)
                if record.get("final"):
                    finals.append(record)
                    total.decode_and_add(record["total_hist"])
                second = record.get("second")
                if second is None:
                    continue
                slot = per_second.setdefault(
                    second, {"sent": 0, "ok": 0, "late": 0, "errors": {}, "hist": HdrHistogram(1, 120_000_000, 3)}
                )
                for key in ("sent", "ok", "late"):
                    slot[key] += record[key]
                for kind, count in record["errors"].items():
                    slot["errors"][kind] = slot["errors"].get(kind, 0) + count
                if slot.get("hist") is None:  # the sampler reached this second first
                    slot["hist"] = HdrHistogram(1, 120_000_000, 3)
                slot["hist"].decode_and_add(record["hist"])
        await process.wait()

    async def sample(until: float) -> None:
        previous = {pid: _read_proc(pid) for pid in pids}
        second = 0
        while time.time() < until:
            second += 1
            await trio.sleep(max(0.0, start_at + second - time.time()))
            rss, cpu = 0, 0.0
            for pid in pids:
                now = _read_proc(pid)
                before = previous.get(pid)
                if now is not None:
                    rss += now[0]
                    cpu += now[1] - (before[1] if before is not None else now[1])
                    previous[pid] = now
            slot = per_second.setdefault(second, {"sent": 0, "ok": 0, "late": 0, "errors": {}, "hist": None})
            slot["rss"], slot["cpu"] = rss, round(cpu, 3)
            if second < 2:
                continue
            second -= 1  # the generators report a second when it ends: show the one before, complete
            slot = per_second.get(second, slot)
            second += 1
            hist = slot.get("hist")
            p99 = hist.get_value_at_percentile(99) / 1000 if hist is not None and hist.get_total_count() else 0
            emit(
                f"soak {scenario.name} {second - 1:>4}s: sent {slot['sent']:>6}/s ok {slot['ok']:>6} "
                f"errors {sum(slot['errors'].values()):>5} p99 {p99:8.1f} ms RSS {rss / 2**20:7.1f} MiB"
            )

    async with trio.open_nursery() as nursery:
        if pids:
            nursery.start_soon(sample, start_at + scenario.total_seconds + 1)
        async with trio.open_nursery() as generators:
            for share in shares:
                generators.start_soon(generator, share)
        nursery.cancel_scope.cancel()
    ended = [_read_proc(pid) for pid in pids]
    rss_end = sum(e[0] for e in ended if e is not None)
    _summarise(report, scenario, per_second, total, finals, rss_start, rss_end)


def _percentiles(histogram: HdrHistogram) -> dict[str, float]:
    if not histogram.get_total_count():
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    return {f"p{p}_ms": round(histogram.get_value_at_percentile(p) / 1000, 3) for p in (50, 95, 99)} | {
        "max_ms": round(histogram.get_max_value() / 1000, 3)
    }


def _summarise(
    report: SoakReport,
    scenario: Scenario,
    per_second: dict[int, dict[str, Any]],
    total: HdrHistogram,
    finals: list[dict[str, Any]],
    rss_start: int,
    rss_end: int,
) -> None:
    errors: dict[str, int] = {}
    sent = ok = late = 0
    for second in sorted(per_second):
        slot = per_second[second]
        hist = slot.pop("hist", None)
        row = {"second": second, **slot}
        if hist is not None:
            row.update(_percentiles(hist))
        report.seconds.append(row)
        sent += slot["sent"]
        ok += slot["ok"]
        late += slot["late"]
        for kind, count in slot["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    for final in finals:  # the last partial second of each generator
        sent += final["sent"]
        ok += final["ok"]
        late += final["late"]
        for kind, count in final["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    answered = ok + sum(errors.values())
    refused = sum(count for kind, count in errors.items() if kind.startswith("refused:"))
    failed = sum(errors.values()) - refused
    opened = sum(int(final.get("opened", 0)) for final in finals)
    report.totals = {
        "sent": sent,
        "ok": ok,
        "errors": errors,
        "refused": refused,
        "failed": failed,
        "late_sends": late,
        "exactly_one_answer": answered == sent,
        "error_rate": round(failed / sent, 6) if sent else 0.0,
        "sessions_opened": opened,
        "pings_answered": sum(int(final.get("answered_pings", 0)) for final in finals),
        **_percentiles(total),
    }
    report.server = {
        "rss_start": rss_start,
        "rss_end": rss_end,
        "rss_max": max((row.get("rss", 0) for row in report.seconds), default=0),
        "rss_growth": round((rss_end - rss_start) / rss_start, 4) if rss_start else None,
    }
    if scenario.name == "idle" and opened:
        report.server["bytes_per_session"] = round((report.server["rss_max"] - rss_start) / opened)


def _baseline(report: SoakReport, before: dict[str, Any], after: dict[str, Any] | None) -> None:
    """Whether the server's connections, sessions and requests returned to where they were before the run."""
    keys = ("connections", "legacy_sessions", "in_flight", "listen_streams")
    report.server["before"] = {key: before.get(key) for key in keys}
    report.server["after"] = {key: after.get(key) for key in keys} if after is not None else None
    report.totals["returned_to_baseline"] = after is not None and all(after.get(key) == before.get(key) for key in keys)


def _judge(report: SoakReport, gates: list[SlaGate]) -> None:
    totals, server = report.totals, report.server
    for gate in gates:
        if gate.name.startswith("p"):
            value = float(totals.get(f"{gate.name}_ms", 0.0)) / 1000
        elif gate.name == "errors":
            value = float(totals.get("error_rate", 0.0))
        else:
            value = float(server.get("rss_growth") or 0.0)
        report.gates.append({"gate": gate.describe(), "value": value, "ok": value <= gate.limit})

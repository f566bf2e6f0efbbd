"""Run a scenario: start the target (our server unless one is given), the generator processes, merge their
per-second figures, sample the server's memory and CPU, show progress, apply SLA gates, build the report.

When the server is ours (started here, or an mcp-trio server whose admin endpoint is given), its ``/health``
document is read before and after the run: whether its connections, sessions and requests returned to their
baseline, and its memory profiler's and collector's figures (``server_memory`` in the report).

Each (source address, server address, server port) has only ~28K ephemeral ports: for more sessions than that to
a server on 127.0.0.1, the generators spread theirs over 127.0.0.1, 127.0.0.2, ... (``source_addresses``).
"""

from __future__ import annotations

import collections
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

from mcp_trio.runtime.memory import cpu_seconds, resident_bytes
from soak.progress import Progress, Tick
from soak.scenarios import Scenario, SlaGate

__all__ = ["SoakReport", "run_soak", "LOOPBACK", "default_source_addresses", "SESSIONS_PER_SOURCE"]

LOOPBACK: Final = ("127.", "localhost", "::1", "[::1]")
_SERVER_LOG_LINES: Final = 50
_START_DELAY: Final = 1.0  # seconds between launching the generators and the common start
#: Sessions one source address carries at most by default (of its ~28K ephemeral ports per destination).
SESSIONS_PER_SOURCE: Final = 20_000
_MAX_SOURCES: Final = 254  # 127.0.0.1 .. 127.0.0.254
_BINDABLE: Final = ("tcp", "http", "https", "ws", "wss")


@attrs.define
class SoakReport:
    """Every figure of a run (``as_dict`` is the JSON report)."""

    scenario: dict[str, Any]
    target: str
    seconds: list[dict[str, Any]] = attrs.field(factory=list)
    totals: dict[str, Any] = attrs.field(factory=dict)
    server: dict[str, Any] = attrs.field(factory=dict)
    gates: list[dict[str, Any]] = attrs.field(factory=list)
    #: How the load was made: generator processes, our server's workers, the era, source addresses, when.
    run: dict[str, Any] = attrs.field(factory=dict)
    #: Our server's ``/health`` figures (memory profiler, collector, refusals) at the start and the end; ``None``
    #: when the server is not ours.
    server_memory: dict[str, Any] | None = None
    #: The last lines our server (started here) logged: overload warnings, a crash.
    server_log: list[str] = attrs.field(factory=list)

    @property
    def passed(self) -> bool:
        return (
            all(gate["ok"] for gate in self.gates)
            and self.totals.get("exactly_one_answer", False)
            and not self.totals.get("generators_failed")
            and self.totals.get("returned_to_baseline", True)  # known only when the server is ours
        )

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "passed": self.passed}


def _lean_target(target: str) -> bool:
    return target.startswith(("tcp://", "unix:"))


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
    cpu, rss = cpu_seconds(pid), resident_bytes(pid)
    return (rss, cpu) if cpu is not None and rss else None


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


async def _keep_reading(stream: trio.abc.ReceiveStream, tail: collections.deque[str]) -> None:
    """Read ``stream`` until it ends, keeping its last lines in ``tail``."""
    partial = b""
    while chunk := await stream.receive_some(65536):
        *lines, partial = (partial + chunk).split(b"\n")
        tail.extend(line.decode(errors="replace") for line in lines if line)  # the deque keeps the last ones


def _admin_token_headers() -> dict[str, str]:
    token = os.environ.get("MCP_TRIO_ADMIN_TOKEN")
    return {"authorization": f"Bearer {token}"} if token else {}


async def _health(admin: str | None) -> dict[str, Any] | None:
    """Our server's ``/health`` document (its counts), or ``None`` without an admin endpoint or an answer."""
    if admin is None:
        return None

    def fetch() -> dict[str, Any] | None:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(f"{admin}/health", headers=_admin_token_headers())
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                document: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503 while degraded still carries the document
            try:
                document = json.loads(error.read())
            except ValueError:
                return None
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    return await trio.to_thread.run_sync(fetch)


def _memory_snapshot(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """What of a ``/health`` document the report keeps: the memory profiler (RSS, heap blocks, growth, bytes per
    connection, leak suspicion), the collector's pauses, refusals so far, and each worker's summary."""
    if document is None:
        return None
    keep = ("status", "problems", "uptime_seconds", "connections", "legacy_sessions", "in_flight", "memory", "gc")
    snapshot = {key: document.get(key) for key in keep}
    snapshot["refusals"] = (document.get("admission") or {}).get("refusals")
    if "workers" in document:
        snapshot["workers"] = document["workers"]
    snapshot["taken_at"] = round(time.time(), 3)
    return snapshot


def normalise_admin(text: str) -> str:
    """``http://host:port`` from ``host:port`` or a URL (a trailing ``/health`` or ``/`` is dropped).

    Raises:
        ValueError: neither shape.
    """
    url = text if "://" in text else f"http://{text}"
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise ValueError(f"--admin {text!r}: expected http://HOST:PORT (the admin endpoint of mcp-trio serve)")
    return f"{parts.scheme}://{parts.netloc}"


def default_source_addresses(sessions: int, target: str | None) -> int:
    """Enough 127.0.0.x source addresses that none carries more than ``SESSIONS_PER_SOURCE`` sessions, when the
    target is a network URL on 127.0.0.1 (ours is); 1 (no binding) otherwise."""
    if target is not None and not _on_127_0_0_1(target):
        return 1
    return max(1, min(_MAX_SOURCES, -(-sessions // SESSIONS_PER_SOURCE)))


def _on_127_0_0_1(target: str) -> bool:
    parts = urlsplit(target)
    return parts.scheme in _BINDABLE and parts.hostname == "127.0.0.1"


def _sources(count: int, target: str | None) -> list[str]:
    """The source addresses for ``count`` (1: none, the kernel's choice).

    Raises:
        ValueError: more than one for a target that is not a tcp/http/ws URL on 127.0.0.1, or out of range.
    """
    if not 1 <= count <= _MAX_SOURCES:
        raise ValueError(f"--source-addresses must be between 1 and {_MAX_SOURCES}, not {count}")
    if count > 1 and target is not None and not _on_127_0_0_1(target):
        raise ValueError(
            "--source-addresses above 1 needs a tcp://, http(s):// or ws(s):// target on 127.0.0.1 "
            f"(the sessions are spread over 127.0.0.x), not {target}"
        )
    return [f"127.0.0.{i}" for i in range(1, count + 1)] if count > 1 else []


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
    admin: str | None = None,
    source_addresses: int | None = None,
    engine: str = "auto",
    progress: Progress | None = None,
    emit: Callable[[str], None] = print,
) -> SoakReport:
    """Run ``scenario`` and return its report (see the module docstring).

    Args:
        admin: the admin endpoint (``http://host:port``) of a target that is an mcp-trio server: its ``/health``
            is read before and after (ours, started here, always has one).
        source_addresses: how many 127.0.0.x addresses the sessions come from (``None``:
            ``default_source_addresses``; 1: no binding).
        engine: ``lean`` (``soak.lean``: one event loop per generator process, ``tcp://`` and ``unix:`` targets
            only), ``client`` (an ``open_client`` session each, any target) or ``auto`` (lean where it applies).
        progress: shown once a second (``soak.progress``); ``None`` shows nothing.

    Raises:
        ValueError: a target that is not on this machine without ``allow_remote``; source addresses that cannot
            apply; an ``admin`` endpoint that does not answer.
    """
    if target is not None and not allow_remote and not _loopback(target):
        raise ValueError(f"{target} is not a loopback target: pass --allow-remote to load another machine")
    if engine not in ("auto", "lean", "client"):
        raise ValueError(f"engine must be auto, lean or client, not {engine!r}")
    if engine == "lean" and target is not None and not _lean_target(target):
        raise ValueError(f"the lean engine takes tcp:// and unix: targets, not {target}: use --engine client")
    count = source_addresses if source_addresses is not None else default_source_addresses(scenario.sessions, target)
    sources = _sources(count, target)
    before: dict[str, Any] | None = None
    if admin is not None:
        before = await _health(admin)
        if before is None:
            raise ValueError(f"no health document at {admin}/health: is it an mcp-trio admin endpoint?")
    async with trio.open_nursery() as nursery:
        server: trio.Process | None = None
        pids = list(target_pids or [])
        server_log: collections.deque[str] = collections.deque(maxlen=_SERVER_LOG_LINES)
        if target is None:
            server, target, pids, admin = await _start_ours(workers, emit)
            # Read its log to the end: a pipe nobody reads fills up, and a server writing a warning into a full
            # pipe blocks for good (with its logging lock held, so every task that logs blocks behind it).
            assert server.stderr is not None
            nursery.start_soon(_keep_reading, server.stderr, server_log)
        if engine == "auto":
            engine = "lean" if _lean_target(target) else "client"
        report = SoakReport(attrs.asdict(scenario), target)
        report.run = {
            "processes": max(1, min(processes, scenario.sessions)),
            "workers": workers if server is not None else None,
            "era": era,
            "engine": engine,
            "source_addresses": sources or None,
            "admin": admin,
            "started": round(time.time(), 3),
        }
        try:
            if before is None:
                before = await _health(admin)
            start_memory = _memory_snapshot(before)
            await _run(scenario, target, pids, processes, era, engine, sources, report, progress)
            if before is not None:
                await trio.sleep(1.0)  # the last sessions' connections finish closing
                after = await _health(admin)
                _baseline(report, before, after)
                report.server_memory = {"start": start_memory, "end": _memory_snapshot(after)}
        finally:
            report.run["finished"] = round(time.time(), 3)
            if server is not None:
                report.server_log = list(server_log)
                server.terminate()
                with trio.move_on_after(10):
                    await server.wait()
                if server.returncode is None:
                    server.kill()
            nursery.cancel_scope.cancel()
    _judge(report, sla or [])
    return report


def _fresh_slot() -> dict[str, Any]:
    return {
        "sent": 0, "ok": 0, "late": 0, "unsent": 0, "errors": {}, "open": 0, "open_failed": 0, "lost": 0, "hist": None,
        "shist": None,
    }  # fmt: skip


def _refused(errors: dict[str, int]) -> int:
    return sum(count for kind, count in errors.items() if kind.startswith("refused:"))


async def _run(
    scenario: Scenario,
    target: str,
    pids: list[int],
    processes: int,
    era: str,
    engine: str,
    sources: list[str],
    report: SoakReport,
    progress: Progress | None,
) -> None:
    processes = max(1, min(processes, scenario.sessions))
    start_at = time.time() + _START_DELAY + 0.5 * processes
    shares = [
        scenario.sessions // processes + (1 if i < scenario.sessions % processes else 0) for i in range(processes)
    ]
    per_second: dict[int, dict[str, Any]] = {}
    total = HdrHistogram(1, 120_000_000, 3)
    service = HdrHistogram(1, 120_000_000, 3)  # from each call's actual send (the generators' lag left out)
    finals: list[dict[str, Any]] = []
    session_errors: dict[str, int] = {}  # sessions that failed to open or were lost, by kind
    failed_generators: list[int] = []  # exit statuses of generator processes that did not finish cleanly
    baseline = [_read_proc(pid) for pid in pids]
    rss_start = sum(b[0] for b in baseline if b is not None)

    async def generator(share: int, first_index: int) -> None:
        config = {**attrs.asdict(scenario), "scenario": scenario.name, "sessions": share, "target": target}
        config.update(start_at=start_at, era=era, engine=engine, source_addresses=sources, first_index=first_index)
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
                    if "total_shist" in record:
                        service.decode_and_add(record["total_shist"])
                second = record.get("second")
                if second is None:
                    continue
                slot = per_second.setdefault(second, _fresh_slot())
                for key in ("sent", "ok", "late", "unsent", "open", "open_failed", "lost"):
                    slot[key] += record.get(key, 0)
                for kind, count in record["errors"].items():
                    slot["errors"][kind] = slot["errors"].get(kind, 0) + count
                for kind, count in record.get("session_errors", {}).items():
                    session_errors[kind] = session_errors.get(kind, 0) + count
                if slot.get("hist") is None:  # the sampler reached this second first
                    slot["hist"] = HdrHistogram(1, 120_000_000, 3)
                slot["hist"].decode_and_add(record["hist"])
                if "shist" in record:
                    if slot.get("shist") is None:
                        slot["shist"] = HdrHistogram(1, 120_000_000, 3)
                    slot["shist"].decode_and_add(record["shist"])
        await process.wait()
        if process.returncode != 0:  # its sessions' figures stop where it died: the run cannot pass
            failed_generators.append(process.returncode or -1)

    def view(second: int, slot: dict[str, Any]) -> Tick:
        hist = slot.get("hist")
        figures = _percentiles(hist) if hist is not None else _percentiles(HdrHistogram(1, 120_000_000, 3))
        errors = slot["errors"]
        refused = _refused(errors)
        done = [per_second[s] for s in range(1, second + 1) if s in per_second]
        all_refused = sum(_refused(row["errors"]) for row in done)
        return Tick(
            scenario=scenario.name,
            second=second,
            of=scenario.total_seconds,
            sessions=slot["open"],
            sent=slot["sent"],
            ok=slot["ok"],
            refused=refused,
            failed=sum(errors.values()) - refused,
            late=slot["late"],
            p50_ms=figures["p50_ms"],
            p95_ms=figures["p95_ms"],
            p99_ms=figures["p99_ms"],
            rss=slot.get("rss"),
            cpu=slot.get("cpu"),
            total_sent=sum(row["sent"] for row in done),
            total_failed=sum(sum(row["errors"].values()) for row in done) - all_refused,
            total_refused=all_refused,
            sessions_failed=sum(row["open_failed"] + row["lost"] for row in done),
        )

    shown = 0

    async def tick() -> None:
        """Each second: sample the server, then show the second before (the generators report a second when it
        ends, so the one before is complete)."""
        nonlocal shown
        previous = {pid: _read_proc(pid) for pid in pids}
        second = 0
        while True:
            second += 1
            await trio.sleep(max(0.0, start_at + second - time.time()))
            slot = per_second.setdefault(second, _fresh_slot())
            if pids:
                rss, cpu = 0, 0.0
                for pid in pids:
                    now = _read_proc(pid)
                    before = previous.get(pid)
                    if now is not None:
                        rss += now[0]
                        cpu += now[1] - (before[1] if before is not None else now[1])
                        previous[pid] = now
                slot["rss"], slot["cpu"] = rss, round(cpu, 3)
            if second >= 2 and progress is not None:
                progress.update(view(second - 1, per_second[second - 1]))
                shown = second - 1

    if progress is not None:
        progress.start(scenario.name, target)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tick)
            async with trio.open_nursery() as generators:
                first = 0
                for share in shares:
                    generators.start_soon(generator, share, first)
                    first += share
            nursery.cancel_scope.cancel()
        ended = [_read_proc(pid) for pid in pids]
        rss_end = sum(e[0] for e in ended if e is not None)
        if pids and per_second:  # the last second ended before its sample was due: it gets the final reading
            per_second[max(per_second)].setdefault("rss", rss_end)
        for second in range(shown + 1, max(per_second, default=0) + 1):  # the last ones, now complete
            slot = per_second.get(second)
            if progress is not None and slot is not None and slot.get("hist") is not None:
                progress.update(view(second, slot))
    finally:
        if progress is not None:
            progress.stop()
    _summarise(report, scenario, per_second, total, finals, rss_start, rss_end)
    report.totals.update({f"service_{key}": value for key, value in _percentiles(service).items()})
    report.totals["session_errors"] = session_errors
    report.totals["generators_failed"] = len(failed_generators)


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
    sent = ok = late = unsent = open_failed = lost = 0
    reported = [second for second, slot in per_second.items() if slot.get("hist") is not None]
    if scenario.name == "bomb":
        report.totals["bomb"] = _bomb(scenario, per_second)
    for second in sorted(per_second):
        slot = per_second[second]
        hist = slot.pop("hist", None)
        service = slot.pop("shist", None)
        if hist is None and second > max(reported, default=0):
            continue  # sampled after the generators' last second: no calls to show
        refused_now = _refused(slot["errors"])
        row = {"second": second, **slot, "refused": refused_now, "failed": sum(slot["errors"].values()) - refused_now}
        if hist is not None and hist.get_total_count():
            row.update(_percentiles(hist))
        if service is not None and service.get_total_count():
            row.update({f"service_{key}": value for key, value in _percentiles(service).items()})
        report.seconds.append(row)
        sent += slot["sent"]
        ok += slot["ok"]
        late += slot["late"]
        unsent += slot["unsent"]
        open_failed += slot["open_failed"]
        lost += slot["lost"]
        for kind, count in slot["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    answered = ok + sum(errors.values())
    refused = _refused(errors)
    failed = sum(errors.values()) - refused
    opened = sum(int(final.get("opened", 0)) for final in finals)
    report.totals = {
        **report.totals,
        "sent": sent,
        "ok": ok,
        "errors": errors,
        "refused": refused,
        "failed": failed,
        "late_sends": late,
        "unsent": unsent,  # bomb with a rate: due while the window stayed full to the end
        "exactly_one_answer": answered == sent,
        "error_rate": round(failed / sent, 6) if sent else 0.0,
        "sessions_opened": opened,
        "sessions_failed_to_open": open_failed,
        "sessions_lost": lost,
        "pings_answered": sum(int(final.get("answered_pings", 0)) for final in finals),
        **_percentiles(total),
    }
    report.server = {
        "rss_start": rss_start,
        "rss_end": rss_end,
        "rss_max": max((row.get("rss") or 0 for row in report.seconds), default=0),
        "rss_growth": round((rss_end - rss_start) / rss_start, 4) if rss_start else None,
    }
    if scenario.name == "idle" and opened:
        report.server["bytes_per_session"] = round((report.server["rss_max"] - rss_start) / opened)


def _merged(slots: list[dict[str, Any]], key: str = "hist") -> HdrHistogram:
    merged = HdrHistogram(1, 120_000_000, 3)
    for slot in slots:
        if slot.get(key) is not None:
            merged.add(slot[key])
    return merged


def _bomb(scenario: Scenario, per_second: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The bombing phase's own figures (seed 002, test 3): offered and answered rates, goodput against the best
    second, accepted latency, the server's memory against just before, and the recovery: whole seconds after
    bombing until a second's p99 is back within 1.5x (or 2 ms) of the warm-up's."""
    start, end = scenario.warmup, scenario.warmup + scenario.duration
    seconds = sorted(per_second)
    warm = [per_second[s] for s in seconds if 1 < s <= start] or [per_second[s] for s in seconds if s <= start]
    bombing = [per_second[s] for s in seconds if start < s <= end]
    cooling = [(s, per_second[s]) for s in seconds if s > end and per_second[s].get("hist") is not None]
    warm_p99 = _percentiles(_merged(warm))["p99_ms"]
    accepted = _percentiles(_merged(bombing))
    served = _percentiles(_merged(bombing, "shist"))
    length = max(1, len(bombing))
    goodput = sum(slot["ok"] for slot in bombing) / length
    peak = max((slot["ok"] for slot in per_second.values()), default=0)
    refused = sum(_refused(slot["errors"]) for slot in bombing)
    failed = sum(sum(slot["errors"].values()) for slot in bombing) - refused
    before = per_second.get(int(start), {}).get("rss")
    highest = max((slot.get("rss") or 0 for slot in bombing), default=0)
    recovery = None
    for second, slot in cooling:
        p99 = _percentiles(slot["hist"])["p99_ms"]
        if slot["hist"].get_total_count() and p99 <= max(1.5 * warm_p99, warm_p99 + 2.0):
            recovery = round(second - end, 3)
            break
    return {
        "warmup_p99_ms": warm_p99,
        "offered_per_second": round(sum(slot["sent"] + slot["unsent"] for slot in bombing) / length, 1),
        "sent_per_second": round(sum(slot["sent"] for slot in bombing) / length, 1),
        "goodput_per_second": round(goodput, 1),
        "peak_per_second": peak,
        "goodput_of_peak": round(goodput / peak, 4) if peak else None,
        "refused_per_second": round(refused / length, 1),
        "failed": failed,
        "accepted_p50_ms": accepted["p50_ms"],
        "accepted_p99_ms": accepted["p99_ms"],
        # From the actual send: what the server took, when the generators could not send on time.
        "accepted_service_p50_ms": served["p50_ms"],
        "accepted_service_p99_ms": served["p99_ms"],
        "rss_before": before,
        "rss_max": highest or None,
        "rss_growth": round((highest - before) / before, 4) if before and highest else None,
        "recovery_seconds": recovery,
    }


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

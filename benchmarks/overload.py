"""Overload control: a storm of slow calls and a bombing of pipelined ones, ours beside the official SDK.

``python -m benchmarks.overload`` prints both scenarios (about four minutes).

Setup as in the other benchmarks (PEERS.md): each server is a subprocess pinned to one core, started the way a
user would (ours through the real CLI, the SDK's ``MCPServer`` under uvicorn, stateless JSON); each generator is
another process pinned to the other core (plain non-blocking sockets on one epoll); this orchestrator sits on the
generator's core and mostly waits. Every server is started fresh for each scenario and warmed up, so "before" is
an idle, warm server; its stderr goes to a file (a chatty server can never block on a full pipe) and whatever it
logged is summarised.

**Storm** (``_storm``): ``STORM_N`` clients, each ONE 2026-07-28 ``tools/call`` of ``sleep(STORM_SECONDS)`` on
its own connection, all at once, in two meanings of "at once": *cold*, every ``connect()`` issued in one tight
loop and each request written the moment its connection is up (a storm of new clients, as PEERS.md's asyncio
client did; the accept path is part of the measure), and *warm*, the connections opened first (500 at a time,
until the server has accepted them all) and then every request written in one burst of a few tens of
milliseconds (request admission alone; a server that refuses connections at accept answers those before the
burst). Ours serves ``build_storm_server`` (``STORM_LIMITS``: 1,000 in flight, 1,100 connections); the SDK serves
the same tool with no limits (it has none). A last cold row runs ours with ``PYTHONMALLOC=malloc``, the
allocator under which memory freed after a storm goes back to the system (``mcp_trio/runtime/memory.py``).
"After" is read ``AFTER_STORM`` seconds after the last answer, once RSS has settled. A refusal is an HTTP 503
whatever its body, or a JSON-RPC error -32000 in a 200 or 503 body; a request with no answer (closed, reset, none
by ``STORM_DEADLINE``, connect failed) or with bytes after its answer is a failure.

**Bombing** (``_bomb``): ``BOMB_SESSIONS`` sessions pipeline calls without waiting for answers: a paced warm-up
(the latency baseline), ``BOMB_SECONDS`` of bombing at ``BOMB_OFFERED`` calls per second per session (seed 002's
"10,000 msg/sec per client", open loop), a paced cool-down (how fast latency recovers), then a drain (every call
must get exactly one answer). Each session keeps at most ``BOMB_WINDOW`` calls unanswered: without a cap the
kernel's socket buffers (``tcp_rmem`` up to 32 MiB here) queue ~800,000 calls. Rows:

* ours: the demo server over TCP (newline-delimited JSON, legacy handshake), default limits, ``echo``. Offered
  200,000 calls/s, more than one core answers, every session's window fills, and Little's law sets the latency
  (window x sessions / answers per second, printed): no server that answers that fast can show less to a client
  that keeps that many calls waiting. Refusing instead would not help, since a refusal costs about what a
  trivial call does (reading, framing, writing dominate).
* sdk: it has no TCP transport and HTTP/1.1 no multiplexing, so its row is the nearest fair equivalent: as many
  keep-alive connections with HTTP/1.1 pipelining (uvicorn serves pipelined requests in order), same phases.
* ours, protected: what refusals are for. ``build_work_server``'s tool burns ``WORK_SECONDS`` of CPU and each
  connection may call it ``WORK_LIMITS`` times a second; the sessions offer ``WORK_OFFERED`` a second, 25 times
  that. The excess is refused at a few microseconds each, so accepted calls keep their latency.

Goals (the overload-control issue), printed for our rows with whether they are met. Storm: every request exactly
one answer; refusals within 50 ms (p99; from the request written, or from ``connect()`` for a connection refused
before its request was written); peak RSS within +25% of before and back within +5% after; accepted calls in
about their 2 s. Bombing: RSS bounded; nothing unanswered; p99 of accepted calls within 50 ms; latency back to
the warm-up's within 1 s of the end of the bombing.

Limits to know: 2 x ``STORM_N`` descriptors are needed at once (``raise_fd_limit(20_000)``; children inherit it);
storm clients bind to 127.0.0.1-127.0.0.8 in turn (``IP_BIND_ADDRESS_NO_PORT``), so repeated storms stay far from
the 28,000 ephemeral ports per source address and from TIME_WAIT collisions; every port is ephemeral.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Final

import attrs
import trio

from benchmarks import _bomb, _storm
from benchmarks._procs import Children, cpu_seconds, load_core, pinned_self, raise_fd_limit, rss_bytes, server_core
from benchmarks._tcpstat import tcp_counters
from benchmarks.tcp_throughput import _free_port, _wait_port, peer_python
from mcp_trio import Server, ServerConfig
from mcp_trio.runtime import RuntimeConfig

__all__ = ["build_storm_server", "build_work_server", "main"]

STORM_N: Final = 5_000
STORM_SECONDS: Final = 2.0
STORM_DEADLINE: Final = 60.0  # seconds after the first connect() by which every answer must be in
AFTER_STORM: Final = 2.0  # seconds after the last answer before "after" is read (then it must have settled)
STORM_WARMUP_N: Final = 100  # warm-up calls before a storm (first-use costs belong in the baseline)
#: The storm server's limits (``RuntimeConfig`` keys): 1,000 in flight, as the overload-control issue asks.
STORM_LIMITS: Final = {"max_in_flight": 1000, "max_connections": 1100}
FD_LIMIT: Final = 20_000
_LIMITED: Final = "benchmarks.overload:build_storm_server"
_WORK: Final = "benchmarks.overload:build_work_server"

BOMB_SESSIONS: Final = 20
BOMB_WARMUP: Final = 3.0  # seconds at BOMB_RATE (the latency baseline)
BOMB_SECONDS: Final = 30.0  # seconds of bombing
BOMB_COOLDOWN: Final = 5.0  # seconds at BOMB_RATE again (recovery)
BOMB_DRAIN: Final = 20.0  # longest wait after the cool-down for the last answers
BOMB_RATE: Final = 10.0  # calls per second per session in warm-up and cool-down (200/s in all)
BOMB_WINDOW: Final = 1_000  # unanswered calls per session while bombing (see ``bombing``)
BOMB_OFFERED: Final = 10_000.0  # calls per second per session while bombing (seed 002: "10,000 msg/sec per client")
WORK_SECONDS: Final = 100e-6  # CPU each call of the protected bombing's ``work`` tool burns
WORK_OFFERED: Final = 2_500.0  # calls per second per session in the protected bombing (25x what it may run)
#: The per-session rate limit of ``build_work_server`` (``RuntimeConfig`` keys).
WORK_LIMITS: Final = {"connection_rate": 100.0, "connection_burst": 10}
RECOVERY_BUCKET: Final = 0.1  # seconds per window of the recovery measure
RECOVERY_FACTOR: Final = 2.0  # a window has recovered when its p99 is within this factor of the warm-up p99
RECOVERY_RUN: Final = 2  # ... and so has the window after it (one lucky window is not a recovery)

GOAL_BOMB_P99: Final = 0.050
GOAL_RECOVERY: Final = 1.0
GOAL_BOMB_RSS: Final = 1.25

GOAL_REFUSAL_P99: Final = 0.050
GOAL_PEAK_RSS: Final = 1.25
GOAL_AFTER_RSS: Final = 1.05
GOAL_RESULT_P99: Final = STORM_SECONDS * 1.25  # "about 2 s": every accepted call within +25% of its sleep
_MIB: Final = 2**20
MALLOC_ROW: Final = "ours, PYTHONMALLOC=malloc"


# ---------------------------------------------------------------------------------------------- the servers


def build_storm_server(limits: dict[str, int] | None = None) -> Server:
    """The storm's server: an async ``sleep`` tool, under ``STORM_LIMITS`` (or ``limits``)."""
    runtime = RuntimeConfig(**(STORM_LIMITS if limits is None else limits))
    server = Server("overload-storm", "1.0.0", config=ServerConfig(runtime=runtime))

    async def sleep(seconds: float) -> str:
        """Sleep for ``seconds``, then say so."""
        await trio.sleep(seconds)
        return f"slept {seconds:.1f}s"

    server.add_tool(sleep)
    return server


def build_work_server() -> Server:
    """The protected bombing's server: a ``work`` tool that burns ``WORK_SECONDS`` of CPU on the event loop, under
    a per-connection rate limit (``WORK_LIMITS``), as an operator who knows what the tool costs configures it."""
    server = Server("overload-work", "1.0.0", config=ServerConfig(runtime=RuntimeConfig(**WORK_LIMITS)))

    @server.tool(blocking=False)
    def work(text: str) -> str:
        """Burn ``WORK_SECONDS`` of CPU, then return ``text``."""
        until = time.perf_counter() + WORK_SECONDS
        while time.perf_counter() < until:
            pass
        return text

    return server


class _Server:
    """A server under test: its process, port and log (stderr goes to a file, so it can never block on a pipe)."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_lines(self) -> list[str]:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace").splitlines()


def _port_from_log(proc: subprocess.Popen[bytes], log: IO[bytes], scheme: str) -> int:
    """The port our CLI says it listens on (its stderr goes to ``log``)."""
    needle = f"listening on {scheme}://"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in Path(log.name).read_text(errors="replace").splitlines():
            if needle in line:
                return int(line.strip().rsplit(":", 1)[1].split("/", 1)[0])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"our server did not start: {Path(log.name).read_text(errors='replace')[-2000:]}")


def _start_ours(
    children: Children, argv: Sequence[str], scheme: str, *, name: str = "ours", allocator: str | None = None
) -> _Server:
    """Our CLI serving ``argv``; ``allocator`` sets ``PYTHONMALLOC`` (``"malloc"``: glibc for every object)."""
    log = tempfile.NamedTemporaryFile(prefix="overload-ours-", suffix=".log")  # noqa: SIM115 (closed with it)
    env = dict(os.environ)
    env.pop("PYTHONMALLOC", None)
    if allocator is not None:
        env["PYTHONMALLOC"] = allocator
    proc = children.start(
        [sys.executable, "-m", "mcp_trio", "serve", *argv, "--log-level", "warning"],
        core=server_core(),
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env,
    )
    return _Server(name, proc, _port_from_log(proc, log, scheme), log)


def _start_sdk(children: Children, python: str) -> _Server:
    log = tempfile.NamedTemporaryFile(prefix="overload-sdk-", suffix=".log")  # noqa: SIM115 (closed with it)
    port = _free_port()
    proc = children.start(
        [python, "-m", "benchmarks._sdk_peer", "http", str(port)],
        core=server_core(),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    _wait_port(port, proc, timeout=60)
    return _Server("sdk", proc, port, log)


def settled_rss(pid: int, *, step: float = 0.25, longest: float = 4.0) -> int:
    """VmRSS once two readings ``step`` apart agree within 0.5% (or after ``longest`` seconds)."""
    value = rss_bytes(pid)
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        time.sleep(step)
        previous, value = value, rss_bytes(pid)
        if abs(value - previous) <= previous * 0.005:
            break
    return value


# ---------------------------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of already sorted ``values`` (nearest rank); NaN when empty."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def _dist(values_ns: Sequence[int], unit: str = "s") -> str:
    values = sorted(values_ns)
    if not values:
        return "none"
    scale, fmt = (1e9, "{:.2f} s") if unit == "s" else (1e6, "{:.1f} ms")
    p50, p99, top = (percentile(values, 0.5) / scale, percentile(values, 0.99) / scale, values[-1] / scale)
    return f"p50 {fmt.format(p50)}, p99 {fmt.format(p99)}, max {fmt.format(top)}"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


# ---------------------------------------------------------------------------------------------- storm


@attrs.frozen
class StormRow:
    server: str
    mode: str
    result: _storm.Result
    rss_before: int
    rss_peak: int
    rss_after: int
    kernel: dict[str, int]
    alive: bool
    log: list[str]

    @property
    def failures(self) -> int:
        return sum(self.result.counts[kind] for kind in _storm.FAILURES)


def _storm_once(children: Children, server: _Server, mode: str) -> StormRow:
    config = _storm.Config(port=server.port, n=STORM_WARMUP_N, seconds=0.05, mode="warm", deadline=30.0)
    _storm.run(config, core=load_core(), children=children)  # warm-up
    before = settled_rss(server.pid)
    counters = tcp_counters()
    config = _storm.Config(
        port=server.port, n=STORM_N, seconds=STORM_SECONDS, mode=mode, deadline=STORM_DEADLINE, server_pid=server.pid
    )
    result = _storm.run(config, core=load_core(), children=children)
    kernel = {name: value - counters[name] for name, value in tcp_counters().items()}
    alive = server.proc.poll() is None
    if alive:
        time.sleep(AFTER_STORM)
    after = settled_rss(server.pid) if alive else 0
    peak = max((rss for _, rss in result.rss), default=0)
    return StormRow(server.name, mode, result, before, peak, after, kernel, alive, server.log_lines())


def _print_storm(row: StormRow) -> None:
    r = row.result
    c = r.counts
    answers = c["result"] + c["overload"] + c["error"]
    print(
        f"  {row.server}, {row.mode}: {answers:,} of {r.n:,} answered: {c['result']:,} results, {c['overload']:,} "
        f"refusals ({r.answered_before_sent:,} before the request was written), {c['error']:,} other errors; "
        f"failures {row.failures:,}"
        + (" (" + ", ".join(f"{kind} {c[kind]:,}" for kind in _storm.FAILURES if c[kind]) + ")" if row.failures else "")
        + ("" if row.alive else "; the server DIED")
    )
    print(
        f"    results, from the request written: {_dist(r.result_ns)}; first after {r.first_result_s:.2f} s, "
        f"all in after {r.last_result_s:.2f} s"
    )
    if r.mode == "cold":
        print(f"    results, from connect(): {_dist(r.result_from_connect_ns)}")
    print(
        f"    refusals of written requests, from the request written: {_dist(r.refusal_ns, 'ms')}"
        + (f"; from connect(): {_dist(r.refusal_from_connect_ns, 'ms')}" if r.mode == "cold" and r.refusal_ns else "")
    )
    if r.accept_refusal_ns:
        print(f"    refusals before the request was written, from connect(): {_dist(r.accept_refusal_ns, 'ms')}")
    for kind, example in r.examples.items():
        print(f"    e.g. {kind}: {example[:200]}")
    before, peak, after = row.rss_before / _MIB, row.rss_peak / _MIB, row.rss_after / _MIB
    print(
        f"    server RSS: {before:.1f} MiB before, {peak:.1f} MiB peak ({peak / before - 1:+.0%}), "
        f"{after:.1f} MiB after settling ({after / before - 1:+.0%})"
    )
    queue_peak = max((q for _, q in r.queue), default=0)
    k = row.kernel
    print(
        f"    kernel: accept queue peak {queue_peak:,} of {r.backlog:,} (backlog); ListenOverflows "
        f"+{k['ListenOverflows']:,}, ListenDrops +{k['ListenDrops']:,}, SYN retransmits +{k['TCPSynRetrans']:,}; "
        f"connections established (client side): {_dist(r.connect_ns, 'ms')}, all after {r.connected_after:.2f} s"
    )
    print(
        f"    generator: requests written over {r.burst_spread * 1e3:.0f} ms"
        + (f" (accept queue {r.queued_at_burst} at the burst)" if r.mode == "warm" else "")
        + f", {r.gen_cpu:.1f} s of its CPU"
    )
    noisy = [line for line in row.log if "listening on" not in line]
    if noisy:
        print(f"    server log: {len(noisy)} lines, e.g. {noisy[0][:160]}")


def _goal(label: str, figure: str, ok: bool | None) -> None:
    print(f"    {label:<58} {figure:<34} {_verdict(ok)}")


def _storm_goals(row: StormRow) -> None:
    r = row.result
    refusals = sorted([*r.refusal_ns, *r.accept_refusal_ns])
    results = sorted(r.result_ns)
    p50 = percentile(results, 0.5) / 1e9 if results else float("nan")
    p99 = percentile(results, 0.99) / 1e9 if results else float("nan")
    peak = row.rss_peak / row.rss_before
    after = row.rss_after / row.rss_before
    print(f"  goals ({row.server}, {row.mode} storm):")
    _goal("every request exactly one answer", f"{row.failures:,} failures", row.failures == 0 and row.alive)
    if refusals:
        refusal_p99 = percentile(refusals, 0.99) / 1e9
        _goal(
            f"refusals within {GOAL_REFUSAL_P99 * 1e3:.0f} ms (p99, all of them)",
            f"p99 {refusal_p99 * 1e3:.1f} ms",
            refusal_p99 <= GOAL_REFUSAL_P99,
        )
    else:
        _goal(f"refusals within {GOAL_REFUSAL_P99 * 1e3:.0f} ms (p99, all of them)", "none refused", None)
    _goal(f"peak RSS within +{GOAL_PEAK_RSS - 1:.0%} of before", f"{peak - 1:+.0%}", peak <= GOAL_PEAK_RSS)
    _goal(f"RSS back within +{GOAL_AFTER_RSS - 1:.0%} after", f"{after - 1:+.0%}", after <= GOAL_AFTER_RSS)
    _goal(
        f"accepted calls in about {STORM_SECONDS:g} s (p99 <= {GOAL_RESULT_P99:.1f} s)",
        f"p50 {p50:.2f} s, p99 {p99:.2f} s",
        p99 <= GOAL_RESULT_P99,
    )


def storm(python: str, report: Callable[[StormRow], None]) -> None:
    """Each storm against ours then the SDK (cold and warm), then a cold one against ours started with
    ``PYTHONMALLOC=malloc``; each server fresh. ``report`` gets each row as it is done."""
    argv = [_LIMITED, "--http", "127.0.0.1:0"]
    rows = (("ours", "cold", None), ("sdk", "cold", None), ("ours", "warm", None), ("sdk", "warm", None))
    with pinned_self(load_core()), Children() as children:
        for name, mode, allocator in (*rows, (MALLOC_ROW, "cold", "malloc")):
            if name == "sdk":
                server = _start_sdk(children, python)
            else:
                server = _start_ours(children, argv, "http", name=name, allocator=allocator)
            try:
                row = _storm_once(children, server, mode)
            finally:
                children.kill(server.proc)
                server.log.close()
            report(row)


# ---------------------------------------------------------------------------------------------- bombing


@attrs.frozen
class BombRow:
    server: str
    wire: str
    result: _bomb.Result
    cpu: float  # the server's CPU seconds over the whole run
    alive: bool
    log: list[str]

    def phase_dist(self, phase: str) -> str:
        return _dist(self.result.phases[phase].result_ns, "ms")

    def p99(self, phase: str) -> float:
        values = sorted(self.result.phases[phase].result_ns)
        return percentile(values, 0.99) / 1e9 if values else float("nan")

    def recovery(self) -> float | None:
        """Seconds after the bombing until cool-down latency is back near the warm-up's (None: not in the
        cool-down): the start of the first ``RECOVERY_BUCKET`` window (by send time) whose p99, and that of the
        ``RECOVERY_RUN - 1`` windows after it, is within ``RECOVERY_FACTOR`` times the warm-up p99."""
        limit = RECOVERY_FACTOR * self.p99("warmup") * 1e9
        ok = {w: p99 <= limit for w, p99 in self.cooldown_windows().items()}
        ordered = sorted(ok)
        for at, w in enumerate(ordered):
            run = ordered[at : at + RECOVERY_RUN]
            if len(run) == RECOVERY_RUN and all(ok[x] for x in run):
                return w * RECOVERY_BUCKET
        return None

    def cooldown_windows(self) -> dict[int, float]:
        """p99 latency (ns) of the cool-down's results, per ``RECOVERY_BUCKET`` window by send time."""
        windows: dict[int, list[int]] = {}
        for sent, latency in self.result.cooldown_sends:
            windows.setdefault(int(sent / RECOVERY_BUCKET), []).append(latency)
        return {w: percentile(sorted(v), 0.99) for w, v in sorted(windows.items())}

    def rss_figures(self) -> tuple[int, int, int, int]:
        """(before the bombing, peak during it, at a third of it, at its end), bytes."""
        r = self.result
        bomb_start = BOMB_WARMUP
        before = [rss for t, rss in r.rss if t < bomb_start]
        during = [(t, rss) for t, rss in r.rss if bomb_start <= t < r.bombing_ended]
        if not before or not during:
            return 0, 0, 0, 0
        third = bomb_start + (r.bombing_ended - bomb_start) / 3
        at_third = next((rss for t, rss in during if t >= third), during[-1][1])
        return before[-1], max(rss for _, rss in during), at_third, during[-1][1]


def _bomb_once(
    children: Children, server: _Server, wire: str, *, offered: float = BOMB_OFFERED, tool: str = "echo"
) -> BombRow:
    config = _bomb.Config(
        wire=wire,
        port=server.port,
        sessions=BOMB_SESSIONS,
        warmup=BOMB_WARMUP,
        duration=BOMB_SECONDS,
        cooldown=BOMB_COOLDOWN,
        drain=BOMB_DRAIN,
        rate=BOMB_RATE,
        window=BOMB_WINDOW,
        bomb_rate=offered,
        tool=tool,
        server_pid=server.pid,
        bucket=RECOVERY_BUCKET,
    )
    cpu0 = cpu_seconds(server.pid)
    result = _bomb.run(config, core=load_core(), children=children)
    alive = server.proc.poll() is None
    cpu = cpu_seconds(server.pid) - cpu0 if alive else float("nan")
    return BombRow(server.name, wire, result, cpu, alive, server.log_lines())


def bombing(python: str, report: Callable[[BombRow], None]) -> None:
    """Three rows, each server fresh; ``report`` gets each row as it is done.

    * ours: ``mcp-trio serve --tcp`` (the demo server, default limits), ``BOMB_SESSIONS`` ndjson sessions bombing
      ``echo`` at ``BOMB_OFFERED`` calls/s each.
    * sdk: it has no TCP transport and HTTP/1.1 has no multiplexing, so its nearest equivalent is
      ``BOMB_SESSIONS`` keep-alive connections with HTTP/1.1 pipelining (uvicorn serves pipelined requests in
      order): each writes its next requests without waiting for the answers, as our sessions do, in the same
      phases and window.
    * ours, protected: ``build_work_server`` (a tool of ``WORK_SECONDS`` of CPU, rate-limited per connection),
      bombed at ``WORK_OFFERED`` calls/s per session: the case refusals are for, where refusing costs far less
      than the work refused.
    """
    rows = (
        ("ours", ["--tcp", "127.0.0.1:0"], BOMB_OFFERED, "echo"),
        ("sdk", [], BOMB_OFFERED, "echo"),
        ("ours, protected", [_WORK, "--tcp", "127.0.0.1:0"], WORK_OFFERED, "work"),
    )
    with pinned_self(load_core()), Children() as children:
        for name, argv, offered, tool in rows:
            server = _start_sdk(children, python) if name == "sdk" else _start_ours(children, argv, "tcp")
            server.name = name
            try:
                row = _bomb_once(children, server, "http" if name == "sdk" else "ndjson", offered=offered, tool=tool)
            finally:
                children.kill(server.proc)
                server.log.close()
            report(row)


def _print_bomb(row: BombRow) -> None:
    r = row.result
    wire = "tcp ndjson, legacy session" if row.wire == "ndjson" else "http pipelined, 2026-07-28"
    bombing_phase = r.phases["bombing"]
    answered = (bombing_phase.results + bombing_phase.overload + bombing_phase.errors) / BOMB_SECONDS
    print(
        f"  {row.server} ({wire}): {sum(p.sent for p in r.phases.values()):,} calls sent, "
        f"{bombing_phase.results / BOMB_SECONDS:,.0f} results/s and {answered:,.0f} answers/s while bombing, "
        f"CPU: server {row.cpu:.1f} s, "
        f"generator {r.gen_cpu:.1f} s; "
        f"unanswered {r.unanswered:,}, duplicate answers {r.duplicates:,}, most unanswered at once "
        f"{r.outstanding_peak:,}"
        + ("" if row.alive else "; the server DIED")
        + (f"; ERROR {r.error}" if r.error else "")
    )
    for phase in _bomb.PHASES:
        figures = r.phases[phase]
        print(
            f"    {phase:<9} sent {figures.sent:>9,}: {figures.results:>9,} results, {figures.overload:>7,} refusals "
            f"(-32000), {figures.errors:>5,} other errors; accepted calls {row.phase_dist(phase)}"
        )
    if answered:
        print(
            f"    Little's law: a client keeping {r.outstanding_peak:,} calls unanswered sees a mean latency of "
            f"{r.outstanding_peak / answered * 1e3:,.0f} ms from any server that answers {answered:,.0f} a second"
        )
    recovery = row.recovery()
    drained = f"{r.drained_after:.1f} s after the cool-down" if r.drained_after == r.drained_after else "never"
    print(
        "    recovery: "
        + (
            f"{recovery:.1f} s after the bombing"
            if recovery is not None
            else f"not within the {BOMB_COOLDOWN:.0f} s cool-down"
        )
        + f" (windows of {RECOVERY_BUCKET * 1e3:.0f} ms by send time, p99 within {RECOVERY_FACTOR:g}x the warm-up p99 "
        f"{row.p99('warmup') * 1e3:.2f} ms, {RECOVERY_RUN} in a row); last answer {drained}"
    )
    first = list(row.cooldown_windows().values())[:15]
    print(f"    cool-down windows' p99, first {len(first)}: " + ", ".join(f"{v / 1e6:.1f}" for v in first) + " ms")
    before, peak, third, end = row.rss_figures()
    series = ", ".join(f"{rss / _MIB:.0f}@{t:.0f}s" for t, rss in r.rss[:: max(1, round(5 / 0.1))])
    if before:
        print(
            f"    server RSS: {before / _MIB:.1f} MiB before, peak {peak / _MIB:.1f} MiB ({peak / before - 1:+.0%}) "
            f"while bombing, {third / _MIB:.1f} MiB a third in, {end / _MIB:.1f} MiB at its end; every 5 s: {series} "
            f"(MiB@time)"
        )
    for kind, example in r.examples.items():
        print(f"    e.g. {kind}: {example[:200]}")
    noisy = [line for line in row.log if "listening on" not in line]
    if noisy:
        print(f"    server log: {len(noisy)} lines, e.g. {noisy[0][:160]}")


def _bomb_goals(row: BombRow) -> None:
    r = row.result
    before, peak, third, end = row.rss_figures()
    bounded = bool(before) and peak <= before * GOAL_BOMB_RSS and end <= third * 1.05
    answered = r.unanswered == 0 and r.duplicates == 0 and not r.error and row.alive
    p99 = row.p99("bombing")
    recovery = row.recovery()
    print(f"  goals ({row.server}, bombing):")
    _goal(
        f"RSS bounded (peak <= +{GOAL_BOMB_RSS - 1:.0%}, no growth after a third)",
        f"peak {peak / before - 1:+.0%}, end {end / third - 1:+.0%} vs a third" if before else "no samples",
        bounded,
    )
    _goal("nothing unanswered", f"{r.unanswered:,} unanswered, {r.duplicates:,} duplicated", answered)
    _goal(f"p99 of accepted calls <= {GOAL_BOMB_P99 * 1e3:.0f} ms", f"p99 {p99 * 1e3:,.1f} ms", p99 <= GOAL_BOMB_P99)
    _goal(
        f"latency back to baseline within {GOAL_RECOVERY:g} s of the end",
        f"{recovery:.1f} s" if recovery is not None else f"not within {BOMB_COOLDOWN:g} s",
        recovery is not None and recovery <= GOAL_RECOVERY,
    )


def main() -> None:
    limit = raise_fd_limit(FD_LIMIT)
    if limit < 2 * STORM_N + 1000:
        print(f"  skipped: the file-descriptor limit is {limit}, fewer than {2 * STORM_N + 1000}")
        return
    python, _ = peer_python()
    print(
        f"storm: {STORM_N:,} clients, each ONE 2026-07-28 tools/call sleep({STORM_SECONDS:g}) on its own Streamable "
        f"HTTP connection, all at once; server pinned to core {server_core()}, generator (separate process) to core "
        f"{load_core()}"
    )
    print(
        "  ours: benchmarks.overload:build_storm_server via the CLI; limits: "
        + ", ".join(f"{name}={value}" for name, value in STORM_LIMITS.items())
        + " (the connection limit bounds what the excess clients cost)"
    )
    print("  sdk: mcp 2.3.0 MCPServer, stateless JSON under uvicorn, no limits (it has none)")
    print(
        "  cold: every connect() issued in one loop, each request written as soon as its connection is up (a storm "
        "of new clients); warm: the connections opened and accepted first, then every request written in one burst"
    )
    print(
        "  a refusal is an HTTP 503 (any body) or a JSON-RPC -32000 in a 200/503 body; a failure is a request with "
        "no answer (closed, reset, timed out, connect failed) or more than one"
    )

    def report_storm(row: StormRow) -> None:
        _print_storm(row)
        if row.server != "sdk":
            _storm_goals(row)
        sys.stdout.flush()

    storm(python, report_storm)
    print(
        f"bombing: {BOMB_SESSIONS} sessions each pipelining tools/call without waiting for answers: "
        f"{BOMB_WARMUP:g} s at {BOMB_RATE:g} calls/s per session, {BOMB_SECONDS:g} s at {BOMB_OFFERED:,.0f} calls/s "
        f"per session (seed 002; at most {BOMB_WINDOW:,} unanswered per session), {BOMB_COOLDOWN:g} s at "
        f"{BOMB_RATE:g}/s again"
    )
    print(
        "  ours: mcp-trio serve --tcp (the demo server, default limits), echo; sdk: no TCP transport, so HTTP/1.1 "
        f"pipelining on {BOMB_SESSIONS} keep-alive connections (2026-07-28 stateless POSTs), same phases and window; "
        f"ours, protected: a tool burning {WORK_SECONDS * 1e6:.0f} us of CPU, bombed at {WORK_OFFERED:,.0f} calls/s "
        f"per session, under {', '.join(f'{k}={v:g}' for k, v in WORK_LIMITS.items())}"
    )
    bomb_rows: dict[str, BombRow] = {}

    def report_bomb(row: BombRow) -> None:
        bomb_rows[row.server] = row
        _print_bomb(row)
        if row.server != "sdk":
            _bomb_goals(row)
        sys.stdout.flush()

    bombing(python, report_bomb)
    ours, sdk = bomb_rows.get("ours"), bomb_rows.get("sdk")
    if ours is not None and sdk is not None and sdk.result.phases["bombing"].results:
        ratio = ours.result.phases["bombing"].results / sdk.result.phases["bombing"].results
        print(f"  ours / sdk results per second while bombing: {ratio:.1f}x (our TCP against its pipelined HTTP)")


if __name__ == "__main__":
    main()

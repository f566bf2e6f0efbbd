"""``mcp-trio serve --workers N``: N server processes on the same ports, supervised OTP-style by a parent.

Theory of operation
-------------------
Python serves on one core per process, and a process here may hold at most 20,000 open files, so a box serves
100,000 sessions only with several processes. The parent does no MCP work: it reserves the ports, starts the
workers, and supervises them with the ``supervision`` package (``one_for_one``, permanent children, a restart
intensity), so a crashed worker is replaced and too many crashes in a short time stop the whole server with a
clear error instead of a restart loop.

* **Ports.** Each worker binds its own listening socket with ``SO_REUSEPORT`` (gunicorn's ``--reuse-port``
  model) and the kernel spreads new connections over the workers. One socket shared by every worker would wake
  them all on each connection (Trio's epoll loop cannot ask for ``EPOLLEXCLUSIVE``). For port 0 the parent binds
  a ``SO_REUSEPORT`` socket without listening on it: that picks the port, reserves it across worker restarts, and
  receives no connections.
* **Heartbeats.** Each worker inherits the write end of a pipe and writes one JSON line when its tree is up
  (``ready``) and then every ``heartbeat_interval`` (its counts). A worker silent for ``heartbeat_timeout`` is
  killed and replaced, like one that exits. A worker whose parent is gone (the pipe breaks) stops itself.
* **Signals.** SIGTERM or SIGINT: every worker gets SIGTERM at once and drains (stops accepting, lets requests in
  flight finish within its shutdown deadline), and the parent waits up to ``drain_timeout`` for them before
  SIGKILL. A second signal kills them at once. SIGHUP replaces the workers one at a time, each new one ready
  before the old one drains. SIGUSR1 prints each worker's last heartbeat.
* **Sessions on any worker.** The 2026-07-28 wire and newline-delimited connections need nothing: a request or a
  connection is served wherever it lands. A legacy HTTP session lives in the worker that created it, and its id
  starts with that worker's id; each worker also serves its HTTP endpoints on Unix sockets in a directory the
  parent makes, and a request for another worker's session is relayed to its owner there
  (``transports/http/forward.py``), resumable SSE streams included.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final, Literal

import attrs
import trio

from mcp_trio.observability import WorkersObserver, serve_admin
from mcp_trio.runtime.config import RuntimeConfig
from mcp_trio.runtime.listeners import bind_reuse_port
from mcp_trio.runtime.memory import cpu_seconds
from supervision import ChildSpec, Restart, Supervisor, open_supervisor

__all__ = [
    "WorkerSettings",
    "WorkerFailed",
    "serve_workers",
    "reserve_ports",
    "raise_file_limit",
    "Capacity",
    "connection_capacity",
    "FILE_RESERVE",
    "WorkerBus",
    "WORKER_ID_ENV",
    "WORKER_DIR_ENV",
    "WORKER_BUS_ENV",
    "REQUEST_STATE_KEY_ENV",
]

log: Final = logging.getLogger("mcp_trio.workers")
#: Environment a worker gets from its parent: its id (legacy HTTP session ids start with it) and the directory
#: where each worker's HTTP endpoints also listen on Unix sockets (``transports/http/forward.py``).
WORKER_ID_ENV: Final = "MCP_TRIO_WORKER_ID"
WORKER_DIR_ENV: Final = "MCP_TRIO_WORKER_DIR"
#: The descriptor a worker reads the other workers' notifications from (``WorkerBus``).
WORKER_BUS_ENV: Final = "MCP_TRIO_WORKER_BUS"
#: The key every worker seals 2026-07-28 ``requestState`` with (hex), so an input round may land anywhere.
REQUEST_STATE_KEY_ENV: Final = "MCP_TRIO_REQUEST_STATE_KEY"


@attrs.frozen
class WorkerSettings:
    """How the parent runs its workers.

    Attributes:
        count: worker processes.
        heartbeat_interval: seconds between a worker's heartbeats.
        heartbeat_timeout: seconds of silence after which a worker is killed and replaced, unless it is busy.
        busy_grace: seconds more a silent worker gets while it keeps using CPU: a burst of requests can hold its
            event loop in one long round (100,000 pings at once on two cores did), and killing it then would drop
            every session it holds. A hung worker uses no CPU and is killed at ``heartbeat_timeout``; one spinning
            for good is killed at ``heartbeat_timeout + busy_grace``.
        start_timeout: seconds a new worker has to report ready.
        drain_timeout: seconds the workers have to finish after SIGTERM before they are killed.
        intensity, period: more than ``intensity`` restarts within ``period`` seconds stop the server.
    """

    count: int
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 10.0
    busy_grace: float = 30.0
    start_timeout: float = 30.0
    drain_timeout: float = 30.0
    intensity: int = 5
    period: float = 30.0

    def __attrs_post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("workers must be at least 1")
        if not 0 < self.heartbeat_interval < self.heartbeat_timeout:
            raise ValueError("heartbeat_interval must be positive and shorter than heartbeat_timeout")
        if self.busy_grace < 0:
            raise ValueError("busy_grace must not be negative")


class WorkerFailed(Exception):
    """A worker exited, stopped heartbeating, or never became ready (its supervisor restarts it)."""


def raise_file_limit() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit (workers inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


#: Descriptors a server process keeps for itself whatever ``[runtime] max_connections`` says: stdio, the epoll
#: and wake-up descriptors, listening sockets (several per address), the worker pipes, relays to other workers'
#: Unix sockets, files its handlers open. By default the runtime refuses connections past 90% of the file limit,
#: a larger reserve; this one bounds an explicit ``max_connections`` set close to (or above) the limit.
FILE_RESERVE: Final = 64


@attrs.frozen
class Capacity:
    """Connections a deployment can hold: ``per_worker`` x ``workers``.

    Attributes:
        workers: server processes (``--workers``; 1 without it).
        file_limit: each process's open-file limit (soft ``RLIMIT_NOFILE``, after raising it to the hard one).
        per_worker: connections one process accepts: its runtime's connection limit (``[runtime]
            max_connections``, by default 90% of ``file_limit``), at most ``file_limit - FILE_RESERVE``.
        limited_by: what sets ``per_worker``: ``"default"`` (90% of the file limit), ``"max_connections"`` (set
            explicitly) or ``"file_limit"`` (an explicit ``max_connections`` past ``file_limit - FILE_RESERVE``).
    """

    workers: int
    file_limit: int
    per_worker: int
    limited_by: Literal["default", "max_connections", "file_limit"]

    @property
    def total(self) -> int:
        return self.workers * self.per_worker

    def workers_for(self, connections: int) -> int | None:
        """Workers needed to hold ``connections`` at this per-worker capacity (None: no number can)."""
        return -(-connections // self.per_worker) if self.per_worker > 0 else None

    def shortfall(self, connections: int) -> str | None:
        """None when ``connections`` fits, else one line naming the target, the capacity and the workers needed."""
        if connections <= self.total:
            return None
        reserve = {
            "default": "less 10% kept for the process's own descriptors; [runtime] max_connections sets it",
            "max_connections": "[runtime] max_connections",
            "file_limit": f"less {FILE_RESERVE} kept for the process's own descriptors",
        }[self.limited_by]
        plural = "s" if self.workers != 1 else ""
        line = (
            f"[serve] connections = {connections:,} cannot be reached: {self.workers} worker{plural} x "
            f"{self.per_worker:,} connections = {self.total:,} (per process: open-file limit {self.file_limit:,}, "
            f"{reserve}); "
        )
        needed = self.workers_for(connections)
        if needed is None:
            return line + "no number of workers can: raise the open-file hard limit (ulimit -Hn, LimitNOFILE=)"
        return line + f"it needs --workers {needed} (or a higher open-file hard limit: ulimit -Hn, LimitNOFILE=)"


def connection_capacity(workers: int, file_limit: int, runtime: RuntimeConfig) -> Capacity:
    """The connections ``workers`` processes can hold, each with ``file_limit`` open files and ``runtime``'s
    connection limit (``RuntimeConfig.connection_limit``: ``max_connections``, or 90% of the file limit)."""
    ceiling = max(0, file_limit - FILE_RESERVE)
    wanted = runtime.connection_limit(file_limit)
    limited_by: Literal["default", "max_connections", "file_limit"]
    limited_by = "default" if runtime.max_connections is None else "max_connections"
    if wanted > ceiling:
        wanted, limited_by = ceiling, "file_limit"
    return Capacity(workers=workers, file_limit=file_limit, per_worker=wanted, limited_by=limited_by)


class _Outbox:
    """JSON lines waiting for one pipe, written by one task: bounded (``MAX_PENDING`` lines; a repeat of a line
    already waiting is dropped, as notifications coalesce) so a stuck reader costs bounded memory."""

    MAX_PENDING: Final = 1000
    __slots__ = ("dropped", "lines", "wake")

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.wake = trio.Event()
        self.dropped = 0

    def put(self, line: bytes) -> None:
        if len(self.lines) >= self.MAX_PENDING or line in self.lines:
            self.dropped += 1
            return
        self.lines.append(line)
        self.wake.set()

    async def write_forever(self, stream: trio.lowlevel.FdStream) -> None:
        while True:
            await self.wake.wait()
            self.wake = trio.Event()
            lines, self.lines = self.lines, []
            await stream.send_all(b"".join(lines))


class _Worker:
    """What the parent knows of one worker: its process, its last heartbeat, what waits to be sent to it."""

    __slots__ = ("down", "last", "process", "signalled", "slot")

    def __init__(self, slot: str) -> None:
        self.slot = slot
        self.process: trio.Process | None = None
        self.last: dict[str, Any] = {}
        self.down = _Outbox()  # other workers' notifications, for this one
        #: SIGTERM was sent already (a second one would tell the worker to stop without draining).
        self.signalled = False


class _Parent:
    def __init__(self, argv: Sequence[str], settings: WorkerSettings, socket_dir: str) -> None:
        self.argv = list(argv)
        self.socket_dir = socket_dir
        self.state_key = secrets.token_hex(32)  # one per server: every worker verifies every other's state
        self.settings = settings
        self.workers: dict[str, _Worker] = {}
        self.generation = 0
        self.stopping = False

    def spec(self, slot: str) -> ChildSpec:
        # The parent signals every worker itself when stopping; the supervisor's grace covers the drain.
        return ChildSpec(
            slot,
            functools.partial(self.run_worker, slot),
            restart=Restart.PERMANENT,
            shutdown=self.settings.drain_timeout + 5.0,
        )

    async def run_worker(self, slot: str, *, task_status: trio.TaskStatus[int]) -> None:
        """One worker process as a supervised child: ready, then heartbeats until it fails or is stopped."""
        settings = self.settings
        worker = self.workers[slot] = _Worker(slot)
        read_fd, write_fd = os.pipe()  # worker -> parent: ready, heartbeats, notifications to broadcast
        bus_read, bus_write = os.pipe()  # parent -> worker: the other workers' notifications
        try:
            process = await trio.lowlevel.open_process(
                [*self.argv, "--worker-channel", str(write_fd)],
                pass_fds=(write_fd, bus_read),
                stdin=subprocess.DEVNULL,
                env={
                    **os.environ,
                    WORKER_ID_ENV: slot,
                    WORKER_DIR_ENV: self.socket_dir,
                    WORKER_BUS_ENV: str(bus_read),
                    REQUEST_STATE_KEY_ENV: self.state_key,
                },
            )
        except BaseException:
            os.close(read_fd)
            os.close(bus_write)
            raise
        finally:
            os.close(write_fd)
            os.close(bus_read)
        worker.process = process
        channel = trio.lowlevel.FdStream(read_fd)
        bus = trio.lowlevel.FdStream(bus_write)
        lines = _Lines(channel)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_write_quietly, worker.down, bus)
                await self._follow(worker, process, lines, task_status)
        finally:
            with trio.CancelScope(shield=True):
                await _stop(process, settings.drain_timeout, signalled=worker.signalled)
                await channel.aclose()
                await bus.aclose()
                if self.workers.get(slot) is worker:
                    del self.workers[slot]

    async def _follow(
        self, worker: _Worker, process: trio.Process, lines: _Lines, task_status: trio.TaskStatus[int]
    ) -> None:
        """Read a worker's channel: ready, then heartbeats and notifications to broadcast, until it fails."""
        settings, slot = self.settings, worker.slot
        with trio.move_on_after(settings.start_timeout) as starting:
            first = await lines.next()
        if starting.cancelled_caught or first is None or first.get("event") != "ready":
            raise WorkerFailed(f"worker {slot} (pid {process.pid}) did not become ready")
        worker.last = first
        log.info("worker %s ready (pid %d)", slot, process.pid)
        task_status.started(process.pid)
        silent = 0.0  # seconds since the last line, counted in whole waits
        cpu = cpu_seconds(process.pid)
        while True:
            wait = settings.heartbeat_interval if silent else settings.heartbeat_timeout  # then check more often
            with trio.move_on_after(wait) as waiting:
                beat = await lines.next()
            if waiting.cancelled_caught:
                silent += wait
                used, cpu = cpu, cpu_seconds(process.pid)
                busy = used is not None and cpu is not None and cpu > used
                if busy and silent < settings.heartbeat_timeout + settings.busy_grace:
                    if wait == settings.heartbeat_timeout:  # the first silent wait: say so once
                        log.warning("worker %s (pid %d) is silent but busy: given up to %g s more", slot, process.pid,
                                    settings.busy_grace)  # fmt: skip
                    continue
                process.kill()
                state = "still busy" if busy else "idle"
                raise WorkerFailed(
                    f"worker {slot} (pid {process.pid}) sent no heartbeat for {silent:g} s ({state}); killed"
                )
            silent = 0.0
            if beat is None:
                code = await process.wait()
                raise WorkerFailed(f"worker {slot} (pid {process.pid}) exited with status {code}")
            if beat.get("event") == "publish":
                self.broadcast(worker, beat)
            else:
                worker.last = beat
                cpu = cpu_seconds(process.pid)  # the baseline for a silence: once a heartbeat, not per post

    def broadcast(self, origin: _Worker, record: dict[str, Any]) -> None:
        """A notification one worker posted: to every other worker (each delivers it to its own subscribers)."""
        line = json.dumps({"method": record.get("method"), "uri": record.get("uri")}).encode() + b"\n"
        for worker in self.workers.values():
            if worker is not origin:
                worker.down.put(line)

    def terminate_all(self, sig: int = signal.SIGTERM) -> None:
        for worker in list(self.workers.values()):
            process = worker.process
            if process is not None and process.returncode is None:
                worker.signalled = True
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)

    def rows(self) -> list[dict[str, Any]]:
        """Each ready worker's last heartbeat (its figures), for the parent's ``/health`` and ``/metrics``."""
        rows = []
        for slot, worker in sorted(self.workers.items()):
            if worker.last and worker.process is not None:
                figures = {key: value for key, value in worker.last.items() if key != "event"}
                rows.append({"slot": slot, **figures, "pid": worker.process.pid})
        return rows

    def report(self) -> str:
        lines = [f"workers: {len(self.workers)}"]
        for slot, worker in sorted(self.workers.items()):
            last = worker.last
            pid = worker.process.pid if worker.process is not None else "-"
            lines.append(
                f"  {slot} pid {pid}: {last.get('connections', 0)} connections, {last.get('sessions', 0)} sessions, "
                f"{last.get('in_flight', 0)} in flight, RSS {last.get('rss', 0) / 2**20:.1f} MiB"
            )
        return "\n".join(lines)


async def _stop(process: trio.Process, drain_timeout: float, *, signalled: bool) -> None:
    """SIGTERM (a drain: once, as a second one means "stop now"), then SIGKILL after ``drain_timeout``;
    returns once the process is reaped."""
    if process.returncode is None:
        if not signalled:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        with trio.move_on_after(drain_timeout):
            await process.wait()
        if process.returncode is None:
            process.kill()
    await process.wait()


class _Lines:
    """JSON lines from a worker's channel (bounded: a line over 64 KiB fails the worker)."""

    __slots__ = ("buffer", "stream")

    def __init__(self, stream: trio.lowlevel.FdStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def next(self) -> dict[str, Any] | None:
        while b"\n" not in self.buffer:
            if len(self.buffer) > 65536:
                raise WorkerFailed("a worker sent a heartbeat line over 64 KiB")
            data = await self.stream.receive_some(65536)
            if not data:
                return None
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            value = json.loads(line)
        except ValueError:
            raise WorkerFailed(f"a worker sent a heartbeat that is not JSON: {line[:80]!r}") from None
        return value if isinstance(value, dict) else {}


async def reserve_ports(addresses: Sequence[tuple[str, int]]) -> tuple[list[tuple[str, int]], list[Any]]:
    """Concrete ports for ``(host, port)`` pairs (port 0 picks one, held by a bound, non-listening
    ``SO_REUSEPORT`` socket that the caller keeps open while the workers run)."""
    resolved: list[tuple[str, int]] = []
    held: list[Any] = []
    for host, port in addresses:
        if port != 0:
            resolved.append((host, port))
            continue
        socks = await bind_reuse_port(host, 0, None, listen=False)
        held.extend(socks)
        resolved.append((host, socks[0].getsockname()[1]))
    return resolved, held


async def serve_workers(
    argv: Sequence[str], settings: WorkerSettings, announce: Sequence[str], admin: tuple[str, int] | None = None
) -> None:
    """Run ``settings.count`` workers of ``argv`` (a ``mcp-trio serve`` command line without
    ``--worker-channel``) until SIGTERM/SIGINT; ``announce`` is printed once every worker is ready.

    Raises:
        supervision.SupervisorEscalation: workers failed more than the restart intensity allows.
    """
    socket_dir = tempfile.mkdtemp(prefix="mcp-trio-workers-")
    try:
        await _supervise(_Parent(argv, settings, socket_dir), settings, announce, admin)
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


async def _supervise(
    parent: _Parent, settings: WorkerSettings, announce: Sequence[str], admin: tuple[str, int] | None
) -> None:
    watched = WorkersObserver(parent.rows, settings.count)
    # Signals are caught before anything is announced (a signal sent on "workers ready" must not kill the
    # parent), and the same receiver hears the second one while the workers drain.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1) as signals:
        async with trio.open_nursery() as outer:
            await _run_workers(parent, settings, announce, admin, watched, signals, outer)
            outer.cancel_scope.cancel()


async def _run_workers(
    parent: _Parent,
    settings: WorkerSettings,
    announce: Sequence[str],
    admin: tuple[str, int] | None,
    watched: WorkersObserver,
    signals: AsyncIterator[int],
    outer: trio.Nursery,
) -> None:
    async with (
        open_supervisor(intensity=settings.intensity, period=settings.period, name="workers") as supervisor,
        trio.open_nursery() as nursery,
    ):
        started = time.monotonic()
        for index in range(settings.count):
            await supervisor.start_child(parent.spec(f"worker-{index + 1}"))
        for line in announce:
            print(line, file=sys.stderr, flush=True)
        if admin is not None:
            token = os.environ.get("MCP_TRIO_ADMIN_TOKEN") or None
            bound = await nursery.start(functools.partial(serve_admin, watched, *admin, token=token))
            print(f"mcp-trio: admin on http://{bound[0]}:{bound[1]} (/health, /ready, /metrics)", file=sys.stderr)
        print(
            f"mcp-trio: {settings.count} workers ready in {time.monotonic() - started:.1f} s "
            f"(capacity: {settings.count} x {raise_file_limit():,} open files)",
            file=sys.stderr,
            flush=True,
        )
        async for received in signals:
            if received == signal.SIGUSR1:
                print(parent.report(), file=sys.stderr, flush=True)
            elif received == signal.SIGHUP:
                await _replace_one_by_one(parent, supervisor)
            else:
                log.info("stopping %d workers (%s)", len(parent.workers), signal.Signals(received).name)
                parent.stopping = watched.stopping = True
                parent.terminate_all()
                # In the outer nursery: this one is cancelled now, while the supervisor waits for the workers.
                outer.start_soon(_kill_on_second_signal, parent, signals)
                break
        nursery.cancel_scope.cancel()


async def _kill_on_second_signal(parent: _Parent, signals: AsyncIterator[int]) -> None:
    async for received in signals:
        if received in (signal.SIGTERM, signal.SIGINT):
            log.warning("second signal: killing the workers")
            parent.terminate_all(signal.SIGKILL)
            return


async def _replace_one_by_one(parent: _Parent, supervisor: Supervisor) -> None:
    """SIGHUP: for each worker, start its replacement, wait until it is ready, then drain the old one."""
    parent.generation += 1
    for slot in sorted(parent.workers):
        replacement = f"{slot.split('.')[0]}.{parent.generation}"
        await supervisor.start_child(parent.spec(replacement))
        await supervisor.terminate_child(slot)
        await supervisor.delete_child(slot)
    log.info("all workers replaced (generation %d)", parent.generation)


async def _write_quietly(outbox: _Outbox, stream: trio.lowlevel.FdStream) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        await outbox.write_forever(stream)


class WorkerBus:
    """A worker's side of the parent's channels: heartbeats up, and the ``SubscriptionBus`` of its server's
    hub (notifications posted here go up to the parent, which sends them down to every other worker)."""

    def __init__(self, channel_fd: int, bus_fd: int | None) -> None:
        self.up = trio.lowlevel.FdStream(channel_fd)
        self.down = trio.lowlevel.FdStream(bus_fd) if bus_fd is not None else None
        self.outbox = _Outbox()

    def publish(self, method: str, uri: str | None) -> None:
        record = {"event": "publish", "method": method, "uri": uri}
        self.outbox.put(json.dumps(record).encode() + b"\n")

    async def run(self, interval: float, statistics: Any, deliver: Any, stop: trio.CancelScope) -> None:
        """Report ready, heartbeat every ``interval``, send posts up and deliver the others' posts; a parent that
        went away (a pipe breaks) stops the worker."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.outbox.write_forever, self.up)
                if self.down is not None:
                    nursery.start_soon(self._receive_forever, deliver, stop)
                event = "ready"
                while True:
                    self.outbox.put(json.dumps({"event": event, "pid": os.getpid(), **statistics()}).encode() + b"\n")
                    event = "heartbeat"
                    await trio.sleep(interval)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            log.warning("the parent process is gone: stopping")
            stop.cancel()
        finally:
            with trio.CancelScope(shield=True), contextlib.suppress(OSError, trio.ClosedResourceError):
                await self.up.aclose()
                if self.down is not None:
                    await self.down.aclose()

    async def _receive_forever(self, deliver: Any, stop: trio.CancelScope) -> None:
        assert self.down is not None
        lines = _Lines(self.down)
        while (record := await lines.next()) is not None:
            method, uri = record.get("method"), record.get("uri")
            if isinstance(method, str) and (uri is None or isinstance(uri, str)):
                deliver(method, uri)
        log.warning("the parent process is gone: stopping")
        stop.cancel()

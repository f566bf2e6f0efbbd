"""One listening socket shared by every worker, or one ``SO_REUSEPORT`` socket per worker? (issue 19)

``python -m benchmarks.accept_designs [CONNECTIONS] [RATE]`` (defaults 20,000 and 2,000/s; about 50 s): for 2
and 4 worker processes, each design serves two loads of short connections:

* **flood**: CONNECTIONS connections, which two generator processes open as fast as they can (256 in progress
  each);
* **paced**: ``PACED_SECONDS`` x RATE connections opened at RATE per second in all (open loop), so the workers
  are mostly idle and waiting, as a server not at its limit is: that is where a herd shows.

Each connection sends one line and reads it back; the worker closes it after answering. The designs:

* ``shared``: the parent binds and listens on one socket and every worker inherits it. Each worker waits on it
  in Trio's epoll, which registers it ``EPOLLONESHOT`` and so cannot ask for ``EPOLLEXCLUSIVE``: every waiting
  worker is woken for each connection, one accepts it and the others' ``accept()`` returns ``EAGAIN``.
* ``reuseport``: each worker binds and listens on its own ``SO_REUSEPORT`` socket on the same port (what
  ``mcp-trio serve --workers N`` does): the kernel hashes each connection to one socket, and wakes one worker.
* ``exclusive``: the shared socket, registered ``EPOLLIN | EPOLLEXCLUSIVE`` in a private epoll that a thread
  of each worker waits on (the only way to get the flag under Trio: a nested epoll does not do, since the kernel
  counts a wake-up as exclusive only when it wakes a task sleeping in that epoll); the thread hands each
  wake-up to Trio, which accepts. For reference: what the flag buys, and what the hand-off costs.

The worker is a minimal Trio program with our server's accept loop (``runtime/listeners.accept_forever``: wait
until readable, then ``accept()`` until ``EAGAIN``, at most 256 per pass) and a task per connection that echoes
one line through a ``trio.SocketStream``: accept costs are not diluted by MCP work. Figures per run:
connections/s (all generators' connections over the slowest one's wall time), connect-to-answer latency p50 and
p99, connections per worker (min-max), the workers' summed CPU time over the run (getrusage), their wake-ups
(returns from the wait), wasted wake-ups (the first ``accept()`` of a pass returned ``EAGAIN``: another worker
took the connection) and voluntary context switches.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import socket
import subprocess
import sys
import threading
import time
from array import array
from typing import Any, Final

from benchmarks._procs import Children, machine_header, say, stderr_tail
from benchmarks._workers import ConnectFailed, source_addresses, start_connect

__all__ = ["main"]

CONNECTIONS: Final = 20_000
RATE: Final = 2_000.0
PACED_SECONDS: Final = 4.0
GENERATORS: Final = 2
FLOOD_WINDOW: Final = 256  # connections in progress per generator when flooding
PACED_WINDOW: Final = 4_000  # never the limit when paced
BATCH: Final = 256  # as runtime/listeners._ACCEPT_BATCH
BACKLOG: Final = 4096
DESIGNS: Final = ("shared", "reuseport", "exclusive")
WORKER_COUNTS: Final = (2, 4)
LINE: Final = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'


# --- the worker -------------------------------------------------------------------------------------------------


class _Stats:
    __slots__ = ("accepted", "answered", "eagain", "empty", "wakeups")

    def __init__(self) -> None:
        self.accepted = self.answered = self.eagain = self.empty = self.wakeups = 0


def _usage() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
    return usage.ru_utime + usage.ru_stime, usage.ru_nvcsw


async def _echo(conn: socket.socket, stats: _Stats) -> None:
    import trio

    stream = trio.SocketStream(trio.socket.from_stdlib_socket(conn))
    try:
        buffer = b""
        while b"\n" not in buffer:
            data = await stream.receive_some(4096)
            if not data:
                return
            buffer += data
        await stream.send_all(buffer)
        stats.answered += 1
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await stream.aclose()


def _drain(listener: socket.socket, stats: _Stats, nursery: Any) -> None:
    """One pass of the accept loop: ``accept()`` until ``EAGAIN`` (at most ``BATCH``)."""
    stats.wakeups += 1
    for index in range(BATCH):
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            stats.eagain += 1
            stats.empty += index == 0
            return
        stats.accepted += 1
        conn.setblocking(False)
        nursery.start_soon(_echo, conn, stats)


async def _accept_loop(listener: socket.socket, stats: _Stats, nursery: Any) -> None:
    import trio

    while True:
        await trio.lowlevel.wait_readable(listener)
        _drain(listener, stats, nursery)


async def _accept_exclusive(listener: socket.socket, stats: _Stats, nursery: Any, stop: threading.Event) -> None:
    """A thread sleeps in ``epoll_wait`` on a private epoll holding the socket as ``EPOLLEXCLUSIVE``; each time it
    is woken it runs one accept pass in Trio and waits for it before sleeping again (the epoll is level-triggered)."""
    import trio

    poller = select.epoll()
    poller.register(listener.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)

    def wait_in_thread() -> None:
        while not stop.is_set():
            if poller.poll(0.2):
                trio.from_thread.run_sync(_drain, listener, stats, nursery)

    try:
        await trio.to_thread.run_sync(wait_in_thread, abandon_on_cancel=True)
    finally:
        stop.set()


async def _serve(design: str, listener: socket.socket) -> None:
    import trio

    stats = _Stats()
    stop = threading.Event()
    stdin = trio.lowlevel.FdStream(os.dup(0))
    async with trio.open_nursery() as nursery:
        if design == "exclusive":
            nursery.start_soon(_accept_exclusive, listener, stats, nursery, stop)
        else:
            nursery.start_soon(_accept_loop, listener, stats, nursery)
        cpu0, switches0 = _usage()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        while (data := await stdin.receive_some(64)) and b"\n" not in data:
            pass
        cpu1, switches1 = _usage()
        stop.set()
        nursery.cancel_scope.cancel()
    record = {
        "accepted": stats.accepted,
        "answered": stats.answered,
        "wakeups": stats.wakeups,
        "empty": stats.empty,
        "eagain": stats.eagain,
        "cpu": cpu1 - cpu0,
        "switches": switches1 - switches0,
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def worker(design: str, where: str) -> None:
    """``--worker DESIGN FD`` (shared, exclusive: the inherited listening socket) or ``--worker reuseport PORT``."""
    import trio

    if design == "reuseport":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", int(where)))
        listener.listen(BACKLOG)
    else:
        listener = socket.socket(fileno=int(where))
    listener.setblocking(False)
    trio.run(_serve, design, listener)


# --- the load generator -----------------------------------------------------------------------------------------


def generate(port: int, count: int, source: str, rate: float, window: int) -> None:
    """``--generate PORT COUNT SOURCE RATE WINDOW``: after ``go`` on stdin, open ``count`` connections from
    ``SOURCE.1-4`` (``rate`` per second, 0: as fast as ``window`` connections in progress allow), each sending
    ``LINE`` and reading it back; prints one JSON line."""
    sources = source_addresses(source)
    poller = select.epoll()
    pending: dict[int, tuple[socket.socket, float, bytearray]] = {}  # fd -> socket, started, bytes received
    sent: set[int] = set()
    latencies = array("d")
    opened = done = failed = 0
    first_error = ""
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    started = time.monotonic()
    deadline = started + 240

    def fail(fd: int, why: str) -> None:
        nonlocal failed, first_error
        sock = pending.pop(fd)[0]
        sent.discard(fd)
        poller.unregister(fd)
        sock.close()
        failed += 1
        first_error = first_error or why

    while done + failed < count and time.monotonic() < deadline:
        now = time.monotonic()
        due = count if rate <= 0 else min(count, int((now - started) * rate) + 1)
        while opened < due and len(pending) < window:
            address = sources[opened % len(sources)]
            opened += 1
            try:
                sock = start_connect(address, port)
            except ConnectFailed as error:
                failed += 1
                first_error = first_error or str(error)
                continue
            pending[sock.fileno()] = (sock, time.monotonic(), bytearray())
            poller.register(sock.fileno(), select.EPOLLOUT)
        paced = rate > 0 and opened < count
        timeout = max(0.0, started + opened / rate - time.monotonic()) if paced else 1.0
        for fd, events in poller.poll(timeout):
            sock, begun, received = pending[fd]
            if fd not in sent:
                if events & (select.EPOLLERR | select.EPOLLHUP):
                    fail(fd, f"connect: {os.strerror(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))}")
                    continue
                sock.send(LINE)
                sent.add(fd)
                poller.modify(fd, select.EPOLLIN)
                continue
            try:
                data = sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as error:
                fail(fd, f"recv: {error}")
                continue
            if not data:
                fail(fd, "closed before the answer")
                continue
            received += data
            if received.endswith(b"\n"):
                if bytes(received) != LINE:
                    fail(fd, f"wrong answer {bytes(received)[:80]!r}")
                    continue
                latencies.append(time.monotonic() - begun)
                del pending[fd]
                sent.discard(fd)
                poller.unregister(fd)
                sock.close()
                done += 1
    elapsed = time.monotonic() - started
    failed += len(pending)
    ordered = sorted(latencies)
    record = {
        "done": done,
        "failed": failed,
        "seconds": elapsed,
        "p50": ordered[len(ordered) // 2] if ordered else 0.0,
        "p99": ordered[int(len(ordered) * 0.99)] if ordered else 0.0,
        "first_error": first_error or ("timed out" if pending else ""),
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


# --- the orchestrator -------------------------------------------------------------------------------------------


def _spawn(children: Children, argv: list[str], pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """A child on every core (not pinned: the workers and generators share the machine as a deployment does),
    in a process group of its own, killed when ``children`` exits."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.accept_designs", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=pass_fds,
        start_new_session=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    children.procs.append(proc)
    return proc


def _line(proc: subprocess.Popen[bytes], what: str) -> bytes:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"{what} said nothing (exit {proc.poll()}): {stderr_tail(proc, 800)}")
    return line


def run_once(design: str, workers: int, connections: int, rate: float) -> dict[str, Any]:
    """One design, ``workers`` workers, ``connections`` connections (``rate`` per second, 0: a flood)."""
    with Children() as children, contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if design == "reuseport":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", 0))  # bound, never listening: it picks the port and gets no connections
            argvs = [["--worker", design, str(sock.getsockname()[1])] for _ in range(workers)]
            fds: tuple[int, ...] = ()
        else:
            sock.bind(("127.0.0.1", 0))
            sock.listen(BACKLOG)
            argvs = [["--worker", design, str(sock.fileno())] for _ in range(workers)]
            fds = (sock.fileno(),)
        port = sock.getsockname()[1]
        procs = [_spawn(children, argv, fds) for argv in argvs]
        for proc in procs:
            if _line(proc, "a worker").strip() != b"ready":
                raise RuntimeError("a worker did not start")
        if design != "reuseport":
            sock.close()  # the workers hold it now
        share = connections // GENERATORS
        window = PACED_WINDOW if rate > 0 else FLOOD_WINDOW
        generators = [
            _spawn(
                children,
                ["--generate", str(port), str(share), f"127.0.{20 + index}", str(rate / GENERATORS), str(window)],
            )
            for index in range(GENERATORS)
        ]
        for generator in generators:
            _line(generator, "a generator")
        say(generators, b"go\n")
        loads = [json.loads(_line(generator, "a generator")) for generator in generators]
        say(procs, b"stop\n")
        served = [json.loads(_line(proc, "a worker")) for proc in procs]
    done = sum(load["done"] for load in loads)
    accepted = [row["accepted"] for row in served]
    return {
        "design": design,
        "workers": workers,
        "load": "paced" if rate > 0 else "flood",
        "done": done,
        "failed": sum(load["failed"] for load in loads),
        "first_error": next((load["first_error"] for load in loads if load["first_error"]), ""),
        "rate": done / max(load["seconds"] for load in loads),
        "p50_ms": max(load["p50"] for load in loads) * 1000,
        "p99_ms": max(load["p99"] for load in loads) * 1000,
        "spread": (min(accepted), max(accepted)),
        "cpu": sum(row["cpu"] for row in served),
        "wakeups": sum(row["wakeups"] for row in served),
        "wasted": sum(row["empty"] for row in served),
        "eagain": sum(row["eagain"] for row in served),
        "switches": sum(row["switches"] for row in served),
    }


def _table(rows: list[dict[str, Any]]) -> None:
    print(
        f"  {'design':<10} {'W':>1} {'load':<6} {'conn/s':>7} {'p50 ms':>6} {'p99 ms':>7} {'per worker':>13} "
        f"{'CPU s':>6} {'us/conn':>7} {'wake-ups':>8} {'wasted':>7} {'EAGAIN':>7} {'ctx sw':>7}"
    )
    for row in rows:
        low, high = row["spread"]
        print(
            f"  {row['design']:<10} {row['workers']:>1} {row['load']:<6} {row['rate']:>7,.0f} {row['p50_ms']:>6.2f} "
            f"{row['p99_ms']:>7.2f} {f'{low:,}-{high:,}':>13} {row['cpu']:>6.2f} "
            f"{row['cpu'] / max(row['done'], 1) * 1e6:>7.0f} {row['wakeups']:>8,} {row['wasted']:>7,} "
            f"{row['eagain']:>7,} {row['switches']:>7,}"
            + (f"  FAILED {row['failed']:,}: {row['first_error']}" if row["failed"] else "")
        )


def _conclusion(rows: list[dict[str, Any]]) -> None:
    def get(design: str, workers: int, load: str) -> dict[str, Any]:
        return next(r for r in rows if (r["design"], r["workers"], r["load"]) == (design, workers, load))

    for workers in WORKER_COUNTS:
        for load in ("paced", "flood"):
            shared, reuse, exclusive = (get(design, workers, load) for design in DESIGNS)
            per = {row["design"]: row["cpu"] / max(row["done"], 1) * 1e6 for row in (shared, reuse, exclusive)}
            print(
                f"  {workers} workers, {load}: worker CPU per connection {per['shared']:.0f} us shared, "
                f"{per['reuseport']:.0f} us SO_REUSEPORT, {per['exclusive']:.0f} us EPOLLEXCLUSIVE thread; "
                f"context switches per connection {shared['switches'] / max(shared['done'], 1):.2f} shared, "
                f"{reuse['switches'] / max(reuse['done'], 1):.2f} SO_REUSEPORT, "
                f"{exclusive['switches'] / max(exclusive['done'], 1):.2f} EPOLLEXCLUSIVE; "
                f"p50 latency {shared['p50_ms']:.2f} / {reuse['p50_ms']:.2f} / {exclusive['p50_ms']:.2f} ms"
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
        return
    arguments = sys.argv[1:] if __name__ == "__main__" else []
    try:
        connections = int(arguments[0]) if arguments else CONNECTIONS
        rate = float(arguments[1]) if len(arguments) > 1 else RATE
        if connections < GENERATORS or rate <= 0:
            raise ValueError
    except ValueError:
        print(f"usage: python -m benchmarks.accept_designs [CONNECTIONS >= {GENERATORS}] [RATE > 0]", file=sys.stderr)
        sys.exit(2)
    if __name__ == "__main__":
        print(machine_header())
    print(
        f"accepting {connections:,} short connections (one line echoed, then closed by the worker) from "
        f"{GENERATORS} generator processes: a flood (as fast as possible), and {int(rate * PACED_SECONDS):,} paced "
        f"at {rate:,.0f}/s"
    )
    rows = []
    for workers in WORKER_COUNTS:
        for load_rate in (rate, 0.0):
            for design in DESIGNS:
                count = connections if load_rate == 0 else max(GENERATORS, int(load_rate * PACED_SECONDS))
                rows.append(run_once(design, workers, count, load_rate))
    _table(rows)
    print(
        "  wasted: accept passes whose first accept() returned EAGAIN (another worker had taken the connection); "
        "ctx sw: the workers' voluntary context switches. A worker woken for a connection another one took often "
        "goes back to sleep inside epoll_wait (the kernel re-checks a level-triggered socket before reporting it), "
        "so a herd shows in ctx sw and CPU more than in EAGAIN."
    )
    _conclusion(rows)


if __name__ == "__main__":
    main()

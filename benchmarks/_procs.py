"""Process plumbing shared by the benchmarks: CPU pinning, /proc readings, bounded child processes.

Every child is started in its own process group, pinned to one core, and killed (group and all) when the
``Children`` context exits, so a benchmark that fails half-way leaves nothing running.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

__all__ = [
    "REPO",
    "BENCH_DIR",
    "Children",
    "cores",
    "server_core",
    "load_core",
    "cpu_seconds",
    "system_cpu_seconds",
    "run_delay",
    "rss_bytes",
    "raise_fd_limit",
    "unpin",
    "wait_for_line",
    "read_until",
    "say",
    "stderr_tail",
    "machine_header",
]

REPO: Final = Path(__file__).resolve().parent.parent
BENCH_DIR: Final = REPO / ".bench"
_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


def cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def server_core() -> int:
    """The core servers are pinned to (the first one this process may use)."""
    return cores()[0]


def load_core() -> int:
    """The core load generators are pinned to (another one when there is one)."""
    available = cores()
    return available[1] if len(available) > 1 else available[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def system_cpu_seconds(pid: int) -> float:
    """System (kernel) CPU time of a whole process, from /proc/<pid>/stat: the syscalls' share of ``cpu_seconds``."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[12]) / _CLK_TCK


def run_delay(pid: int) -> float:
    """Seconds the process's main thread spent runnable but waiting for a CPU (/proc/<pid>/schedstat).

    On a shared machine this is the time another process held the core the server is pinned to.
    """
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from VmRSS in /proc/<pid>/status."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (children inherit it); returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def unpin(pid: int) -> None:
    """Let process ``pid`` run on every core of the machine (a child ``Children.start`` pinned, or one it forked)."""
    os.sched_setaffinity(pid, set(range(os.cpu_count() or 1)))


def _pinned(core: int) -> Any:
    def pin() -> None:
        os.sched_setaffinity(0, {core})

    return pin


class Children:
    """Child processes of one benchmark: pinned, time-bounded, always killed on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            self.kill(proc)

    def start(
        self,
        argv: Sequence[str],
        *,
        core: int,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        stderr: int | IO[Any] | None = subprocess.PIPE,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` pinned to ``core`` in a new session (process group) of its own."""
        child_env = dict(os.environ if env is None else env)
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), child_env.get("PYTHONPATH", "")]))
        proc = subprocess.Popen(
            list(argv),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=REPO,
            env=child_env,
            start_new_session=True,
            preexec_fn=_pinned(core),  # the parent runs no threads, so preexec_fn is safe here
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
        """SIGTERM the child's process group, then SIGKILL it if it lingers."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(grace)
        else:  # the leader is gone; make sure nothing it started survives
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def wait_for_line(stream: IO[bytes], needle: bytes, timeout: float) -> bytes:
    """Read lines from a child's pipe until one contains ``needle`` (RuntimeError after ``timeout``)."""
    import selectors

    deadline = time.monotonic() + timeout
    seen: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            line = stream.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return line
    tail = b"".join(seen[-10:]).decode(errors="replace")
    raise RuntimeError(f"child did not say {needle!r} within {timeout:.0f}s; it said:\n{tail}")


def read_until(
    stream: IO[bytes], pattern: bytes | re.Pattern[bytes], lines: list[bytes], timeout: float = 60.0
) -> re.Match[bytes]:
    """The first match of ``pattern`` in ``lines`` (what was read from ``stream`` before) or else in the lines read on
    from ``stream``, each kept in ``lines``; RuntimeError at the end of the stream or once ``timeout`` has passed
    (checked between lines: each read blocks). ``wait_for_line`` is the one for a fixed needle that keeps nothing."""
    for line in lines:
        if match := re.search(pattern, line):
            return match
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if match := re.search(pattern, line):
            return match
    shown = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    raise RuntimeError(f"no {shown!r} in time; saw: {b''.join(lines[-10:])!r}")


def say(procs: Sequence[subprocess.Popen[bytes]], text: bytes) -> None:
    """Write ``text`` to each child's stdin (a pipe) and flush it."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(text)
        proc.stdin.flush()


def stderr_tail(proc: subprocess.Popen[bytes], chars: int) -> str:
    """The last ``chars`` characters a child wrote to its stderr pipe (read to its end: the child has stopped)."""
    return proc.stderr.read().decode(errors="replace")[-chars:] if proc.stderr else ""


@contextlib.contextmanager
def pinned_self(core: int) -> Iterator[None]:
    """Pin this (orchestrating) process to ``core`` for the duration, so it stays off the server's core."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def machine_header() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    n = len(cores())
    return (
        f"machine: {n} usable core(s) of {os.cpu_count()} ({model or 'unknown CPU'}), "
        f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}\n"
        "figures drift from run to run on a shared machine: compare the ratios against peers measured in this "
        "same run, not absolute numbers across runs"
    )

"""Benchmark: what a dynamic child costs next to a bare Trio task, and how fast children start and stop.

Run ``python -m supervision.bench [N]``. Each memory figure comes from a fresh subprocess (so one
measurement's heap cannot flatter the next): resident set size after N tasks that each wait on one shared
``trio.Event``, minus the RSS before they were spawned. The peer is N bare tasks doing the same in one
nursery. Rates use Trio's real clock. A program that prints figures, not a test.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from typing import Any

import trio
import trio.testing

from .dynamic import DynamicSupervisor, open_dynamic_supervisor

__all__ = ["main"]

DEFAULT_CHILDREN = 100_000
RATE_CHILDREN = 20_000


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _bare_task(event: trio.Event) -> None:
    await event.wait()


async def _child(event: trio.Event, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await event.wait()


async def _measure(kind: str, count: int) -> float:
    """RSS bytes per task for ``count`` tasks of ``kind`` (``bare``, ``dynamic`` or ``lean``)."""
    event = trio.Event()
    gc.collect()
    before = _rss()
    if kind == "bare":
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(_bare_task, event)
            await trio.testing.wait_all_tasks_blocked()
            gc.collect()
            after = _rss()
            event.set()
    else:
        async with open_dynamic_supervisor(terminable=kind == "dynamic") as supervisor:
            for _ in range(count):
                await supervisor.start_child(_child, event)
            await trio.testing.wait_all_tasks_blocked()
            gc.collect()
            after = _rss()
            event.set()
    return (after - before) / count


def _in_subprocess(kind: str, count: int) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "supervision.bench", "--measure", kind, str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["per_task"])


async def _rates(count: int) -> dict[str, float]:
    """Children started-and-ended per second, by a child returning and by ``terminate_child``."""
    figures: dict[str, float] = {}
    async with trio.open_nursery() as nursery:
        supervisor: DynamicSupervisor = await nursery.start(DynamicSupervisor(name="bench").run)
        event = trio.Event()
        start = trio.current_time()
        for _ in range(count):
            await supervisor.start_child(_child, event)
        started = trio.current_time()
        event.set()
        await trio.testing.wait_all_tasks_blocked()
        ended = trio.current_time()
        assert len(supervisor) == 0
        figures["start_per_s"] = count / (started - start)
        figures["start_and_return_per_s"] = count / (ended - start)

        event = trio.Event()
        handles = [await supervisor.start_child(_child, event) for _ in range(count)]
        begin = trio.current_time()
        for handle in handles:
            await supervisor.terminate_child(handle)
        figures["terminate_per_s"] = count / (trio.current_time() - begin)
        nursery.cancel_scope.cancel()
    event = trio.Event()
    async with trio.open_nursery() as nursery:
        start = trio.current_time()
        for _ in range(count):
            await nursery.start(_child, event)
        figures["peer_start_per_s"] = count / (trio.current_time() - start)
        event.set()
    return figures


def main(argv: list[str] | None = None) -> None:
    """Print the memory and rate figures (``argv``: optional child count)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--measure"]:
        per_task = trio.run(_measure, args[1], int(args[2]))
        print(json.dumps({"per_task": per_task}))
        return
    count = int(args[0]) if args else DEFAULT_CHILDREN
    bare = _in_subprocess("bare", count)
    dynamic = _in_subprocess("dynamic", count)
    lean = _in_subprocess("lean", count)
    print(f"supervision: memory for {count:,} tasks each waiting on one trio.Event (RSS, fresh process each)")
    print(f"  bare tasks in one nursery             {bare * count / 2**20:8.1f} MiB  {bare:7.0f} B/task")
    print(f"  DynamicSupervisor children            {dynamic * count / 2**20:8.1f} MiB  {dynamic:7.0f} B/child")
    print(f"    extra per child                     {dynamic - bare:8.0f} B   (target <= 1024 B)")
    print(f"  DynamicSupervisor(terminable=False)   {lean * count / 2**20:8.1f} MiB  {lean:7.0f} B/child")
    print(f"    extra per child                     {lean - bare:8.0f} B   (target <= 1024 B)")
    rates: dict[str, Any] = trio.run(_rates, RATE_CHILDREN)
    print(f"supervision: dynamic child rates over {RATE_CHILDREN:,} children (real clock)")
    print(f"  start_child (ready)                   {rates['start_per_s']:10,.0f} /s")
    ratio = rates["start_per_s"] / rates["peer_start_per_s"]
    print(f"    peer: bare nursery.start            {rates['peer_start_per_s']:10,.0f} /s  (ratio {ratio:.2f})")
    print(f"  start_child + child returns           {rates['start_and_return_per_s']:10,.0f} /s")
    print(f"  terminate_child                       {rates['terminate_per_s']:10,.0f} /s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

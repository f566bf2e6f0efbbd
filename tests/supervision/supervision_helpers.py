"""Scripted children for the supervision tests (a module, not a fixture, so hypothesis can make fresh ones)."""

from __future__ import annotations

import functools
from typing import Any

import trio
import trio.testing

from supervision import ChildSpec, Restart, Shutdown, ShutdownPolicy


class Box:
    """Scripted children: each start and stop is logged, and ``tell`` makes a running instance end.

    ``log`` holds ``("start", id)`` when a child reports ready and ``("stop", id)`` when it is cancelled.
    """

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.live: dict[str, tuple[trio.Event, list[str]]] = {}
        self.fail_start: dict[str, int] = {}

    def spec(
        self,
        child_id: str,
        restart: Restart = Restart.PERMANENT,
        shutdown: float | ShutdownPolicy = 5.0,
        significant: bool = False,
    ) -> ChildSpec:
        return ChildSpec(
            child_id,
            functools.partial(self.child, child_id),
            restart=restart,
            shutdown=shutdown,
            significant=significant,
        )

    async def child(self, child_id: str, *, task_status: trio.TaskStatus[Any]) -> None:
        await trio.lowlevel.checkpoint()
        if self.fail_start.get(child_id, 0) > 0:
            self.fail_start[child_id] -= 1
            raise OSError(f"{child_id} cannot start")
        event, action = trio.Event(), [""]
        self.live[child_id] = (event, action)
        self.log.append(("start", child_id))
        task_status.started(child_id)
        try:
            await event.wait()
        except trio.Cancelled:
            self.log.append(("stop", child_id))
            raise
        finally:
            if self.live.get(child_id, (None,))[0] is event:
                del self.live[child_id]
        if action[0] == "crash":
            raise RuntimeError(f"{child_id} crashed")
        if action[0] == "shutdown":
            raise Shutdown("asked to")

    async def tell(self, child_id: str, action: str) -> None:
        """Make the running ``child_id`` end ("crash", "return" or "shutdown"), then let the tree settle."""
        event, box = self.live[child_id]
        box[0] = action
        event.set()
        await trio.testing.wait_all_tasks_blocked()

    def starts(self) -> list[str]:
        return [child_id for kind, child_id in self.log if kind == "start"]

    def take(self) -> list[tuple[str, str]]:
        log, self.log = self.log, []
        return log

"""The dynamic supervisor: per-connection children, max_children, terminate_child, parallel shutdown."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
import trio

from supervision import (
    ChildSpec,
    ChildState,
    DynamicSupervisor,
    EventKind,
    FailedToStartChild,
    MaxChildrenError,
    Restart,
    Shutdown,
    SupervisorClosed,
    SupervisorEscalation,
    UnknownChildError,
    open_dynamic_supervisor,
    open_supervisor,
)


class Conn:
    """A per-connection child whose end the test scripts."""

    def __init__(self) -> None:
        self.ended = trio.Event()
        self.action = "return"
        self.stopped: list[float] = []
        self.cleanup = 0.0

    async def __call__(self, name: str, *, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started(name)
        try:
            await self.ended.wait()
        finally:
            if self.cleanup:
                with trio.CancelScope(shield=True):
                    await trio.sleep(self.cleanup)
            self.stopped.append(trio.current_time())
        if self.action == "crash":
            raise ValueError(name)
        if self.action == "shutdown":
            raise Shutdown


async def test_start_child_returns_a_handle_carrying_the_ready_value(autojump_clock: trio.abc.Clock) -> None:
    conn = Conn()
    async with open_dynamic_supervisor(name="conns") as sup:
        first = await sup.start_child(conn, "alice")
        second = await sup.start_child(conn, "bob")
        assert (first.value, second.value) == ("alice", "bob")
        assert (first.id, second.id) == ("#1", "#2")
        assert first.running
        assert [(i.id, i.state) for i in sup.which_children()] == [
            ("#1", ChildState.RUNNING),
            ("#2", ChildState.RUNNING),
        ]
        conn.ended.set()
        await trio.testing.wait_all_tasks_blocked()
        assert len(sup) == 0
        assert not first.running
        assert sup.statistics().exits_normal == 2


async def test_starting_beyond_max_children_raises_and_frees_up_when_one_ends(
    autojump_clock: trio.abc.Clock,
) -> None:
    conns = [Conn() for _ in range(3)]
    async with open_dynamic_supervisor(max_children=2) as sup:
        await sup.start_child(conns[0], "a")
        await sup.start_child(conns[1], "b")
        with pytest.raises(MaxChildrenError, match="max_children=2"):
            await sup.start_child(conns[2], "c")
        conns[0].ended.set()
        await trio.testing.wait_all_tasks_blocked()
        await sup.start_child(conns[2], "c")
        assert sup.count_children().active == 2


async def test_terminate_child_stops_only_that_child_and_it_is_not_restarted(
    autojump_clock: trio.abc.Clock, recorder
) -> None:
    conns = [Conn(), Conn()]
    async with open_dynamic_supervisor(restart=Restart.PERMANENT) as sup:
        sup.subscribe(recorder)
        doomed = await sup.start_child(conns[0], "a")
        kept = await sup.start_child(conns[1], "b")
        await sup.terminate_child(doomed)
        assert conns[0].stopped == [0.0]
        assert conns[1].stopped == []
        assert [h.id for h in [kept]] == [i.id for i in sup.which_children()]
        with pytest.raises(UnknownChildError):
            await sup.terminate_child(doomed)
        assert sup.statistics().restarts == 0
        assert recorder.pairs()[-1] == ("exited", "#1")
        assert recorder.events[-1].exit is not None
        assert recorder.events[-1].exit.value == "shutdown"


async def test_terminate_child_abandons_a_child_that_outlives_the_timeout(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    conn = Conn()
    conn.cleanup = 10.0
    with caplog.at_level(logging.ERROR, logger="supervision"):
        async with open_dynamic_supervisor(shutdown=1.0, name="conns") as sup:
            handle = await sup.start_child(conn, "x")
            await sup.terminate_child(handle)
            assert trio.current_time() == 1.0
            assert sup.statistics().abandoned == 1
            assert conn.stopped == []
    assert conn.stopped == [10.0]
    assert any("abandoning them: #1" in r.getMessage() for r in caplog.records)


async def test_shutdown_stops_all_children_in_parallel_within_one_timeout(autojump_clock: trio.abc.Clock) -> None:
    conns = [Conn() for _ in range(50)]
    for conn in conns:
        conn.cleanup = 2.0
    async with open_dynamic_supervisor(shutdown=5.0) as sup:
        for index, conn in enumerate(conns):
            await sup.start_child(conn, str(index))
    assert trio.current_time() == 2.0  # not 50 x 2 s: in parallel
    assert all(conn.stopped == [2.0] for conn in conns)
    assert sup.statistics().exits_shutdown == 50


async def test_a_child_failing_before_ready_raises_from_start_child_and_is_not_kept(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def broken(*, task_status: trio.TaskStatus[Any]) -> None:
        raise OSError("no socket")

    async with open_dynamic_supervisor() as sup:
        with pytest.raises(FailedToStartChild) as info:
            await sup.start_child(broken)
        assert isinstance(info.value.cause, OSError)
        assert len(sup) == 0
        assert sup.statistics().start_failures == 1


async def test_temporary_children_crashing_are_logged_never_restarted_never_escalate(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with open_dynamic_supervisor(intensity=0) as sup:
        for index in range(10):
            conn = Conn()
            conn.action = "crash"
            await sup.start_child(conn, str(index))
            conn.ended.set()
            await trio.testing.wait_all_tasks_blocked()
        stats = sup.statistics()
        assert (stats.exits_abnormal, stats.restarts, stats.escalations) == (10, 0, 0)


async def test_permanent_dynamic_children_restart_in_place_and_escalate_past_intensity(
    autojump_clock: trio.abc.Clock, recorder
) -> None:
    starts: list[float] = []

    async def flaky(*, task_status: trio.TaskStatus[Any]) -> None:
        starts.append(trio.current_time())
        task_status.started()
        await trio.sleep(1)
        raise ValueError("flaky")

    async def scenario() -> None:
        async with open_dynamic_supervisor(restart=Restart.PERMANENT, intensity=2, period=10) as sup:
            sup.subscribe(recorder)
            handle = await sup.start_child(flaky)
            await trio.sleep(1.5)
            assert handle.running
            await trio.sleep_forever()

    with pytest.raises(SupervisorEscalation) as info:
        await scenario()
    assert starts == [0.0, 1.0, 2.0]
    assert str(info.value.__cause__) == "flaky"
    kinds = [kind for kind, _ in recorder.pairs()]
    assert kinds == ["started", "exited", "restarted", "exited", "restarted", "exited", "escalated"]


async def test_transient_dynamic_children_restart_after_a_crash_but_not_after_shutdown(
    autojump_clock: trio.abc.Clock,
) -> None:
    attempts: list[float] = []

    async def child(*, task_status: trio.TaskStatus[Any]) -> None:
        attempts.append(trio.current_time())
        task_status.started()
        await trio.sleep(1)
        if len(attempts) == 1:
            raise ValueError("first run crashes")
        raise Shutdown("second run stops deliberately")

    async with open_dynamic_supervisor(restart=Restart.TRANSIENT, intensity=5) as sup:
        await sup.start_child(child)
        await trio.sleep(5)
        assert attempts == [0.0, 1.0]
        assert len(sup) == 0
        stats = sup.statistics()
        assert (stats.restarts, stats.exits_abnormal, stats.exits_shutdown) == (1, 1, 1)


async def test_start_child_after_shutdown_raises_closed() -> None:
    sup = DynamicSupervisor()
    with pytest.raises(SupervisorClosed):
        await sup.start_child(Conn(), "x")


async def test_a_dynamic_supervisor_nests_under_a_static_one(autojump_clock: trio.abc.Clock, box) -> None:
    conns = DynamicSupervisor(name="conns")
    async with open_supervisor([box.spec("listener"), conns.child_spec()]) as top:
        await conns.start_child(Conn(), "a")
        (_listener, pool) = top.which_children()
        assert pool.supervisor
        assert pool.value is conns
        assert top.count_children().supervisors == 1
    assert len(conns) == 0


async def test_lean_children_without_their_own_scope_still_stop_at_shutdown(autojump_clock: trio.abc.Clock) -> None:
    conns = [Conn() for _ in range(5)]
    async with open_dynamic_supervisor(terminable=False) as sup:
        handles = [await sup.start_child(conn, str(i)) for i, conn in enumerate(conns)]
        with pytest.raises(RuntimeError, match="terminable=False"):
            await sup.terminate_child(handles[0])
        conns[0].ended.set()
        await trio.testing.wait_all_tasks_blocked()
        assert len(sup) == 4
    assert all(conn.stopped == [0.0] for conn in conns)
    stats = sup.statistics()
    assert (stats.exits_normal, stats.exits_shutdown) == (1, 4)


def test_lean_children_must_be_temporary() -> None:
    with pytest.raises(ValueError, match="only for temporary"):
        DynamicSupervisor(terminable=False, restart=Restart.PERMANENT)


async def test_events_for_dynamic_children_name_them_by_serial(autojump_clock: trio.abc.Clock, recorder) -> None:
    conn = Conn()
    async with open_dynamic_supervisor(name="pool") as sup:
        sup.subscribe(recorder)
        await sup.start_child(conn, "a")
        conn.ended.set()
        await trio.testing.wait_all_tasks_blocked()
    assert recorder.pairs() == [("started", "#1"), ("exited", "#1")]
    assert {event.supervisor for event in recorder.events} == {"pool"}
    assert recorder.events[0].kind is EventKind.STARTED


async def swallows_the_first_cancel(*, task_status: trio.TaskStatus[Any]) -> None:
    """Reports ready only after its starter was cancelled: trio then leaves it where it was (trio #1431)."""
    with contextlib.suppress(trio.Cancelled):
        await trio.sleep_forever()
    task_status.started()
    await trio.sleep_forever()


async def test_a_start_child_cancelled_while_the_child_reports_ready_still_returns(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with open_dynamic_supervisor() as sup:
        with trio.fail_after(10), trio.move_on_after(1) as scope:
            await sup.start_child(swallows_the_first_cancel)
        assert scope.cancelled_caught
        assert trio.current_time() == 1.0
        assert len(sup) == 0


async def test_a_static_child_cancelled_while_reporting_ready_does_not_hang_start_child(
    autojump_clock: trio.abc.Clock, box
) -> None:
    async with open_supervisor([box.spec("a")]) as sup:
        with trio.fail_after(10), trio.move_on_after(1):
            await sup.start_child(ChildSpec("late", swallows_the_first_cancel))
        assert [info.id for info in sup.which_children()] == ["a"]

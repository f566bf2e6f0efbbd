"""Ordered start with a readiness handshake, clean failure, and OTP's child-management calls."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from supervision import (
    ChildRunningError,
    ChildSpec,
    ChildState,
    DuplicateChildError,
    FailedToStartChild,
    Restart,
    Supervisor,
    SupervisorClosed,
    UnknownChildError,
    open_supervisor,
)


async def test_children_start_in_order_each_after_the_previous_reported_ready(
    autojump_clock: trio.abc.Clock,
) -> None:
    log: list[str] = []

    async def slow(name: str, delay: float, *, task_status: trio.TaskStatus[Any]) -> None:
        log.append(f"{name} begins")
        await trio.sleep(delay)
        log.append(f"{name} ready")
        task_status.started(name)
        await trio.sleep_forever()

    specs = [ChildSpec(n, lambda n=n, d=d, **kw: slow(n, d, **kw)) for n, d in [("a", 3), ("b", 1), ("c", 2)]]
    async with open_supervisor(specs) as sup:
        assert trio.current_time() == 6
        assert log == ["a begins", "a ready", "b begins", "b ready", "c begins", "c ready"]
        assert [info.value for info in sup.which_children()] == ["a", "b", "c"]


async def test_a_child_failing_to_start_stops_the_started_ones_in_reverse_and_raises_clearly(
    autojump_clock: trio.abc.Clock, box
) -> None:
    box.fail_start["c"] = 1
    specs = [box.spec("a"), box.spec("b"), box.spec("c"), box.spec("d")]
    with pytest.raises(FailedToStartChild) as info:
        async with open_supervisor(specs):
            pytest.fail("the block must not run")
    assert info.value.child_id == "c"
    assert isinstance(info.value.cause, OSError)
    assert info.value.__cause__ is info.value.cause
    assert "child 'c' failed to start" in str(info.value)
    assert box.log == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]


async def test_a_child_returning_before_reporting_ready_is_a_start_failure(autojump_clock: trio.abc.Clock) -> None:
    async def forgetful(*, task_status: trio.TaskStatus[Any]) -> None:
        await trio.lowlevel.checkpoint()

    sup = Supervisor([ChildSpec("f", forgetful)])
    async with trio.open_nursery() as nursery:
        with pytest.raises(FailedToStartChild, match=r"without calling task_status\.started"):
            await nursery.start(sup.run)


def test_duplicate_ids_are_rejected_up_front(box) -> None:
    with pytest.raises(DuplicateChildError, match="'a'"):
        Supervisor([box.spec("a"), box.spec("b"), box.spec("a")])


def test_a_significant_permanent_child_is_rejected(box) -> None:
    with pytest.raises(ValueError, match="permanent child cannot be significant"):
        box.spec("a", significant=True)


async def test_start_child_appends_and_rejects_duplicates(autojump_clock: trio.abc.Clock, box) -> None:
    async with open_supervisor([box.spec("a")]) as sup:
        assert await sup.start_child(box.spec("b")) == "b"
        with pytest.raises(DuplicateChildError):
            await sup.start_child(box.spec("a"))
        box.fail_start["c"] = 1
        with pytest.raises(FailedToStartChild):
            await sup.start_child(box.spec("c"))
        assert [info.id for info in sup.which_children()] == ["a", "b"]
    assert box.log[-2:] == [("stop", "b"), ("stop", "a")]


async def test_terminate_restart_and_delete_child_follow_otp(autojump_clock: trio.abc.Clock, box) -> None:
    specs = [box.spec("a"), box.spec("b"), box.spec("t", restart=Restart.TEMPORARY)]
    async with open_supervisor(specs) as sup:
        box.take()
        await sup.terminate_child("b")
        assert box.take() == [("stop", "b")]
        assert [(i.id, i.state) for i in sup.which_children()][1] == ("b", ChildState.STOPPED)
        with pytest.raises(ChildRunningError):
            await sup.delete_child("a")
        with pytest.raises(ChildRunningError):
            await sup.restart_child("a")
        assert await sup.restart_child("b") == "b"
        assert box.take() == [("start", "b")]
        await sup.terminate_child("t")
        assert [i.id for i in sup.which_children()] == ["a", "b"]  # a temporary child's spec goes with it
        await sup.terminate_child("b")
        await sup.delete_child("b")
        assert [i.id for i in sup.which_children()] == ["a"]
        with pytest.raises(UnknownChildError):
            await sup.terminate_child("b")
        assert sup.statistics().restarts == 0


async def test_calls_on_a_supervisor_that_is_not_running_raise_closed(box) -> None:
    sup = Supervisor([box.spec("a")])
    with pytest.raises(SupervisorClosed):
        await sup.start_child(box.spec("b"))
    with pytest.raises(trio.ClosedResourceError):
        await sup.terminate_child("a")


async def test_a_stopped_supervisor_can_run_again_from_its_original_specs(autojump_clock: trio.abc.Clock, box) -> None:
    sup = Supervisor([box.spec("a")])
    for _ in range(2):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await sup.start_child(box.spec("extra"))
            nursery.cancel_scope.cancel()
    assert box.starts() == ["a", "extra", "a", "extra"]
    assert sup.statistics().starts == 4


async def test_running_the_same_supervisor_twice_at_once_is_an_error(autojump_clock: trio.abc.Clock, box) -> None:
    async with open_supervisor([box.spec("a")]) as sup:
        with pytest.raises(RuntimeError, match="already running"):
            await sup.run()

"""Intensity: exactly intensity+1 restarts within the period escalate, as one clear exception up the tree."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from supervision import (
    Backoff,
    ChildSpec,
    EventKind,
    Restart,
    Strategy,
    Supervisor,
    SupervisorEscalation,
    open_supervisor,
)


async def test_intensity_plus_one_restarts_within_the_period_escalate_after_stopping_all(
    autojump_clock: trio.abc.Clock, box
) -> None:
    specs = [box.spec("a"), box.spec("b"), box.spec("c")]

    async def scenario() -> None:
        async with open_supervisor(specs, intensity=2, period=10, name="top") as sup:
            box.take()
            await box.tell("b", "crash")
            await trio.sleep(4)
            await box.tell("b", "crash")
            assert sup.statistics().restarts == 2
            assert box.take() == [("start", "b"), ("start", "b")]
            await trio.sleep(4)
            await box.tell("b", "crash")  # third restart within 10 s: over the limit
            pytest.fail("the escalation must cancel the block")

    with pytest.raises(SupervisorEscalation) as info:
        await scenario()
    error = info.value
    assert type(error) is SupervisorEscalation  # one exception, not an ExceptionGroup
    assert isinstance(error.__cause__, RuntimeError)
    assert str(error.__cause__) == "b crashed"
    assert (error.supervisor, error.child_id, error.restarts) == ("top", "b", 3)
    assert box.take() == [("stop", "c"), ("stop", "a")]


async def test_the_same_number_of_restarts_spread_over_time_never_escalates(
    autojump_clock: trio.abc.Clock, box
) -> None:
    async with open_supervisor([box.spec("a")], intensity=1, period=5) as sup:
        for _ in range(10):
            await trio.sleep(5.5)
            await box.tell("a", "crash")
        assert sup.statistics().restarts == 10
        assert sup.statistics().escalations == 0


async def test_temporary_children_never_count_toward_intensity(autojump_clock: trio.abc.Clock, box) -> None:
    async with open_supervisor([box.spec("p")], intensity=1, period=5) as sup:
        for index in range(20):
            await sup.start_child(box.spec(f"t{index}", restart=Restart.TEMPORARY))
            await box.tell(f"t{index}", "crash")
        assert sup.statistics().exits_abnormal == 20
        assert sup.statistics().restarts_in_window == 0
        await box.tell("p", "crash")  # the one restart the window allows is still available
        assert sup.statistics().restarts == 1


async def test_a_failed_restart_is_retried_and_every_retry_counts(
    autojump_clock: trio.abc.Clock, box, recorder
) -> None:
    sup = Supervisor([box.spec("a")], intensity=3, period=5)
    sup.subscribe(recorder)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        box.fail_start["a"] = 2
        await box.tell("a", "crash")
        assert box.starts() == ["a", "a"]
        assert [kind for kind, _ in recorder.pairs()] == [
            "started",
            "exited",
            "start_failed",
            "start_failed",
            "restarted",
        ]
        assert sup.statistics().restarts_in_window == 3
        assert sup.statistics().start_failures == 2
        nursery.cancel_scope.cancel()


async def test_restarts_that_keep_failing_to_start_escalate(autojump_clock: trio.abc.Clock, box) -> None:
    async def scenario() -> None:
        async with open_supervisor([box.spec("a")], intensity=2):
            box.fail_start["a"] = 100
            await box.tell("a", "crash")

    with pytest.raises(SupervisorEscalation) as info:
        await scenario()
    assert isinstance(info.value.__cause__, OSError)
    assert box.fail_start["a"] == 98


async def test_a_permanent_child_that_keeps_returning_escalates_instead_of_silently_stopping(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def quitter(*, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        await trio.sleep(0.1)

    with pytest.raises(SupervisorEscalation) as info:
        async with open_supervisor([ChildSpec("q", quitter)], intensity=1, period=5):
            await trio.sleep_forever()
    assert info.value.__cause__ is None
    assert trio.current_time() == pytest.approx(0.2)


async def test_escalation_climbs_two_levels_with_the_original_failure_at_the_bottom_of_the_chain(
    autojump_clock: trio.abc.Clock, box, recorder
) -> None:
    inner = Supervisor([box.spec("w")], intensity=1, period=5, name="inner")
    inner.subscribe(recorder)
    middle = Supervisor([inner.child_spec()], intensity=1, period=5, name="middle")
    middle.subscribe(recorder)

    async def scenario() -> None:
        async with open_supervisor([box.spec("x"), middle.child_spec()], strategy=Strategy.ONE_FOR_ALL) as top:
            top.subscribe(recorder)
            for _ in range(4):  # inner escalates every 2nd crash; middle escalates on inner's 2nd escalation
                await box.tell("w", "crash")
            assert top.statistics().restarts == 2  # top restarted x and middle once (one_for_all)
            for _ in range(4):
                await box.tell("w", "crash")
            pytest.fail("top must escalate")

    with pytest.raises(SupervisorEscalation) as info:
        await scenario()
    top_error = info.value
    assert top_error.supervisor == "supervisor"
    middle_error = top_error.__cause__
    assert isinstance(middle_error, SupervisorEscalation)
    assert middle_error.supervisor == "middle"
    inner_error = middle_error.__cause__
    assert isinstance(inner_error, SupervisorEscalation)
    assert inner_error.supervisor == "inner"
    assert str(inner_error.__cause__) == "w crashed"
    escalations = [(e.supervisor, e.child_id) for e in recorder.events if e.kind is EventKind.ESCALATED]
    assert escalations == [
        ("inner", "w"),
        ("inner", "w"),
        ("middle", "inner"),
        ("inner", "w"),
        ("inner", "w"),
        ("middle", "inner"),
        ("supervisor", "middle"),
    ]


async def test_a_transient_sub_supervisor_that_escalates_stays_down_as_otp_shutdown_exits_do(
    autojump_clock: trio.abc.Clock, box
) -> None:
    inner = Supervisor([box.spec("w")], intensity=0, name="inner")
    async with open_supervisor([box.spec("x"), inner.child_spec(restart=Restart.TRANSIENT)]) as top:
        await box.tell("w", "crash")
        assert [(i.id, i.state.value) for i in top.which_children()] == [("x", "running"), ("inner", "stopped")]
        assert top.statistics().restarts == 0


async def test_backoff_delays_restarts_but_counts_them_when_decided(
    autojump_clock: trio.abc.Clock, box, recorder
) -> None:
    backoff = Backoff(initial=1.0, factor=2.0, maximum=60.0)
    async with open_supervisor([box.spec("a")], intensity=10, period=100, backoff=backoff) as sup:
        sup.subscribe(recorder)
        restarted_event = trio.Event()
        sup.subscribe(lambda event: event.kind is EventKind.RESTARTED and restarted_event.set())
        crashed = []
        for count in range(1, 4):
            crashed.append(trio.current_time())
            await box.tell("a", "crash")
            assert sup.statistics().restarts_in_window == count  # counted before the delay
            with trio.fail_after(100):
                await restarted_event.wait()
            restarted_event = trio.Event()
        restarted = [event.time for event in recorder.events if event.kind is EventKind.RESTARTED]
        assert [after - before for after, before in zip(restarted, crashed, strict=True)] == [1.0, 2.0, 4.0]

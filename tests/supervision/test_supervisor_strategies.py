"""Each strategy x restart type x exit kind restarts exactly the OTP set of children, in the OTP order."""

from __future__ import annotations

import pytest
import trio

from supervision import ChildState, Restart, Strategy, open_supervisor

EXPECTED_AFTER_B_ENDS = {
    Strategy.ONE_FOR_ONE: [("start", "b")],
    Strategy.ONE_FOR_ALL: [("stop", "c"), ("stop", "a"), ("start", "a"), ("start", "b"), ("start", "c")],
    Strategy.REST_FOR_ONE: [("stop", "c"), ("start", "b"), ("start", "c")],
}


def strategy_stops(strategy: Strategy) -> int:
    return sum(1 for kind, _ in EXPECTED_AFTER_B_ENDS[strategy] if kind == "stop")


RESTARTED = {
    (Restart.PERMANENT, "crash"): True,
    (Restart.PERMANENT, "return"): True,
    (Restart.PERMANENT, "shutdown"): True,
    (Restart.TRANSIENT, "crash"): True,
    (Restart.TRANSIENT, "return"): False,
    (Restart.TRANSIENT, "shutdown"): False,
    (Restart.TEMPORARY, "crash"): False,
    (Restart.TEMPORARY, "return"): False,
    (Restart.TEMPORARY, "shutdown"): False,
}


@pytest.mark.parametrize("strategy", list(Strategy))
@pytest.mark.parametrize(("restart", "action"), list(RESTARTED))
async def test_middle_child_ending_restarts_what_the_strategy_and_restart_type_say(
    autojump_clock: trio.abc.Clock, box, strategy: Strategy, restart: Restart, action: str
) -> None:
    specs = [box.spec("a"), box.spec("b", restart=restart), box.spec("c")]
    async with open_supervisor(specs, strategy=strategy, intensity=5) as sup:
        assert box.take() == [("start", "a"), ("start", "b"), ("start", "c")]
        await box.tell("b", action)
        restarted = RESTARTED[(restart, action)]
        assert box.take() == (EXPECTED_AFTER_B_ENDS[strategy] if restarted else [])
        states = {info.id: info.state for info in sup.which_children()}
        if restarted:
            assert states == {"a": ChildState.RUNNING, "b": ChildState.RUNNING, "c": ChildState.RUNNING}
            assert sup.statistics().restarts == len(EXPECTED_AFTER_B_ENDS[strategy]) - strategy_stops(strategy)
        elif restart is Restart.TEMPORARY:
            assert states == {"a": ChildState.RUNNING, "c": ChildState.RUNNING}
        else:
            assert states == {"a": ChildState.RUNNING, "b": ChildState.STOPPED, "c": ChildState.RUNNING}
    expected_stops = [("stop", "c"), ("stop", "b"), ("stop", "a")] if restarted else [("stop", "c"), ("stop", "a")]
    assert box.take() == expected_stops


async def test_one_for_all_drops_a_temporary_sibling_instead_of_restarting_it(
    autojump_clock: trio.abc.Clock, box
) -> None:
    specs = [box.spec("a"), box.spec("t", restart=Restart.TEMPORARY), box.spec("c")]
    async with open_supervisor(specs, strategy=Strategy.ONE_FOR_ALL) as sup:
        box.take()
        await box.tell("c", "crash")
        assert box.take() == [("stop", "t"), ("stop", "a"), ("start", "a"), ("start", "c")]
        assert [info.id for info in sup.which_children()] == ["a", "c"]


async def test_one_for_all_also_starts_a_stopped_transient_sibling_as_otp_does(
    autojump_clock: trio.abc.Clock, box
) -> None:
    specs = [box.spec("a"), box.spec("tr", restart=Restart.TRANSIENT), box.spec("c")]
    async with open_supervisor(specs, strategy=Strategy.ONE_FOR_ALL, intensity=3) as sup:
        await box.tell("tr", "return")
        box.take()
        await box.tell("a", "crash")
        assert box.take() == [("stop", "c"), ("start", "a"), ("start", "tr"), ("start", "c")]
        assert all(info.state is ChildState.RUNNING for info in sup.which_children())


async def test_rest_for_one_leaves_children_started_before_the_failed_one_alone(
    autojump_clock: trio.abc.Clock, box
) -> None:
    specs = [box.spec(name) for name in "abcd"]
    async with open_supervisor(specs, strategy=Strategy.REST_FOR_ONE, intensity=3):
        box.take()
        await box.tell("b", "crash")
        assert box.take() == [("stop", "d"), ("stop", "c"), ("start", "b"), ("start", "c"), ("start", "d")]
        await box.tell("d", "crash")
        assert box.take() == [("start", "d")]


async def test_a_sibling_that_died_while_being_restarted_around_is_not_restarted_twice(
    autojump_clock: trio.abc.Clock, box
) -> None:
    specs = [box.spec("a"), box.spec("b")]
    async with open_supervisor(specs, strategy=Strategy.ONE_FOR_ALL, intensity=5) as sup:
        box.take()
        # Both end in the same scheduling round; b's exit is stale once a's restart replaced b.
        event_a, action_a = box.live["a"]
        event_b, action_b = box.live["b"]
        action_a[0] = action_b[0] = "crash"
        event_a.set()
        event_b.set()
        await trio.testing.wait_all_tasks_blocked()
        assert box.starts() == ["a", "b"]
        assert sup.statistics().restarts == 2

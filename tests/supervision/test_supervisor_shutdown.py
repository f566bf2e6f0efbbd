"""Shutdown goes in reverse start order, each child within its timeout; auto_shutdown follows OTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio

from supervision import (
    AutoShutdown,
    ChildSpec,
    EventKind,
    Restart,
    ShutdownPolicy,
    Supervisor,
    open_supervisor,
)


def slow_stopper(log: list[tuple[str, float]], name: str, cleanup: float):
    async def child(*, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(cleanup)
            log.append((name, trio.current_time()))

    return child


async def test_cancelling_a_supervisor_stops_children_one_at_a_time_in_reverse_start_order(
    autojump_clock: trio.abc.Clock,
) -> None:
    log: list[tuple[str, float]] = []
    specs = [ChildSpec(n, slow_stopper(log, n, 1.0)) for n in "abc"]
    async with open_supervisor(specs):
        pass
    assert log == [("c", 1.0), ("b", 2.0), ("a", 3.0)]


async def test_a_child_that_shields_itself_past_its_timeout_is_abandoned_loudly_and_the_next_one_stopped(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture, recorder
) -> None:
    log: list[tuple[str, float]] = []
    specs = [
        ChildSpec("a", slow_stopper(log, "a", 0.5), shutdown=1.0),
        ChildSpec("stubborn", slow_stopper(log, "stubborn", 30.0), shutdown=2.0),
    ]
    with caplog.at_level(logging.ERROR, logger="supervision"):
        async with open_supervisor(specs, name="svc") as sup:
            sup.subscribe(recorder)
    # stubborn is given 2 s, then abandoned; a is stopped next (done at 2.5); the nursery still joins
    # stubborn when its shielded cleanup ends at 30 s: Trio lets no task outlive its nursery.
    assert log == [("a", 2.5), ("stubborn", 30.0)]
    assert trio.current_time() == 30.0
    assert ("abandoned", "stubborn") in recorder.pairs()
    assert sup.statistics().abandoned == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("'stubborn' of supervisor 'svc' did not stop within 2s" in m for m in messages)


async def test_infinity_and_brutal_kill_wait_for_the_child_however_long_it_takes(
    autojump_clock: trio.abc.Clock,
) -> None:
    log: list[tuple[str, float]] = []
    specs = [
        ChildSpec("k", slow_stopper(log, "k", 3.0), shutdown=ShutdownPolicy.BRUTAL_KILL),
        ChildSpec("i", slow_stopper(log, "i", 100.0), shutdown=ShutdownPolicy.INFINITY),
    ]
    async with open_supervisor(specs) as sup:
        pass
    assert log == [("i", 100.0), ("k", 103.0)]
    assert sup.statistics().abandoned == 0


async def test_stopping_a_sub_supervisor_stops_its_whole_subtree_before_older_siblings(
    autojump_clock: trio.abc.Clock, box
) -> None:
    inner = Supervisor([box.spec("i1"), box.spec("i2")], name="inner")
    async with open_supervisor([box.spec("a"), inner.child_spec(), box.spec("z")]):
        box.take()
    assert box.take() == [("stop", "z"), ("stop", "i2"), ("stop", "i1"), ("stop", "a")]


async def test_a_significant_child_ending_ends_an_any_significant_supervisor(
    autojump_clock: trio.abc.Clock, box, recorder
) -> None:
    sup = Supervisor(
        [box.spec("a"), box.spec("owner", restart=Restart.TRANSIENT, significant=True), box.spec("c")],
        auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
    )
    sup.subscribe(recorder)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        box.take()
        await box.tell("owner", "return")
    assert box.take() == [("stop", "c"), ("stop", "a")]
    assert ("auto_shutdown", "owner") in recorder.pairs()


async def test_a_crashing_transient_significant_child_is_restarted_not_a_reason_to_shut_down(
    autojump_clock: trio.abc.Clock, box
) -> None:
    specs = [box.spec("owner", restart=Restart.TRANSIENT, significant=True)]
    async with open_supervisor(specs, auto_shutdown=AutoShutdown.ANY_SIGNIFICANT) as sup:
        await box.tell("owner", "crash")
        assert box.starts() == ["owner", "owner"]
        assert sup.count_children().active == 1


async def test_all_significant_waits_for_the_last_significant_child(autojump_clock: trio.abc.Clock, box) -> None:
    sup = Supervisor(
        [
            box.spec("s1", restart=Restart.TEMPORARY, significant=True),
            box.spec("w"),
            box.spec("s2", restart=Restart.TRANSIENT, significant=True),
        ],
        auto_shutdown=AutoShutdown.ALL_SIGNIFICANT,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        box.take()
        await box.tell("s1", "crash")
        assert box.take() == []
        assert [i.id for i in sup.which_children()] == ["w", "s2"]
        await box.tell("s2", "shutdown")
    assert box.take() == [("stop", "w")]


async def test_never_auto_shutdown_ignores_significant_children(autojump_clock: trio.abc.Clock, box) -> None:
    async with open_supervisor([box.spec("s", restart=Restart.TEMPORARY, significant=True), box.spec("w")]) as sup:
        await box.tell("s", "return")
        assert [i.id for i in sup.which_children()] == ["w"]


async def test_terminating_a_significant_child_explicitly_does_not_trigger_auto_shutdown(
    autojump_clock: trio.abc.Clock, box, recorder
) -> None:
    specs = [box.spec("s", restart=Restart.TRANSIENT, significant=True), box.spec("w")]
    async with open_supervisor(specs, auto_shutdown=AutoShutdown.ANY_SIGNIFICANT) as sup:
        sup.subscribe(recorder)
        await sup.terminate_child("s")
        await trio.testing.wait_all_tasks_blocked()
        assert sup.count_children().active == 1
    assert EventKind.AUTO_SHUTDOWN.value not in [kind for kind, _ in recorder.pairs()]

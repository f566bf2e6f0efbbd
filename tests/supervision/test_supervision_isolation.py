"""Whatever a child raises ends that child only: BaseException subclasses, groups, and the nowait/cancel API."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing

from supervision import (
    ChildSpec,
    MaxChildrenError,
    Restart,
    SupervisorClosed,
    open_dynamic_supervisor,
    open_supervisor,
)


class LibraryAbort(BaseException):
    """What some libraries raise: a BaseException that is not an Exception (not cancellation either)."""


def raiser(exc: BaseException) -> Any:
    async def child(*, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        await trio.sleep(1)
        raise exc

    return child


async def blocker(*, task_status: trio.TaskStatus[Any]) -> None:
    task_status.started()
    await trio.sleep_forever()


@pytest.mark.parametrize(
    "exc",
    [
        LibraryAbort("boom"),
        BaseExceptionGroup("group", [LibraryAbort("a"), ValueError("b")]),
        ExceptionGroup("group", [ValueError("a")]),
    ],
    ids=["base-exception", "base-group", "group"],
)
@pytest.mark.parametrize("terminable", [True, False])
async def test_a_dynamic_child_raising_anything_ends_only_itself(
    autojump_clock: trio.abc.Clock, exc: BaseException, terminable: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="supervision"):
        async with open_dynamic_supervisor(name="conns", terminable=terminable) as sup:
            survivor = await sup.start_child(blocker)
            await sup.start_child(raiser(exc))
            await trio.sleep(2)
            assert survivor.running
            stats = sup.statistics()
            assert (stats.active, stats.exits_abnormal) == (1, 1)
    assert any("child #2 of supervisor 'conns' exited abnormally" in r.getMessage() for r in caplog.records)


async def test_a_static_child_raising_a_base_exception_is_restarted_like_any_crash(
    autojump_clock: trio.abc.Clock,
) -> None:
    starts: list[float] = []

    async def flaky(*, task_status: trio.TaskStatus[Any]) -> None:
        starts.append(trio.current_time())
        task_status.started()
        await trio.sleep(1)
        if len(starts) == 1:
            raise LibraryAbort("first run")
        await trio.sleep_forever()

    async with open_supervisor([ChildSpec("flaky", flaky), ChildSpec("other", blocker)], intensity=3) as sup:
        await trio.sleep(5)
        stats = sup.statistics()
        assert (stats.exits_abnormal, stats.restarts, stats.active) == (1, 1, 2)
    assert starts == [0.0, 1.0]


async def test_a_static_child_failing_to_start_with_a_base_exception_is_a_start_failure(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def broken(*, task_status: trio.TaskStatus[Any]) -> None:
        raise LibraryAbort("no")

    async with open_supervisor([ChildSpec("ok", blocker)]) as sup:
        with pytest.raises(Exception, match="failed to start") as info:
            await sup.start_child(ChildSpec("broken", broken))
        assert isinstance(info.value.__cause__, LibraryAbort)
        assert sup.statistics().start_failures == 1


async def test_system_exit_from_a_child_is_not_swallowed(autojump_clock: trio.abc.Clock) -> None:
    async def scenario() -> None:
        async with open_dynamic_supervisor() as sup:
            await sup.start_child(raiser(SystemExit(3)))
            await trio.sleep_forever()

    with pytest.raises(SystemExit):
        await scenario()


async def test_start_child_nowait_runs_the_child_at_once_and_counts_its_exit(
    autojump_clock: trio.abc.Clock, recorder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    async def work(name: str, fail: bool) -> None:
        ran.append(name)
        await trio.sleep(1)
        if fail:
            raise LibraryAbort(name)

    with caplog.at_level(logging.ERROR, logger="supervision"):
        async with open_dynamic_supervisor(name="requests") as sup:
            sup.subscribe(recorder)
            ok = sup.start_child_nowait(work, "ok", False, value="tools/call echo")
            bad = sup.start_child_nowait(work, "bad", True, value="tools/call boom")
            assert ok.running
            assert ok.value == "tools/call echo"
            assert ran == []  # spawned, not yet run: no round trip through nursery.start
            await trio.sleep(2)
            assert sorted(ran) == ["bad", "ok"]  # trio runs a batch of new tasks in random order
            assert not ok.running
            assert not bad.running
            stats = sup.statistics()
            assert (stats.starts, stats.exits_normal, stats.exits_abnormal) == (2, 1, 1)
    assert [kind for kind, _ in recorder.pairs()] == ["started", "started", "exited", "exited"]
    assert any("#2 ('tools/call boom')" in r.getMessage() for r in caplog.records)


async def test_cancel_stops_one_child_without_waiting_and_it_counts_as_shutdown(
    autojump_clock: trio.abc.Clock,
) -> None:
    stopped: list[float] = []

    async def work() -> None:
        try:
            await trio.sleep_forever()
        finally:
            stopped.append(trio.current_time())

    async with open_dynamic_supervisor() as sup:
        doomed = sup.start_child_nowait(work)
        kept = sup.start_child_nowait(work)
        await trio.testing.wait_all_tasks_blocked()
        doomed.cancel()
        assert doomed.running  # asked, not yet stopped: cancel does not wait
        await doomed.wait()
        await doomed.wait()  # an ended child: returns at once
        assert not doomed.running
        assert kept.running
        assert stopped == [0.0]
        assert sup.statistics().exits_shutdown == 1


async def test_start_child_nowait_respects_max_children_and_the_supervisor_state(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with open_dynamic_supervisor(max_children=1) as sup:
        sup.start_child_nowait(trio.sleep_forever)
        with pytest.raises(MaxChildrenError):
            sup.start_child_nowait(trio.sleep_forever)
    with pytest.raises(SupervisorClosed):
        sup.start_child_nowait(trio.sleep_forever)


async def test_start_child_nowait_is_only_for_temporary_children(autojump_clock: trio.abc.Clock) -> None:
    async with open_dynamic_supervisor(restart=Restart.PERMANENT) as sup:
        with pytest.raises(RuntimeError, match="temporary"):
            sup.start_child_nowait(trio.sleep_forever)


async def test_shutdown_cancels_spawned_children_in_parallel_and_abandons_the_stubborn(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    released = trio.Event()

    async def stubborn() -> None:
        with trio.CancelScope(shield=True):
            await released.wait()

    async with trio.open_nursery() as outer:
        with caplog.at_level(logging.ERROR, logger="supervision"):
            async with open_dynamic_supervisor(shutdown=3.0, name="requests") as sup:
                sup.start_child_nowait(trio.sleep_forever)
                sup.start_child_nowait(stubborn, value="tools/call stuck")
                outer.start_soon(_release_at, released, 10.0)
        # The supervisor gave up on the stubborn child at 3 s, then waited for it to end on its own.
        assert trio.current_time() == 10.0
        assert sup.statistics().abandoned == 1
        assert any("abandoning them: #2" in r.getMessage() for r in caplog.records)


async def _release_at(event: trio.Event, when: float) -> None:
    await trio.sleep_until(when)
    event.set()

"""which_children, count_children, statistics, the tree dump and the event hook describe the tree exactly."""

from __future__ import annotations

import json
import logging

import attrs
import pytest
import trio

from supervision import (
    ChildCounts,
    DynamicSupervisor,
    ExitClass,
    Restart,
    Supervisor,
    format_tree,
    open_supervisor,
)


async def test_statistics_is_an_immutable_record_of_counts_by_exit_class(autojump_clock: trio.abc.Clock, box) -> None:
    specs = [box.spec("a"), box.spec("t", restart=Restart.TEMPORARY), box.spec("tr", restart=Restart.TRANSIENT)]
    async with open_supervisor(specs, intensity=5, name="app") as sup:
        await box.tell("a", "crash")
        await box.tell("t", "shutdown")
        await box.tell("tr", "return")
        stats = sup.statistics()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            stats.restarts = 9  # type: ignore[misc]
        assert (stats.name, stats.strategy, stats.specs, stats.active) == ("app", "one_for_one", 2, 1)
        assert (stats.starts, stats.restarts, stats.restarts_in_window) == (4, 1, 1)
        assert (stats.exits_normal, stats.exits_shutdown, stats.exits_abnormal) == (1, 1, 1)
        assert sup.count_children() == ChildCounts(specs=2, active=1, supervisors=0, workers=1)


async def test_the_tree_dump_nests_sub_supervisors_and_is_json_serialisable(
    autojump_clock: trio.abc.Clock, box
) -> None:
    pool = DynamicSupervisor(name="conns")
    inner = Supervisor([box.spec("db")], name="storage")
    async with open_supervisor([inner.child_spec(), pool.child_spec()], name="app") as app:
        for _ in range(3):
            await pool.start_child(box.child, "conn")
        tree = app.tree(limit=2)
        assert json.loads(json.dumps(tree)) == tree
        assert [child["id"] for child in tree["children"]] == ["storage", "conns"]
        assert tree["children"][0]["tree"]["children"][0]["id"] == "db"
        conns = tree["children"][1]["tree"]
        assert (conns["type"], conns["omitted_children"], len(conns["children"])) == ("dynamic_supervisor", 1, 2)
        assert format_tree(tree) == "\n".join(
            [
                "app [one_for_one] running: 2/2 children, 0 restarts, 0 escalations",
                "├── storage running permanent",
                "│   storage [one_for_one] running: 1/1 children, 0 restarts, 0 escalations",
                "│   └── db running permanent",
                "└── conns running permanent",
                "    conns [simple_one_for_one] running: 3/3 children, 0 restarts, 0 escalations",
                "    ├── #1 running temporary",
                "    ├── #2 running temporary",
                "    └── ... 1 more",
            ]
        )


async def test_the_event_hook_reports_each_step_with_its_exit_class_and_time(
    autojump_clock: trio.abc.Clock, box, recorder
) -> None:
    sup = Supervisor([box.spec("a"), box.spec("b")], intensity=2)
    unsubscribe = sup.subscribe(recorder)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(2)
        await box.tell("a", "crash")
        unsubscribe()
        await box.tell("a", "crash")  # not recorded
        nursery.cancel_scope.cancel()
    assert recorder.pairs() == [("started", "a"), ("started", "b"), ("exited", "a"), ("restarted", "a")]
    exited = recorder.events[2]
    assert (exited.exit, exited.time, str(exited.error)) == (ExitClass.ABNORMAL, 2.0, "a crashed")


async def test_a_subscriber_that_raises_is_logged_and_does_not_break_the_tree(
    autojump_clock: trio.abc.Clock, box, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: object) -> None:
        raise ZeroDivisionError

    with caplog.at_level(logging.ERROR, logger="supervision"):
        async with open_supervisor([box.spec("a")]) as sup:
            sup.subscribe(broken)
            await box.tell("a", "crash")
            assert sup.statistics().restarts == 1
    assert any("subscriber" in r.getMessage() for r in caplog.records)

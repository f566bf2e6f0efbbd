"""The public surface is deliberate: adding or removing a name is a decision, so it shows up here."""

from __future__ import annotations

import supervision


def test_all_lists_exactly_the_public_api() -> None:
    assert supervision.__all__ == [
        "Supervisor",
        "open_supervisor",
        "DynamicSupervisor",
        "open_dynamic_supervisor",
        "open_started",
        "ChildHandle",
        "ChildSpec",
        "StartFunction",
        "Restart",
        "ShutdownPolicy",
        "Strategy",
        "AutoShutdown",
        "RestartIntensity",
        "Backoff",
        "ExitClass",
        "EventKind",
        "SupervisorEvent",
        "ChildState",
        "ChildInfo",
        "ChildCounts",
        "SupervisorStatistics",
        "format_tree",
        "split_exit",
        "single_error",
        "SupervisionError",
        "Shutdown",
        "SupervisorEscalation",
        "FailedToStartChild",
        "DuplicateChildError",
        "UnknownChildError",
        "ChildRunningError",
        "MaxChildrenError",
        "SupervisorClosed",
    ]


def test_every_exported_name_resolves() -> None:
    for name in supervision.__all__:
        assert getattr(supervision, name) is not None


def test_errors_form_one_hierarchy_with_stdlib_and_trio_bases() -> None:
    import trio

    assert issubclass(supervision.SupervisorEscalation, supervision.Shutdown)
    assert issubclass(supervision.DuplicateChildError, ValueError)
    assert issubclass(supervision.UnknownChildError, LookupError)
    assert issubclass(supervision.SupervisorClosed, trio.ClosedResourceError)
    for name in supervision.__all__:
        obj = getattr(supervision, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, supervision.SupervisionError)

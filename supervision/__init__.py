"""An OTP-grade supervision tree on Trio nurseries.

Imports trio (and attrs) only, never ``mcp_trio``: it is a reusable package of its own.

Theory of operation: a :class:`Supervisor` runs an ordered list of :class:`ChildSpec` children in one
nursery, each inside a runner that catches and classifies its exit (normal, shutdown, abnormal) so that no
child exception ever reaches the nursery. One loop per supervisor applies OTP's rules to each exit:
restart type, then the supervisor-wide intensity window, then the strategy. Exceeding intensity stops all
children in reverse start order and raises :class:`SupervisorEscalation` to the parent, which sees it as
its child's exit, so failure climbs the tree. A :class:`DynamicSupervisor` (``simple_one_for_one``) holds
many cheap children of one kind: one task and one slotted :class:`ChildHandle` each. See
``docs/supervision.md`` for the semantics and where they differ from OTP.
"""

from __future__ import annotations

from ._boundary import open_started, single_error, split_exit
from .dynamic import ChildHandle, DynamicSupervisor, open_dynamic_supervisor
from .errors import (
    ChildRunningError,
    DuplicateChildError,
    FailedToStartChild,
    MaxChildrenError,
    Shutdown,
    SupervisionError,
    SupervisorClosed,
    SupervisorEscalation,
    UnknownChildError,
)
from .events import EventKind, ExitClass, SupervisorEvent
from .intensity import Backoff, RestartIntensity
from .introspection import ChildCounts, ChildInfo, ChildState, SupervisorStatistics, format_tree
from .spec import AutoShutdown, ChildSpec, Restart, ShutdownPolicy, StartFunction, Strategy
from .supervisor import Supervisor, open_supervisor

__all__ = [
    # running a tree
    "Supervisor",
    "open_supervisor",
    "DynamicSupervisor",
    "open_dynamic_supervisor",
    "open_started",
    "ChildHandle",
    # describing children
    "ChildSpec",
    "StartFunction",
    "Restart",
    "ShutdownPolicy",
    "Strategy",
    "AutoShutdown",
    # policies
    "RestartIntensity",
    "Backoff",
    # observing
    "ExitClass",
    "EventKind",
    "SupervisorEvent",
    "ChildState",
    "ChildInfo",
    "ChildCounts",
    "SupervisorStatistics",
    "format_tree",
    # errors
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

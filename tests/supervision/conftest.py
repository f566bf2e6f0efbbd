"""Fixtures for the supervision tests: scripted children and an event recorder."""

from __future__ import annotations

import pytest
from supervision_helpers import Box

from supervision import SupervisorEvent


@pytest.fixture
def box() -> Box:
    return Box()


class Recorder:
    """Collects supervisor events as ``(kind, child_id)`` pairs (and keeps the full events)."""

    def __init__(self) -> None:
        self.events: list[SupervisorEvent] = []

    def __call__(self, event: SupervisorEvent) -> None:
        self.events.append(event)

    def pairs(self) -> list[tuple[str, str | None]]:
        return [(event.kind.value, event.child_id) for event in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()

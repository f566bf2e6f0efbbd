"""Shared test configuration."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# The machine is shared and noisy: timing belongs to benchmarks, never to tests. CI runs more examples.
settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=200)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(autouse=True)
def _thaw_the_collector() -> Iterator[None]:
    """A runtime freezes what survived into the collector's permanent generation (``runtime/collector.py``):
    thaw it after each test, so one test's frozen garbage is collected and no later test sees it frozen."""
    yield
    gc.unfreeze()

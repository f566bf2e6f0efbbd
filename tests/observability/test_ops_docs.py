"""The operations files refer to what exists: every metric the alerting rules use is exported."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mcp_trio.demo import build_demo_server
from mcp_trio.observability import Observer

OPS = Path(__file__).resolve().parents[2] / "docs" / "ops"


async def test_every_metric_in_the_alerting_rules_is_exported() -> None:
    async with build_demo_server().open_runtime() as runtime:
        observer = Observer(runtime)
        observer.memory.sample()
        runtime.admission.refuse("connections", "a refusal, so that the counter has a sample")
        exported = set()
        for family in text_string_to_metric_families(observer.metrics().decode()):
            exported.add(family.name)
            exported.update(sample.name for sample in family.samples)
    used = set(re.findall(r"\bmcp_trio_[a-z0-9_]+", (OPS / "alerts.yml").read_text()))
    assert used
    assert used <= exported, used - exported


def test_the_unit_drains_longer_than_the_default_drain_deadline() -> None:
    unit = (OPS / "mcp-trio.service").read_text()
    stop = int(re.search(r"TimeoutStopSec=(\d+)", unit)[1])  # type: ignore[index]
    assert stop > 30  # RuntimeConfig.drain_timeout
    assert "KillSignal=SIGTERM" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit

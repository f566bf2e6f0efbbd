"""``mcp-trio health`` renders the health document as rich tables: the figures an operator looks for are there, for
one process and for a ``--workers`` parent, and the exit status still follows the HTTP status."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest
from rich.console import Console

from mcp_trio.cli import _health
from mcp_trio.demo import build_demo_server
from mcp_trio.observability import Observer, WorkersObserver, render_health


def rendered(document: Mapping[str, Any], width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render_health(document))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


async def one_process_document() -> dict[str, Any]:
    async with build_demo_server().open_runtime() as runtime:
        observer = Observer(runtime)
        observer.memory.sample()
        for reason in ("in_flight", "in_flight", "rate_limit_client"):
            runtime.admission.refuse(reason, "a refusal, so that there is one to show")
        _, document = observer.health()
    return document


async def test_one_process_document_shows_status_traffic_shards_and_the_process() -> None:
    document = await one_process_document()
    document["shards"][3].update(connections=1234, requests=56789, failed_requests=2)
    document["connections_by_transport"] = {"http": 1000, "ndjson": 234}
    document["status"], document["problems"] = "degraded", ["shedding (memory)"]
    document["memory"]["rss_bytes"] = 300 * 2**20
    document["gc"].update(max_ms=12.5, p99_ms=3.25)
    text = rendered(document)
    assert "status degraded" in text
    assert "! shedding (memory)" in text
    assert "http 1,000, ndjson 234" in text
    assert "in_flight 2, rate_limit_client 1" in text  # refusals, the most frequent first
    shard = next(line for line in text.splitlines() if "shard-03" in line).split()
    assert shard == ["shard-03", "1,234", "0", "56,789", "0", "0/2", "0"]
    assert "and 15 idle" in text  # idle shards are counted, not listed
    assert "shard-04" not in text
    assert "300.0 MiB" in text
    assert "12.5 / 3.25 ms" in text
    assert f"{len(document['tree'])} children running" in text
    assert "workers" not in text


def test_a_workers_parent_document_has_a_row_per_worker() -> None:
    summary = {
        "status": "ok",
        "problems": [],
        "connections": 40,
        "sessions": 3,
        "in_flight": 2,
        "listen_streams": 0,
        "refusals": {"connections": 5},
        "rss": 64 * 2**20,
        "growth_mb_per_hour": 0.5,
        "gc_pause_max_ms": 4.0,
        "gc_pause_p99_ms": 1.0,
    }
    rows = [
        {"slot": "worker-1", "pid": 4101, **summary},
        {"slot": "worker-2", "pid": 4102, **summary, "status": "degraded", "problems": ["event loop stalled"]},
    ]
    status, document = WorkersObserver(lambda: rows, 2).health()
    assert status == 503
    text = rendered(document)
    assert "status degraded" in text
    assert "! worker worker-2: event loop stalled" in text
    assert "connections 10" in text  # refusals summed over the workers
    assert "128.0 MiB" in text  # the parent's total RSS
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.strip().startswith("worker-")}
    assert lines["worker-1"] == ["worker-1", "4101", "ok", "40", "3", "2", "64.0", "MiB", "0.5", "4.0/1.0"]
    assert lines["worker-2"][:3] == ["worker-2", "4102", "degraded"]
    assert "shards" not in text  # the parent has none to show


class _Answer(io.BytesIO):
    status = 200

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def test_the_health_command_prints_the_table_and_exits_by_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = await one_process_document()
    body = json.dumps(document).encode()
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout: _Answer(body))
    assert _health("http://127.0.0.1:9100/health", as_json=False) == 0
    out = capsys.readouterr().out
    assert "status ok" in out
    assert "in_flight 2, rate_limit_client 1" in out
    assert f"shards: {len(document['shards'])}, all idle" in out
    assert _health("http://127.0.0.1:9100/health", as_json=True) == 0
    assert json.loads(capsys.readouterr().out) == document

    def unhealthy(request: urllib.request.Request, timeout: float) -> _Answer:
        raise urllib.error.HTTPError(request.full_url, 503, "degraded", {}, io.BytesIO(body))  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", unhealthy)
    assert _health("http://127.0.0.1:9100/health", as_json=False) == 1
    assert "status ok" in capsys.readouterr().out
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout: _Answer(b"[1, 2]"))
    assert _health("http://127.0.0.1:9100/health", as_json=False) == 2
    assert "not a health document" in capsys.readouterr().err

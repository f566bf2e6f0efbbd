"""``mcp-trio soak``: a short run of each scenario against our server (seconds, small N), the report, SLA gates
and bad arguments. The long runs and their figures are in ``docs/performance.md``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from soak import parse_sla

pytestmark = pytest.mark.slow


def soak(*args: str, report: Path | None = None) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    argv = [sys.executable, "-m", "mcp_trio", "soak", *args]
    if report is not None:
        argv += ["--report", str(report)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    document = json.loads(report.read_text()) if report is not None and report.exists() else {}
    return done, document


@pytest.mark.parametrize("engine", ["lean", "client"])
def test_baseline_paces_every_call_and_answers_each_once(tmp_path: Path, engine: str) -> None:
    done, report = soak(
        "baseline",
        "--engine",
        engine,
        "--sessions",
        "3",
        "--rate",
        "20",
        "--duration",
        "2",
        "--sla",
        "errors=0.1%",
        report=tmp_path / "r.json",
    )
    assert done.returncode == 0, done.stderr
    totals = report["totals"]
    assert isinstance(totals, dict)
    assert totals["exactly_one_answer"] is True
    assert 100 <= totals["sent"] <= 140  # 3 sessions x 20/s x 2 s, open loop
    assert totals["ok"] == totals["sent"]
    assert totals["p99_ms"] > 0
    assert report["passed"] is True
    assert report["run"]["engine"] == engine  # type: ignore[index]
    assert "soak baseline:" in done.stdout


def test_bomb_and_flood_and_idle_run_end_to_end(tmp_path: Path) -> None:
    done, report = soak(
        "bomb", "--sessions", "2", "--rate", "10", "--duration", "1", "--warmup", "1", "--cooldown", "1",
        "--depth", "4", report=tmp_path / "bomb.json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert report["totals"]["sent"] > 200  # type: ignore[index]  # the closed-loop phase fires as fast as answered
    done, report = soak(
        "flood", "--sessions", "6", "--rate", "4", "--ramp", "1", "--duration", "1", report=tmp_path / "flood.json"
    )
    assert done.returncode == 0, done.stderr
    assert report["totals"]["sessions_opened"] == 6  # type: ignore[index]
    done, report = soak("idle", "--sessions", "50", "--duration", "1", report=tmp_path / "idle.json")
    assert done.returncode == 0, done.stderr
    assert report["totals"]["pings_answered"] == 50  # type: ignore[index]
    assert report["server"]["bytes_per_session"] is not None  # type: ignore[index]


def test_a_breached_gate_exits_1_and_names_it() -> None:
    done, _ = soak("baseline", "--sessions", "1", "--rate", "5", "--duration", "1", "--sla", "p50=0.001ms")
    assert done.returncode == 1
    assert "SLA p50 <= 0.001 ms" in done.stdout
    assert "BREACHED" in done.stdout


def test_bad_arguments_exit_2() -> None:
    done, _ = soak("baseline", "--engine", "lean", "--target", "http://127.0.0.1:9/mcp", "--duration", "1")
    assert done.returncode == 2
    assert "the lean engine takes tcp:// and unix: targets" in done.stderr
    done, _ = soak("baseline", "--sla", "p95=fast")
    assert done.returncode == 2
    assert "bad SLA gate 'p95=fast'" in done.stderr
    done, _ = soak("baseline", "--target", "http://192.0.2.1:8000/mcp", "--duration", "1")
    assert done.returncode == 2
    assert "not a loopback target" in done.stderr


def test_sla_parsing() -> None:
    gates = parse_sla("p95=150ms,p99=1s,errors=0.1%,rss_growth=25%")
    assert [(g.name, g.limit) for g in gates] == [("p95", 0.15), ("p99", 1.0), ("errors", 0.001), ("rss_growth", 0.25)]
    with pytest.raises(ValueError, match="takes a percentage"):
        parse_sla("errors=3ms")


def test_compare_puts_reports_side_by_side(tmp_path: Path) -> None:
    def report(name: str, p99: float, refused: int) -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(
            json.dumps(
                {
                    "scenario": {"name": "bomb", "sessions": 20},
                    "target": name,
                    "totals": {"sent": 1000, "ok": 1000 - refused, "refused": refused, "p99_ms": p99},
                    "server": {"rss_growth": 0.02},
                    "passed": True,
                }
            )
        )
        return path

    ours, theirs = report("ours", 12.5, 0), report("sdk", 900.0, 0)
    done = subprocess.run(
        [sys.executable, "-m", "mcp_trio", "soak", "compare", str(ours), str(theirs)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    p99 = next(line for line in done.stdout.splitlines() if line.startswith("p99 (ms)"))
    assert p99.split()[2:] == ["12.50", "900.00"]
    assert "late sends" in done.stdout  # absent figures show as "-"
    done = subprocess.run(
        [sys.executable, "-m", "mcp_trio", "soak", "compare", str(ours)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2


def test_mix_checks_the_server_returns_to_its_baseline(tmp_path: Path) -> None:
    done, report = soak("mix", "--sessions", "4", "--rate", "10", "--duration", "2", report=tmp_path / "mix.json")
    assert done.returncode == 0, done.stderr
    totals, server = report["totals"], report["server"]
    assert isinstance(totals, dict)
    assert isinstance(server, dict)
    assert totals["exactly_one_answer"] is True
    assert totals["returned_to_baseline"] is True
    assert server["after"] == server["before"]
    assert "server back to its baseline: True" in done.stdout

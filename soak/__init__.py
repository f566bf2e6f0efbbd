"""``mcp-trio soak``: the seed scenarios (baseline, flood, bomb, idle, mix) against any MCP server.

``scenarios`` describes them, ``generator`` is one load-generator process (open-loop pacing with our own client,
latencies in HDR histograms from the intended send time), ``runner`` starts the target and the generators,
merges their per-second figures, samples the server's memory and CPU, applies SLA gates and builds the report.
``progress`` shows the run as it goes (a live rich table, or a line a second); ``charts`` chooses what the report
plots, ``svg`` and ``html_report`` draw the self-contained HTML report, ``png`` the PNG charts (matplotlib);
``compare`` puts reports side by side.
"""

from soak.compare import compare_reports
from soak.runner import SoakReport, run_soak
from soak.scenarios import SCENARIOS, Scenario, parse_sla

__all__ = ["SCENARIOS", "Scenario", "SoakReport", "compare_reports", "parse_sla", "run_soak"]

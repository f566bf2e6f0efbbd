"""What one load-generator process counts, and the JSON line it prints once a second: shared by both engines
(``soak.generator``'s Trio client sessions and ``soak.lean``'s event loop), so they report alike.

A line holds that second's calls sent and answered, errors by kind (overload refusals by their reason, apart
from failures), late and unsent sends, sessions that failed to open or were lost (by kind), sessions open, and
that second's latency histograms (HDR, microseconds, base64): from each call's intended send time (``hist``)
and from when it actually went out (``shist``). The last line (``final``) adds the whole run's histograms.
A value is recorded into the second's histogram only; the run's total takes each second whole when it is
printed (one ``record_value`` is about 3 us of Python, so this halves the per-call cost).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from mcp_trio.protocol.errors import RemoteError

__all__ = ["MAX_MICROS", "Tally", "histogram", "refusal_kind"]

MAX_MICROS: Final = 120_000_000


def histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_MICROS, 3)


def refusal_kind(code: int, data: Any) -> str:
    """An error answer's kind: ``refused:<reason>`` for our overload refusals (-32000 with ``data.reason``),
    ``error:<code>`` otherwise."""
    reason = data.get("reason") if code == -32000 and isinstance(data, dict) else None
    return f"refused:{reason}" if reason else f"error:{code}"


def remote_error_kind(exc: RemoteError) -> str:
    return refusal_kind(exc.code, exc.data)


class Tally:
    def __init__(self) -> None:
        self.second = histogram()
        self.total = histogram()
        # From when each call actually went out: the server's share alone, apart from any lag of this generator
        # (which the latency from the intended time includes, as it must for an open-loop figure).
        self.service_second = histogram()
        self.service_total = histogram()
        self.counts: dict[str, Any] = self._fresh()
        self.opened = 0
        self.open = 0  # sessions open now (``opened`` counts every one that ever opened)
        self.answered_pings = 0

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {
            "sent": 0,
            "ok": 0,
            "late": 0,
            "unsent": 0,
            "errors": {},
            "open_failed": 0,
            "lost": 0,
            "session_errors": {},
        }

    def record(self, latency: float, error: str | None, service: float | None = None) -> None:
        micros = max(1, min(MAX_MICROS, int(latency * 1e6)))
        if error is None:
            self.counts["ok"] += 1
            self.second.record_value(micros)
            self.service_second.record_value(micros if service is None else max(1, min(MAX_MICROS, int(service * 1e6))))
        else:
            errors = self.counts["errors"]
            errors[error] = errors.get(error, 0) + 1

    def session_failed(self, opened: bool, kind: str) -> None:
        """A session that failed to open (``opened`` False) or was lost after, counted by ``kind``."""
        phase = "lost" if opened else "open_failed"
        self.counts[phase] += 1
        kinds = self.counts["session_errors"]
        key = f"{phase}:{kind}"
        kinds[key] = kinds.get(key, 0) + 1

    def emit(self, extra: dict[str, Any]) -> None:
        """Print this second's line and start the next second."""
        self._fold()
        self._print(extra)

    def emit_final(self, second: int) -> None:
        """The last, partial second (merged like the others by the runner), with the whole run's histograms."""
        self._fold()
        self._print(
            {
                "final": True,
                "second": second,
                "total_hist": _encode(self.total),
                "total_shist": _encode(self.service_total),
                "answered_pings": self.answered_pings,
            }
        )

    def _fold(self) -> None:
        """Add this second's histograms to the run's."""
        self.total.add(self.second)
        self.service_total.add(self.service_second)

    def _print(self, extra: dict[str, Any]) -> None:
        line = {**extra, **self.counts, "opened": self.opened, "open": self.open, "hist": _encode(self.second)}
        line["shist"] = _encode(self.service_second)
        self.second = histogram()
        self.service_second = histogram()
        self.counts = self._fresh()
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def _encode(histogram: HdrHistogram) -> str:
    """The histogram in HDR's own compressed, base64 form (``decode_and_add`` reads it back)."""
    return bytes(histogram.encode()).decode("ascii")

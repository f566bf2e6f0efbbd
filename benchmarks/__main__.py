"""Run every benchmark in turn (``make bench``)."""

from __future__ import annotations

import importlib
import sys

#: Benchmark modules, each with a ``main() -> None`` that prints its figures.
BENCHMARKS: tuple[str, ...] = ()


def main() -> None:
    if not BENCHMARKS:
        print("no benchmarks yet")
        return
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main()
    sys.stdout.flush()


if __name__ == "__main__":
    main()

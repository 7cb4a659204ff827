"""`python -m bench` (make bench): every benchmark, one table, bench/results.json."""

from __future__ import annotations

import sys
import traceback

from . import local_overhead, startup, streaming
from .harness import report

BENCHMARKS = (
    ("streaming pipeline", streaming),
    ("local-model overhead", local_overhead),
    ("start-up", startup),
)


def main() -> int:
    figures = []
    for label, module in BENCHMARKS:
        print(f"running {label}…", flush=True)
        try:
            figures += module.run()
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
    report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())

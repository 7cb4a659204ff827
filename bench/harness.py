"""Repeat, take medians, print a table, write bench/results.json."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).parent / "results.json"


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None
    target: str
    met: bool

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def report(figures: list[Figure]) -> None:
    print(f"\n{'figure':<46} {'value':>12} {'baseline':>12} {'ratio':>7}  target{'':<22} met")
    for f in figures:
        ratio = f"{f.ratio:.3f}" if f.ratio is not None else "-"
        baseline = f"{f.baseline:.3f}" if f.baseline is not None else "-"
        print(
            f"{f.name:<46} {f.value:>10.3f} {f.unit:<2}{baseline:>11} {ratio:>7}  {f.target:<28} {'yes' if f.met else 'NO'}"
        )
    RESULTS.write_text(json.dumps([{**asdict(f), "ratio": f.ratio} for f in figures], indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")

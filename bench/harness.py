"""Repeat, take medians, print a table with each figure's spread over its runs, write bench/results.json."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
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
    #: each run's figure, so that a reader sees how far one run may stray from the median; for a
    #: figure with a baseline, each run's ratio against the baseline run interleaved with it
    runs: Sequence[float] = field(default_factory=tuple)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    @property
    def spread(self) -> str:
        if len(self.runs) < 2:
            return "-"
        low, high = min(self.runs), max(self.runs)
        digits = 2 if high < 10 else (1 if high < 100 else 0)
        return f"{low:.{digits}f}-{high:.{digits}f}"


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def runs_of(runs: int, measure: Callable[[], float]) -> list[float]:
    """Each run's figure (their median is the figure, their range its spread)."""
    return [measure() for _ in range(runs)]


def ratios(values: Sequence[float], baselines: Sequence[float]) -> list[float]:
    """Each run's ratio against the baseline run interleaved with it."""
    return [v / b for v, b in zip(values, baselines, strict=True) if b]


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def report(figures: list[Figure]) -> None:
    print(
        f"\n{'figure':<56} {'value':>10} {'baseline':>11} {'ratio':>6} {'spread (runs)':>15}  target{'':<20} met"
    )
    for f in figures:
        ratio = f"{f.ratio:.3f}" if f.ratio is not None else "-"
        baseline = f"{f.baseline:.3f}" if f.baseline is not None else "-"
        print(
            f"{f.name:<56} {f.value:>8.3f} {f.unit:<3}{baseline:>10} {ratio:>6} {f.spread:>15}  "
            f"{f.target:<26} {'yes' if f.met else 'NO'}"
        )
    RESULTS.write_text(
        json.dumps([{**asdict(f), "runs": list(f.runs), "ratio": f.ratio} for f in figures], indent=2) + "\n"
    )
    print(f"\nwritten to {RESULTS}")


# -- the history of full runs (docs/BENCHMARKS.md) -----------------------------------------------

HISTORY = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
HISTORY_MARK = "<!-- history rows: make bench appends one per full run -->"
#: the columns of a history row: (heading, figure name without its condition, what to show)
HISTORY_COLUMNS = (
    ("plain SDK t/s", "window {}: plain SDK loop", "value"),
    ("window / SDK", "window {}: ... + window painting offscreen", "ratio"),
    ("stall ms", "window {}: longest loop stall (median run)", "value"),
    ("1-paragraph stall ms", "window {}: one-paragraph reply, longest stall", "value"),
    ("CPU / SDK", "window {}: CPU s per 10k tokens, all app processes", "ratio"),
    ("p99 ms at 200 t/s", "window {}: server -> painted at 200 t/s, p99", "value"),
    ("local / llama-cpp", "local {}: LocalProvider via model process", "ratio"),
    ("local TTFT +ms", "local {}: time-to-first-token overhead", "value"),
)


def _machine() -> str:
    import os
    import platform

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def history_row(figures: list[Figure]) -> str:
    """One line of the history table: quiet / busy for each streaming and local figure."""
    by_name = {f.name: f for f in figures}

    def shown(name: str, what: str) -> str:
        cells = []
        for condition in ("[quiet]", "[busy]"):
            f = by_name.get(name.format(condition))
            value = None if f is None else (f.ratio if what == "ratio" else f.value)
            cells.append("-" if value is None else f"{value:.2f}" if value < 10 else f"{value:,.0f}")
        return " / ".join(cells)

    sidebar = by_name.get("start-up: sidebar listed, 10k conversations")
    memory = [
        by_name.get(name)
        for name in (
            "memory: everyday start, idle (all processes, each page once)",
            "memory: ... after a reply from each cloud SDK (each page once)",
        )
    ]
    missed = [f.name for f in figures if not f.met]
    cells = [
        time.strftime("%Y-%m-%d"),
        _machine(),
        *(shown(name, what) for _heading, name, what in HISTORY_COLUMNS),
        f"{sidebar.value:.2f}" if sidebar else "-",
        " / ".join(f"{m.value:.0f}" if m else "-" for m in memory),
        f"{len(missed)}",
    ]
    return "| " + " | ".join(cells) + " |"


def record_history(figures: list[Figure]) -> None:
    """Append this full run's row to docs/BENCHMARKS.md's history table."""
    row = history_row(figures)
    print(f"\nhistory row (quiet / busy):\n{row}")
    text = HISTORY.read_text() if HISTORY.exists() else ""
    if HISTORY_MARK in text:
        HISTORY.write_text(text.replace(HISTORY_MARK, f"{row}\n{HISTORY_MARK}"))
        print(f"appended to {HISTORY}")

"""Memory of the whole app: the resident memory of all its processes together (``memory_app.py``).

"Together" counts each physical page once, however many of the app's processes map it (a shared
library's pages, read from each process's ``pagemap``: ``procs.resident_together_mb``). The plain
sum of RSS counts such a page once per process (it overstates); the PSS sum divides a page among
every process that maps it, this benchmark's own included (it understates, by more when the
benchmark has imported Qt itself). Both are printed beside.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from .harness import Figure
from .loopback_server import loopback_server

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3


def _start(env: dict[str, str]) -> dict[str, list[float]]:
    """One start of the app on ``env``'s data folder: {"idle"|"after": [rss all, rss window, pss all,
    processes]} in MB."""
    process = subprocess.run(
        [sys.executable, "-m", "bench.memory_app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = {
        line.split()[0]: [float(x) for x in line.split()[1:]]
        for line in process.stdout.splitlines()
        if line.startswith(("idle ", "after "))
    }
    if process.returncode != 0 or len(found) != 2:
        raise RuntimeError(f"the memory benchmark's app failed: {process.stderr[-2000:]}")
    return found


def _once(env: dict[str, str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """A first start on a new data folder (the database is made, the model lists fetched), then an
    everyday start on the same folder: what a person's app is every other day."""
    env = {**env, "DATAELAN_HOME": tempfile.mkdtemp(prefix="dataelan-bench-memory-")}
    return _start(env), _start(env)


def run() -> list[Figure]:
    with ExitStack() as servers:
        openai_url = servers.enter_context(loopback_server("openai"))
        anthropic_url = servers.enter_context(loopback_server("anthropic"))
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "OPENAI_BASE_URL": openai_url + "/v1",
            "OPENAI_API_KEY": "sk-bench-memory",
            "ANTHROPIC_BASE_URL": anthropic_url,
            "ANTHROPIC_API_KEY": "sk-ant-bench-memory",
        }
        runs = [_once(env) for _ in range(RUNS)]
    median = statistics.median

    def values(start: int, moment: str, column: int) -> list[float]:
        return [run[start][moment][column] for run in runs]

    def figure(name: str, start: int, moment: str, column: int, target: float | None) -> Figure:
        spread = values(start, moment, column)
        value = median(spread)
        if target is None:
            return Figure(name, value, "MB", None, "reported", True, spread)
        return Figure(name, value, "MB", None, f"<= {target:.0f} MB", value <= target, spread)

    first, everyday = 0, 1
    return [
        figure("memory: everyday start, idle (all processes, each page once)", everyday, "idle", 4, 150),
        figure("memory: ... the same, RSS summed", everyday, "idle", 0, None),
        figure("memory: ... of which the window's process (RSS)", everyday, "idle", 1, None),
        figure("memory: ... after a reply from each cloud SDK (each page once)", everyday, "after", 4, 220),
        figure("memory: ... the same, RSS summed", everyday, "after", 0, None),
        figure("memory: ... the same, PSS summed", everyday, "after", 2, None),
        figure("memory: ... of which the window's process (RSS)", everyday, "after", 1, None),
        figure(
            "memory: first start, idle (database made, lists fetched; each page once)", first, "idle", 4, None
        ),
        figure("memory: first start, after a reply from each SDK (each page once)", first, "after", 4, None),
    ]

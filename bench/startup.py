"""Start-up: process start to the main window shown and idle, vs Python showing an empty PySide6 window.

Both are timed from ``Popen`` to the moment the process prints that its window is up
and the event loop is idle; shutting down is not part of start-up. The app then loads its
database layer on a worker thread and prints again once the sidebar lists the conversations:
that second moment is reported beside the first.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from .harness import Figure, median_of

BASELINE = (
    "from PySide6.QtWidgets import QApplication, QMainWindow\n"
    "from PySide6.QtCore import QTimer\n"
    "from dataelan_desktop.app import resident_kb\n"
    "app=QApplication([]); w=QMainWindow(); w.show()\n"
    "def up():\n"
    "    print('window-shown-idle 0 rss-kb', resident_kb(), flush=True)\n"
    "    app.quit()\n"
    "QTimer.singleShot(0, up); app.exec()\n"
)

last_rss_mb: dict[str, float] = {}
listed_s: dict[str, list[float]] = {}


def _until_idle(label: str, args: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    elapsed = time.perf_counter() - began
    if not line.startswith("window-shown-idle"):
        process.kill()
        raise RuntimeError(f"{label}: unexpected output {line!r}")
    last_rss_mb[label] = int(line.split()[-1]) / 1024
    listed = process.stdout.readline()  # the app's second line; the baseline prints none
    if listed.startswith("conversations-listed"):
        listed_s.setdefault(label, []).append(time.perf_counter() - began)
        last_rss_mb[label] = int(listed.split()[-1]) / 1024  # idle with its services loaded
    process.wait(timeout=60)
    return elapsed


def run() -> list[Figure]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DATAELAN_HOME": tempfile.mkdtemp(),
        "DATAELAN_EXIT_WHEN_IDLE": "1",
    }
    app_args = [sys.executable, "-m", "dataelan_desktop.cli.main"]
    _until_idle("app", app_args, env)  # creates and migrates the database once
    baseline = median_of(5, lambda: _until_idle("baseline", [sys.executable, "-c", BASELINE], env))
    listed_s.clear()
    app = median_of(5, lambda: _until_idle("app", app_args, env))
    rss = last_rss_mb["app"]
    from .history import big_database

    large_env = {**env, "DATAELAN_HOME": str(big_database())}
    _until_idle("large", app_args, large_env)
    large = median_of(5, lambda: _until_idle("large", app_args, large_env))
    return [
        Figure("start-up: empty PySide6 window", baseline, "s", None, "baseline", True),
        Figure(
            "start-up: main window idle, empty database",
            app,
            "s",
            baseline,
            "<= 0.5 s and <= 2.5x",
            app <= 0.5 and app / baseline <= 2.5,
        ),
        Figure(
            "start-up: resident memory when idle", rss, "MB", last_rss_mb["baseline"], "<= 150 MB", rss <= 150
        ),
        Figure(
            "start-up: 10,000 conversations / 1M messages",
            large,
            "s",
            baseline,
            "<= 0.5 s and <= 2.5x",
            large <= 0.5 and large / baseline <= 2.5,
        ),
        *(
            Figure(
                f"start-up: sidebar listed, {what}", listed, "s", baseline, f"<= {limit} s", listed <= limit
            )
            for what, listed, limit in (
                ("empty database", statistics.median(listed_s["app"]), 0.6),
                ("10k conversations", statistics.median(listed_s["large"]), 1.0),
            )
        ),
    ]

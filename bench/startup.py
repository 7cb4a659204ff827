"""Start-up: process start to the main window shown and idle, vs Python showing an empty PySide6 window."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from .harness import Figure, median_of

BASELINE = (
    "import time; t=time.perf_counter()\n"
    "from PySide6.QtWidgets import QApplication, QMainWindow\n"
    "from PySide6.QtCore import QTimer\n"
    "app=QApplication([]); w=QMainWindow(); w.show()\n"
    "QTimer.singleShot(0, app.quit); app.exec()\n"
)


def _wall(args: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - began


def run() -> list[Figure]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DATAELAN_HOME": tempfile.mkdtemp(),
        "DATAELAN_EXIT_WHEN_IDLE": "1",
    }
    _wall([sys.executable, "-m", "dataelan_desktop.cli.main"], env)  # creates the database once
    baseline = median_of(5, lambda: _wall([sys.executable, "-c", BASELINE], env))
    app = median_of(5, lambda: _wall([sys.executable, "-m", "dataelan_desktop.cli.main"], env))
    return [
        Figure("start-up: empty PySide6 window", baseline, "s", None, "baseline", True),
        Figure(
            "start-up: main window shown, empty database",
            app,
            "s",
            baseline,
            "<= 0.5 s and <= 2.5x",
            app <= 0.5 and app / baseline <= 2.5,
        ),
    ]

"""The rules of DESIGN.md that code can check: core never imports Qt; SDKs stay out of the first paint."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys

import dataelan_desktop.core as core


def test_core_imports_no_qt():
    modules = [
        m.name
        for m in pkgutil.walk_packages(core.__path__, "dataelan_desktop.core.")
        if ".migrations" not in m.name
    ]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'shiboken6')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert len(modules) > 20


def _loaded_after(data_home, steps: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of ``candidates`` a fresh interpreter has imported after running ``steps`` offscreen."""
    script = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        f"{steps}\n"
        f"print(sorted(m for m in {candidates!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "DATAELAN_HOME": str(data_home)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip())


def test_first_paint_imports_no_provider_sdk(data_home):
    """The GUI's start-up path must not import the heavy SDKs (they load on first use)."""
    steps = (
        "from dataelan_desktop.core.services import build_services\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from dataelan_desktop.ui.main_window import MainWindow\n"
        "services = build_services()"
    )
    assert _loaded_after(data_home, steps, ("openai", "anthropic", "llama_cpp", "huggingface_hub")) == []


def test_window_is_shown_before_the_database_layer_loads(data_home):
    """`dataelan` paints its window first; SQLAlchemy, the migrations and keyring load afterwards on a worker."""
    steps = (
        "import dataelan_desktop.cli.main\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from dataelan_desktop.ui.main_window import MainWindow\n"
        "window = MainWindow(None)\n"
        "window.show()\n"
        "app.processEvents()"
    )
    heavy = ("sqlalchemy", "alembic", "keyring", "markdown_it", "pygments")
    assert _loaded_after(data_home, steps, heavy) == []

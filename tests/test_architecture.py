"""The rules of DESIGN.md that code can check: core never imports Qt; the window never touches the
database layer (it holds plain views, through ui/ops); SDKs stay out of the first paint."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import dataelan_desktop.core as core
import dataelan_desktop.ui as ui
from tests.support.writers import OWNERS

PACKAGE_ROOT = Path(core.__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    parts = path.resolve().relative_to(PACKAGE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, anywhere in it (function bodies and TYPE_CHECKING blocks too),
    relative imports resolved against ``module``."""
    found: set[str] = set()
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from ..core import db`
    return found


def _database_layer(modules: set[str]) -> list[str]:
    return sorted(
        m for m in modules if m == "dataelan_desktop.core.db" or m.startswith("dataelan_desktop.core.db.")
    )


def test_the_window_imports_nothing_from_the_database_layer():
    """Widgets reach core through ui/ops and hold plain views, never ORM rows: no ui module imports
    core.db, not even inside a function or for type checking."""
    offenders = {}
    files = sorted(Path(ui.__file__).parent.rglob("*.py"))
    for path in files:
        modules = imported_modules(
            path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py"
        )
        if _database_layer(modules):
            offenders[str(path.relative_to(PACKAGE_ROOT))] = _database_layer(modules)
    assert offenders == {}
    assert len(files) > 10  # not vacuous: every window's module was read


def test_the_import_check_sees_every_spelling():
    """The check above can fail: each way of reaching the database layer is seen."""
    spellings = [
        "from ...core.db.tables import Message",
        "def f():\n    from ...core.db import Database",
        "import dataelan_desktop.core.db.engine",
        "from ...core import db",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ...core.db.tables import Project",
    ]
    for source in spellings:
        assert _database_layer(imported_modules(source, "dataelan_desktop.ui.chat.view")), source
    assert _database_layer(imported_modules("from ..core import db", "dataelan_desktop.ui", is_package=True))
    assert not _database_layer(
        imported_modules("from ..core.chat.store import StoredMessage", "dataelan_desktop.ui.x")
    )


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
        "from dataelan_desktop.ui.main.window import MainWindow\n"
        "services = build_services()"
    )
    assert _loaded_after(data_home, steps, ("openai", "anthropic", "llama_cpp", "huggingface_hub")) == []


def test_an_idle_window_never_signed_in_loads_no_sync_or_mcp_stack(data_home):
    """Sync's engine (HTTP client, WebSocket, sealing) and the MCP SDK load only when used: a person who
    never signs in or adds an MCP server does not pay their memory (issue 18's idle-memory target)."""
    steps = (
        "import asyncio, qasync\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from dataelan_desktop.core.services import build_services\n"
        "from dataelan_desktop.ui.main.window import MainWindow\n"
        "app = QApplication([])\n"
        "loop = qasync.QEventLoop(app, already_running=False)\n"
        "asyncio.set_event_loop(loop)\n"
        "services = build_services()\n"
        "services.bus.bind_loop(loop)\n"
        "settings = QSettings(os.environ['DATAELAN_HOME'] + '/w.ini', QSettings.Format.IniFormat)\n"
        "window = MainWindow(services, settings=settings, probe_servers=False)\n"
        "window.show()\n"
        "async def idle():\n"
        "    await window.wait_until_listed()\n"
        "    await asyncio.sleep(2.5)\n"  # past the start-up's deferred loads (markdown, model lists)
        "loop.run_until_complete(idle())\n"
        "heavy = ('dataelan_desktop.core.sync.engine', 'httpx', 'nacl', 'websockets', 'mcp')\n"
        "print(sorted(m for m in heavy if m in sys.modules), flush=True)\n"
        "os._exit(0)"  # the answer is out; a worker thread still parked at exit is not this test's concern
    )
    script = f"import os, sys\nos.environ['QT_QPA_PLATFORM'] = 'offscreen'\n{steps}\n"
    env = {**os.environ, "DATAELAN_HOME": str(data_home)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert ast.literal_eval(result.stdout.strip()) == []


def test_window_is_shown_before_the_database_layer_loads(data_home):
    """`dataelan` paints its window first; SQLAlchemy, the migrations and keyring load afterwards on a worker."""
    steps = (
        "import dataelan_desktop.cli.main\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from dataelan_desktop.ui.main.window import MainWindow\n"
        "window = MainWindow(None)\n"
        "window.show()\n"
        "app.processEvents()"
    )
    heavy = ("sqlalchemy", "alembic", "keyring", "markdown_it", "pygments")
    assert _loaded_after(data_home, steps, heavy) == []


def test_the_one_writer_check_sees_a_stray_write(services, writes):
    """The run-wide check of one writer per table (tests/conftest.py) can fail: a write to a table from
    anywhere but its owner is caught, whether a row is added or a bulk update is run."""
    stray = "dataelan_desktop.ui.stray"  # a window module writing rows itself
    beside = "dataelan_desktop.core.chat.store_stray"  # a name that begins like the owner's, outside it
    code = (
        "from sqlalchemy import update\n"
        "from dataelan_desktop.core.db.tables import Conversation, Project\n"
        "def add(s):\n    s.add(Project(name='stray'))\n"
        "def bulk(s):\n    s.execute(update(Conversation).values(pinned=True))\n"
    )
    namespace, outside = {"__name__": stray}, {"__name__": beside}
    exec(code, namespace)
    exec(code, outside)
    services.store.create_conversation(title="Owned")
    try:
        services.db.call(namespace["add"])
        services.db.call(namespace["bulk"])
        services.db.call(outside["bulk"])
        found = writes.violations()
        assert any(line.startswith(f"projects written by {stray}") for line in found)
        assert any(line.startswith(f"conversations written by {stray}") for line in found)
        assert any(line.startswith(f"conversations written by {beside}") for line in found)
    finally:
        writes.forget(stray)
        writes.forget(beside)
    assert not any(stray in line or beside in line for line in writes.violations())
    # and the owner's own writes are seen as the owner's: the chat store package's module that wrote them
    assert OWNERS["conversations"] == "dataelan_desktop.core.chat.store"
    owners_modules = [
        m for m in writes.writes["conversations"] if m.startswith("dataelan_desktop.core.chat.store.")
    ]
    assert owners_modules  # the store package's own module (which one depends on the tests run before)
    assert not any(
        line.startswith("conversations written by dataelan_desktop.core.chat.store")
        for line in writes.violations()
    )


#: every way of leaving the GUI thread that is not ui/ops (the one door)
_SIDE_DOORS = {"to_thread", "run_in_executor", "in_thread", "Thread", "QThread", "ThreadPoolExecutor"}


def _side_doors(source: str) -> list[str]:
    """The side doors ``source`` uses, and any direct call of the database (``….db.call``/``.run``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        name = (
            node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        )
        if name in _SIDE_DOORS:
            found.append(name)
        if isinstance(node, ast.Attribute) and node.attr in ("call", "run"):
            owner = node.value
            if (
                isinstance(owner, ast.Attribute)
                and owner.attr == "db"
                or isinstance(owner, ast.Name)
                and owner.id == "db"
            ):
                found.append(f"db.{node.attr}")
    return found


def test_widgets_leave_the_gui_thread_only_through_ops():
    """One door: no window spells its own way off the GUI thread (to_thread, executors, threads, the
    database's own call); ops.query/ops.change, and ops.blocking inside async work, are the only ones."""
    offenders = {}
    files = [p for p in sorted(Path(ui.__file__).parent.rglob("*.py")) if p.name != "ops.py"]
    for path in files:
        doors = _side_doors(path.read_text(encoding="utf-8"))
        if doors:
            offenders[str(path.relative_to(PACKAGE_ROOT))] = doors
    assert offenders == {}
    assert len(files) > 10
    for spelling in (
        "await asyncio.to_thread(f)",
        "loop.run_in_executor(None, f)",
        "await services.db.in_thread(f)",
        "services.db.call(f)",
        "threading.Thread(target=f).start()",
    ):
        assert _side_doors(spelling), spelling
    assert not _side_doors("await ops.blocking(store.remove, name)")

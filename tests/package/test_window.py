"""The bundle's window on a real X server (Xvfb): it reaches idle, and opens what a file or link asks."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

from tests.package.conftest import Bundle, libraries_outside_the_bundle, stop, wait_for

REPO = Path(__file__).resolve().parents[2]
CHATGPT = REPO / "tests" / "data" / "chatgpt_export" / "conversations.json"


def on_screen(bundle: Bundle, display: str, **env: str) -> dict[str, str]:
    """The window on the X server: xcb, as on a desktop, not the offscreen platform."""
    return {"DISPLAY": display, "QT_QPA_PLATFORM": None, **env}


def rows(database: Path, sql: str) -> list:
    if not database.exists():
        return []
    try:
        with sqlite3.connect(database, timeout=5) as con:
            return con.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created or not migrated yet
        return []


def test_the_window_reaches_idle_on_x11(bundle: Bundle, xvfb: str):
    # the signal bench/startup.py reads: the window shown and idle, then the sidebar listed
    result = bundle.run(timeout=120, **on_screen(bundle, xvfb, DATAELAN_EXIT_WHEN_IDLE="1"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["window-shown-idle", "conversations-listed"], result.stdout
    assert "platform plugin" not in result.stderr, result.stderr


def test_an_import_link_opens_the_window_and_imports(bundle: Bundle, xvfb: str):
    link = f"dataelan://import?path={quote(str(CHATGPT))}"
    window = bundle.start(link, **on_screen(bundle, xvfb))
    try:
        database = bundle.data / "dataelan.sqlite3"
        wait_for(
            lambda: rows(database, "SELECT title FROM conversations WHERE title = 'Sourdough starter help'"),
            60,
            "the imported conversation",
        )
        # what the window loaded came from the bundle or the system, not from a Python install
        assert libraries_outside_the_bundle(window.pid) == set()
        assert window.poll() is None  # still open
    finally:
        stop(window)
    assert "Sourdough starter help" in bundle.run("history", "list").stdout


def test_a_model_file_opens_the_window_with_a_conversation_on_it(bundle: Bundle, xvfb: str, tiny_gguf: Path):
    window = bundle.start(str(tiny_gguf), **on_screen(bundle, xvfb))
    try:
        database = bundle.data / "dataelan.sqlite3"
        wait_for(
            lambda: rows(database, f"SELECT id FROM conversations WHERE model = 'local:{tiny_gguf}'"),
            60,
            "a conversation on the model",
        )
    finally:
        stop(window)
    assert f"local:{tiny_gguf}" in bundle.run("history", "list").stdout


def test_an_open_link_shows_that_conversation(bundle: Bundle, xvfb: str):
    assert bundle.run("import", str(CHATGPT)).returncode == 0
    listing = bundle.run("history", "list").stdout
    [wanted] = [line.split()[0] for line in listing.splitlines() if "Short one" in line]
    window = bundle.start(f"dataelan://open/{wanted}", **on_screen(bundle, xvfb))
    settings = bundle.data / "window.ini"  # window settings live in the data folder (issue 16, item 5)
    try:
        # the window remembers the conversation it shows (and reopens it next time)
        wait_for(
            lambda: settings.exists() and re.search(rf"last_conversation={wanted}", settings.read_text()),
            60,
            "the linked conversation to be shown",
        )
    finally:
        stop(window)

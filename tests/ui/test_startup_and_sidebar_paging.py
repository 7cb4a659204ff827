"""The window is usable from its first paint, and a long history is listed a page at a time."""

from __future__ import annotations

from PySide6.QtCore import Qt

from dataelan_desktop.ui.main.window import MainWindow
from dataelan_desktop.ui.sidebar.library import LibraryActions
from tests.ui.conftest import wait_until


def _menu_action(window: MainWindow, text: str):
    for menu_action in window.menuBar().actions():
        for item in menu_action.menu().actions():
            if item.text() == text:
                return item
    raise AssertionError(f"no menu item {text!r}")


def _conversation_titles(window: MainWindow) -> list[str]:
    return [item.text(0) for item in window.sidebar.conversation_items()]


def _more_row(window: MainWindow):
    tree = window.sidebar.tree
    rows = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return next((r for r in rows if r.text(0).startswith("Show ")), None)


def test_window_shows_at_once_and_fills_in_when_the_database_is_ready(
    qloop, qtbot, ui_run, services, qsettings
):
    services.store.create_conversation(title="Sourdough notes")
    window = MainWindow(None, settings=qsettings, probe_servers=False)
    qtbot.addWidget(window)
    window.show()

    # before the services arrive: a window that says what it is doing, with nothing to click into
    assert window.isVisible()
    assert "Opening your conversations" in window.statusBar().currentMessage()
    assert not window.centralWidget().isEnabled()
    assert not _menu_action(window, "New conversation").isEnabled()
    assert _menu_action(window, "Quit").isEnabled()

    async def scenario():
        services.bus.bind_loop(qloop)
        window.attach_services(services)
        await window.wait_until_listed()

    ui_run(scenario())
    assert window.centralWidget().isEnabled()
    assert _menu_action(window, "New conversation").isEnabled()
    assert "Sourdough notes" in _conversation_titles(window)
    assert window.statusBar().currentMessage() == ""
    window.close()


def test_sidebar_lists_the_newest_page_and_shows_more_on_request(
    qloop, qtbot, ui_run, services, qsettings, monkeypatch
):
    monkeypatch.setattr(LibraryActions, "PAGE", 5)
    for i in range(7):
        services.store.create_conversation(title=f"Chat {i}")
    pinned = services.store.conversations(all_projects=True)[-1]  # the oldest one
    services.store.update_conversation(pinned.id, pinned=True)
    services.bus.bind_loop(qloop)
    window = MainWindow(services, settings=qsettings, probe_servers=False)
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        await window.wait_until_listed()
        titles = _conversation_titles(window)
        assert len(titles) == 5
        assert titles[0] == "★ " + pinned.title  # pinned first, even though it is the oldest
        more = _more_row(window)
        assert more is not None and more.text(0) == "Show 2 older conversations…"

        window.sidebar.tree.scrollToItem(more)
        rect = window.sidebar.tree.visualItemRect(more)
        qtbot.mouseClick(window.sidebar.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        await wait_until(lambda: len(_conversation_titles(window)) == 7, message="the older conversations")
        assert _more_row(window) is None

    ui_run(scenario())
    window.close()

"""Settings → Providers and the model manager never wait on SQLite or the keyring on the GUI thread.

On Linux the keyring is the Secret Service over D-Bus: a call may take hundreds of ms or wait
for an unlock prompt, so it counts as blocking work just like a database commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import keyring
from PySide6.QtCore import Qt

from tests.support.db_threads import DatabaseThreads
from tests.support.fake_openai import fake_openai_server
from tests.ui.conftest import wait_until

KEY = "sk-dialog-threads-4f9a21"


@dataclass(frozen=True)
class Call:
    what: str
    thread: str
    on_gui_thread: bool


def _recording(calls: list[Call], what: str, fn: Callable) -> Callable:
    def record(*args, **kwargs):
        thread = threading.current_thread()
        calls.append(Call(what, thread.name, thread is threading.main_thread()))
        return fn(*args, **kwargs)

    return record


def test_providers_and_models_do_no_database_or_keyring_work_on_the_gui_thread(
    window, qtbot, ui_run, services, memory_keyring, tiny_gguf, monkeypatch
):
    from dataelan_desktop.core.connections.discovery import FoundServer

    calls: list[Call] = []
    # every keyring call goes through the backend
    for method in ("get_password", "set_password", "delete_password"):
        monkeypatch.setattr(
            memory_keyring, method, _recording(calls, method, getattr(memory_keyring, method))
        )
    # keyring_available() asks for the backend, which may probe D-Bus
    monkeypatch.setattr(keyring, "get_keyring", _recording(calls, "get_keyring", keyring.get_keyring))
    server = fake_openai_server()
    port = int(server.base_url.rsplit(":", 1)[1])

    def click(button) -> None:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    def listed(page) -> list[str]:
        return [page.list.item(r).text() for r in range(page.list.count())]

    async def scenario():
        # Settings → Providers: the list, then two built-ins picked in turn
        window.open_settings()
        page = window.settings_dialog.providers
        await wait_until(
            lambda: page.name.text() == "openai" and page.save_button.isEnabled(), message="list"
        )
        page.list.setCurrentRow(1)
        await wait_until(lambda: page.name.text() == "anthropic", message="anthropic's form")
        await wait_until(lambda: "paste the key" in page.key.placeholderText(), message="keyring asked")

        # a new provider with a key, tested (which saves it first) against a loopback server
        click(page.add_button)
        qtbot.keyClicks(page.name, "loopback")
        qtbot.keyClicks(page.base_url, server.base_url + "/v1")
        qtbot.keyClicks(page.key, KEY)
        click(page.test_button)
        await wait_until(lambda: "Connected" in page.result.text(), message="models listed")
        assert memory_keyring.passwords[("dataelan-desktop", "loopback")] == KEY
        await wait_until(lambda: "A key is set" in page.key.placeholderText(), message="key marked as set")
        assert "loopback" in listed(page) and page.list.currentItem().text() == "loopback"

        # saved again with another key, then removed with its key
        qtbot.keyClicks(page.key, KEY + "-new")
        click(page.save_button)
        await wait_until(lambda: page.result.text() == "Saved loopback.", message="saved")
        assert memory_keyring.passwords[("dataelan-desktop", "loopback")] == KEY + "-new"
        await wait_until(lambda: page.remove_button.isEnabled(), message="removable")
        click(page.remove_button)
        await wait_until(lambda: "loopback" not in listed(page), message="removed")
        assert ("dataelan-desktop", "loopback") not in memory_keyring.passwords
        window.settings_dialog.close()

        # a running server offered on the welcome page, connected
        window.first_run.connect_server(
            FoundServer("lmstudio", "LM Studio", server.base_url + "/v1", ("gpt-4o-mini",))
        )
        await wait_until(lambda: window.composer.model() == "lmstudio:gpt-4o-mini", message="connected")

        # the model manager: a GGUF added, its settings changed and shown again, then removed
        window.open_models()
        manager = window.model_manager
        await manager.add_file(tiny_gguf)
        await wait_until(lambda: manager.table.rowCount() == 1, message="model listed")
        manager.table.selectRow(0)
        manager.s_context.setValue(512)
        manager.save_settings()
        await wait_until(lambda: "Saved settings for tiny-chat" in manager.status.text(), message="settings")
        manager.table.clearSelection()
        manager.s_context.setValue(0)
        manager.table.selectRow(0)
        await wait_until(lambda: manager.s_context.value() == 512, message="settings shown")
        manager.remove_selected()
        await wait_until(lambda: manager.table.rowCount() == 0, message="model removed")
        assert "Removed local:tiny-chat" in manager.status.text()

        # a local server found by the manager joins the providers
        await manager.detect_servers((("ollama", port),))
        await wait_until(lambda: "Added to the model picker" in manager.status.text(), message="server added")
        manager.close()

    try:
        with DatabaseThreads(services.db) as threads:
            ui_run(scenario())
    finally:
        server.stop()
    seen = list(calls)  # the flow's calls, not the fixtures' clean-up

    assert [c.what for c in seen if c.on_gui_thread] == []  # the keyring
    assert threads.gui_waits == [] and threads.off_the_database_thread() == []  # the database
    # not vacuous: the flow did reach the database and the keyring, and the keyring not on the
    # database's thread (a wait for an unlock prompt must not hold up the chat's writes)
    assert len(threads.callers) >= 15
    assert {"get_password", "set_password", "delete_password"} <= {c.what for c in seen}
    assert len(seen) >= 8 and not any(c.thread.startswith("dataelan-db") for c in seen)

"""Settings keep keys in the keyring only; the first run offers what to do next."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from PySide6.QtCore import Qt

from tests.support.fake_openai import fake_openai_server
from tests.ui.conftest import wait_until

KEY = "sk-settings-dialog-7c1d2e"


def test_a_key_saved_in_settings_goes_to_the_keyring_only(
    window, qtbot, ui_run, services, memory_keyring, qsettings, monkeypatch
):
    stored: list[str] = []
    real_set = memory_keyring.set_password

    def slow_set(service: str, username: str, password: str) -> None:
        time.sleep(0.3)  # a keyring waiting for D-Bus: the save stays in flight meanwhile
        stored.append(username)
        real_set(service, username, password)

    monkeypatch.setattr(memory_keyring, "set_password", slow_set)

    async def scenario():
        qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
        if not hasattr(window, "settings_dialog"):
            window.open_settings()  # offscreen windows may not take shortcuts: the menu action does the same
        page = window.settings_dialog.providers
        await wait_until(lambda: page.list.count() >= 2, message="providers listed")
        page.list.setCurrentRow(0)
        await wait_until(
            lambda: page.name.text() == "openai" and page.save_button.isEnabled(), message="openai's form"
        )
        qtbot.keyClicks(page.key, KEY)
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        # a double click while the key is being stored does not store it twice
        assert not page.save_button.isEnabled() and not page.test_button.isEnabled()
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: page.result.text() == "Saved openai.", message="saved")
        assert stored == ["openai"]
        assert memory_keyring.passwords[("dataelan-desktop", "openai")] == KEY
        assert page.key.text() == ""  # never shown back
        await wait_until(lambda: "A key is set" in page.key.placeholderText(), message="key marked as set")
        assert page.save_button.isEnabled() and page.test_button.isEnabled()
        window.settings_dialog.close()

    ui_run(scenario())
    qsettings.sync()
    window.close()
    services.db.engine.dispose()
    data = Path(services.db.path)
    on_disk = b"".join(p.read_bytes() for p in data.parent.glob(data.name + "*"))
    assert KEY.encode() not in on_disk
    assert KEY not in Path(qsettings.fileName()).read_text()


def test_a_provider_left_before_its_form_arrived_does_not_fill_the_form(
    window, qtbot, ui_run, services, memory_keyring, monkeypatch
):
    answered: list[str] = []  # providers whose key the settings page asked the keyring about
    real_get, real_has_stored = memory_keyring.get_password, services.secrets.has_stored

    def slow_get(service: str, username: str) -> str | None:
        if username == "anthropic":
            time.sleep(0.3)  # a keyring waiting for an unlock prompt
        return real_get(service, username)

    def has_stored(provider: str) -> bool:  # what the page asks (the main window asks get())
        try:
            return real_has_stored(provider)
        finally:
            answered.append(provider)

    monkeypatch.setattr(memory_keyring, "get_password", slow_get)
    monkeypatch.setattr(services.secrets, "has_stored", has_stored)

    async def scenario():
        window.open_settings()
        page = window.settings_dialog.providers
        await wait_until(
            lambda: page.name.text() == "openai" and page.save_button.isEnabled(), message="form"
        )
        # picked, then Add… pressed before its configuration came back from the database
        page.list.setCurrentRow(1)
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
        await services.db.in_thread(lambda: None)  # the database answered every earlier question
        await asyncio.sleep(0.1)
        assert page.name.text() == "" and not page.name.isReadOnly()
        # picked and shown, then Add… pressed while the keyring was still being asked
        page.list.setCurrentRow(1)
        await wait_until(lambda: page.name.text() == "anthropic", message="anthropic's form")
        assert page.key.placeholderText() == "checking the keyring…"
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(page.name, "mine")
        await wait_until(lambda: "anthropic" in answered, message="the keyring answered")
        await asyncio.sleep(0.1)
        assert page.name.text() == "mine" and page.key.placeholderText() == "optional for local servers"

    ui_run(scenario())


def test_test_connection_lists_models_or_shows_the_error(window, qtbot, ui_run, services):
    server = fake_openai_server()
    try:

        async def scenario():
            window.open_settings()
            page = window.settings_dialog.providers
            qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
            qtbot.keyClicks(page.name, "loopback")
            qtbot.keyClicks(page.base_url, server.base_url + "/v1")
            qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: "Connected" in page.result.text(), message="models listed")
            assert "gpt-4o-mini" in page.result.text()
            # saved first: it is in the list, its name can no longer be edited
            await wait_until(lambda: page.name.isReadOnly() and page.test_button.isEnabled(), message="saved")
            assert page.list.currentItem().text() == "loopback"
            # a dead address shows the provider's error instead
            page.base_url.setText("http://127.0.0.1:9/v1")
            qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: page.result.text() == "Saved loopback.", message="new address saved")
            assert page.base_url.text() == "http://127.0.0.1:9/v1"
            qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: "✗" in page.result.text(), message="error shown")
            assert "Could not reach loopback" in page.result.text()

        ui_run(scenario())
    finally:
        server.stop()


def test_first_run_shows_the_choices_and_offers_a_running_server(window, qtbot, ui_run, services):
    server = fake_openai_server()
    try:

        async def scenario():
            await wait_until(lambda: window.center.currentWidget() is window.welcome, message="welcome shown")
            assert window.welcome.add_key.isVisible() and window.welcome.open_gguf.isVisible()
            port = int(server.base_url.rsplit(":", 1)[1])
            await window.first_run.probe_local_servers((("lmstudio", port), ("ollama", 9)))
            await wait_until(lambda: window.welcome.found_buttons, message="server offered")
            offer = window.welcome.found_buttons[0]
            assert "LM Studio" in offer.text() and server.base_url in offer.text()
            qtbot.mouseClick(offer, Qt.MouseButton.LeftButton)
            await wait_until(lambda: window.composer.model() == "lmstudio:gpt-4o-mini", message="connected")
            assert services.registry.config("lmstudio").base_url == server.base_url + "/v1"

        ui_run(scenario())
    finally:
        server.stop()


def test_opening_a_broken_gguf_says_why(window, qtbot, ui_run, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda _parent, _title, text: shown.append(text))
    )
    bad = tmp_path / "broken.gguf"
    bad.write_text("not a model")

    async def scenario():
        window.use_local_model(bad)
        await wait_until(lambda: shown, message="error box")

    ui_run(scenario())
    assert "broken.gguf is not a GGUF model file" in shown[0]
    assert window.isVisible()

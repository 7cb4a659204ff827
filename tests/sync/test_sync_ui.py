"""Settings → Sync and the status bar, driven like a person would, against a real server."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from tests.ui.conftest import wait_until

from .conftest import PASSWORD, Device


def _titles(window) -> list[str]:
    return [item.text(0) for item in window.sidebar.conversation_items()]


def test_signing_in_from_settings_syncs_and_a_change_on_another_device_appears(
    window, qtbot, ui_run, services, live, user, tmp_path
):
    services.store.create_conversation(title="Made before signing in")
    services.store.create_filled_conversation(
        [{"role": "user" if i % 2 == 0 else "assistant", "content": f"line {i}"} for i in range(300)],
        title="A long history",
    )
    other = Device(tmp_path / "phone")
    try:

        async def scenario():
            dialog = window.open_settings()
            page = dialog.tabs.widget(dialog.tabs.count() - 1)
            assert dialog.tabs.tabText(dialog.tabs.count() - 1) == "Sync"
            dialog.tabs.setCurrentWidget(page)
            await wait_until(lambda: page.state.text() == "Not signed in.", message="signed-out status")
            assert not page.sync_now_button.isEnabled()
            qtbot.keyClicks(page.url, live.url)
            qtbot.keyClicks(page.user, user)
            qtbot.keyClicks(page.password, "not the password")
            qtbot.mouseClick(page.sign_in_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: page.error.text(), message="the wrong password said")
            assert "password" in page.error.text().lower() and "Traceback" not in page.error.text()
            page.refresh()  # the status read again (as after any change) keeps the sign-in's error shown
            await asyncio.sleep(0.3)
            assert "password" in page.error.text().lower()
            shown: list[tuple[str, int, int]] = []
            page.sync.progress.connect(lambda *report: shown.append(report))
            qtbot.keyClicks(page.password, PASSWORD)
            qtbot.mouseClick(page.sign_in_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: page.state.text().startswith("Signed in to"), message="signed in")
            await wait_until(lambda: page.last_sync.text() != "never" and page.waiting.text() == "0",
                             message="the first sync")  # fmt: skip
            assert page.password.text() == ""  # the password is kept nowhere
            assert any(
                what == "sending" and total >= 300 for what, _done, total in shown
            )  # first sync's progress
            assert not page.progress.isVisible()  # and gone when it ended
            await wait_until(lambda: window.sync_indicator.text().startswith("Synced"), message="status bar")

            other.engine.login(live.url, user, PASSWORD, "phone")
            other.engine.sync_now()
            assert "Made before signing in" in [c.title for c in other.store.conversations()]
            other.store.create_conversation(title="Made on the phone")
            other.engine.sync_now()  # the server's notice makes the window pull at once
            await wait_until(
                lambda: "Made on the phone" in _titles(window), timeout=30, message="the phone's change"
            )

            qtbot.mouseClick(page.sign_out_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: page.state.text() == "Not signed in.", message="signed out")
            await wait_until(lambda: window.sync_indicator.text() == "", message="indicator off")

        ui_run(scenario())
    finally:
        other.close()


def test_the_passphrase_field_refuses_a_wrong_one_and_unlocks_with_the_right_one(
    window, qtbot, ui_run, services, live, user, tmp_path
):
    """Settings → Sync's passphrase: another device turned encryption on; this one is told it is
    locked, a wrong passphrase gets the sentence that the data cannot be read without the right one,
    and the right one unlocks it: the other device's sealed conversation appears in the sidebar."""
    other = Device(tmp_path / "phone")
    try:
        other.engine.login(live.url, user, PASSWORD, "phone")
        other.engine.set_passphrase("a long and secret passphrase")
        other.store.create_conversation(title="Sealed on the phone")
        other.engine.sync_now()

        async def scenario():
            dialog = window.open_settings()
            page = dialog.tabs.widget(dialog.tabs.count() - 1)
            dialog.tabs.setCurrentWidget(page)
            await wait_until(lambda: page.state.text() == "Not signed in.", message="signed-out status")
            assert "cannot be recovered" in " ".join(
                label.text() for label in page.seal_box.findChildren(QLabel)
            )
            qtbot.keyClicks(page.url, live.url)
            qtbot.keyClicks(page.user, user)
            qtbot.keyClicks(page.password, PASSWORD)
            qtbot.mouseClick(page.sign_in_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: "enter the sync passphrase" in page.error.text(), message="locked said")
            assert page.seal_box.isEnabled()

            qtbot.keyClicks(page.passphrase, "a wrong guess")
            qtbot.mouseClick(page.passphrase_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: "cannot be read with this passphrase" in page.error.text(),
                             timeout=30, message="the wrong passphrase said")  # fmt: skip
            assert "Traceback" not in page.error.text() and "encrypted" not in page.state.text()

            qtbot.keyClicks(page.passphrase, "a long and secret passphrase")
            qtbot.mouseClick(page.passphrase_button, Qt.MouseButton.LeftButton)
            await wait_until(
                lambda: page.state.text().endswith(", encrypted)."), timeout=30, message="unlocked"
            )
            await wait_until(lambda: "Sealed on the phone" in _titles(window), timeout=30,
                             message="the sealed conversation, opened here")  # fmt: skip
            assert page.passphrase.text() == ""  # the passphrase is kept nowhere; its key is in the keyring

        ui_run(scenario())
    finally:
        other.close()

"""Issue 16, item 7: a ChatGPT export's picture and tool steps survive the import, as a person sees
them in the window; the status bar says what was kept and what was not; an export carries the
picture out again and imports with it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from PySide6.QtCore import Qt

from dataelan_desktop.core.transfer import import_file
from tests.ui.conftest import wait_until

EXPORT = Path(__file__).parents[1] / "data" / "chatgpt_export"
CHATGPT = EXPORT / "conversations.json"
IMAGE = EXPORT / "file-StarterJar01-starter-jar.png"


def _widgets(window):
    return window.chat_view.shown_widgets()


def test_imported_image_and_tool_steps_are_shown_and_counted(
    window, qtbot, ui_run, services, data_home, tmp_path
):
    async def scenario():
        await window.transfer.import_file(CHATGPT)
        await wait_until(
            lambda: window.title.text() == "Sourdough starter help", message="imported and opened"
        )
        said = window.statusBar().currentMessage()
        assert "with 1 image(s) and 2 tool step(s), shown collapsed" in said, said
        assert "1 image(s) could not be kept: not in the export" in said, said

        await wait_until(lambda: len(_widgets(window)) == 5, message="the shown branch")
        question, _answer, _q2, tool, _a2 = _widgets(window)
        # the picture is in its message, from a file in the data folder
        (picture,) = question.images
        assert picture.pixmap() is not None and (picture.pixmap().width(), picture.pixmap().height()) == (
            24,
            16,
        )
        assert picture.accessibleName() == IMAGE.name
        stored = list((data_home / "attachments").iterdir())
        assert [p.read_bytes() for p in stored] == [IMAGE.read_bytes()]
        # the tool step: a collapsed block with the tool's name, opened by a click
        assert tool.title.text().startswith("🔧 browser · chatgpt")
        assert not tool.details.isVisible()
        qtbot.mouseClick(tool.toggle, Qt.MouseButton.LeftButton)
        assert tool.details.isVisible() and "50-60% hydration" in tool.result.toPlainText()

        # exported again with its picture, and imported from that export with it
        target = tmp_path / "sourdough.json"
        await window.transfer.export_to(target, conversation_id=window.conversation_id)
        first = json.loads(target.read_text())["conversations"][0]["messages"][0]
        assert first["attachments"][0]["kind"] == "image" and first["attachments"][0]["data"]
        for stale in stored:
            stale.unlink()  # the re-import must bring the picture back from the export itself
        await window.transfer.import_file(target)
        await wait_until(lambda: len(window.sidebar.conversation_items()) == 3, message="re-imported")
        await wait_until(lambda: len(_widgets(window)) == 5 and _widgets(window)[0].images, message="shown")
        assert _widgets(window)[0].images[0].pixmap().width() == 24
        assert _widgets(window)[3].title.text().startswith("🔧 browser")

    ui_run(scenario())


def test_the_python_tool_steps_and_the_missing_image_are_said_where_they_were(window, ui_run, services):
    result = import_file(services.store, CHATGPT)
    assert (result.images_kept, result.images_missing, result.tool_steps) == (1, 1, 2)

    async def scenario():
        window.chat.open(result.conversation_ids[1])
        await wait_until(lambda: window.title.text() == "Short one", message="opened")
        await wait_until(lambda: len(_widgets(window)) == 6, message="the shown branch")
        shown = _widgets(window)
        assert "(called python)" in shown[3].body_text()  # the model's call, then the tool's block
        assert (
            shown[4].title.text().startswith("🔧 python · chatgpt")
            and shown[4].result.toPlainText() == "1024"
        )
        assert "1 image(s) not in the export" in shown[2].body_text()  # not dropped silently
        assert shown[5].view.content == "2**10 is 1024."

    ui_run(scenario())


def test_a_zipped_export_keeps_its_image(services, tmp_path):
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(CHATGPT, "conversations.json")
        z.write(IMAGE, f"user-abc/{IMAGE.name}")  # where newer exports keep uploads
    result = import_file(services.store, archive)
    assert (result.images_kept, result.images_missing) == (1, 1)
    first = services.store.visible_messages(result.conversation_ids[0])[0]
    assert first.attachments[0]["kind"] == "image" and first.attachments[0]["file"].startswith("attachments/")


def test_editing_an_imported_message_keeps_its_picture(window, qtbot, ui_run, services, server, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    from dataelan_desktop.core.connections.store import save_provider
    from tests.support.fake_openai import openai_stream

    save_provider(services.db, "fake", base_url=server.base_url + "/v1")
    result = import_file(services.store, CHATGPT)
    server.push(openai_stream(["A ", "reply"]))
    monkeypatch.setattr(
        QInputDialog, "getMultiLineText", staticmethod(lambda *a, **k: ("Is it alive?", True))
    )

    async def scenario():
        window.chat.open(result.conversation_ids[0])
        await wait_until(lambda: len(_widgets(window)) == 5, message="opened")
        window.composer.set_model("fake:gpt-4o-mini")
        qtbot.mouseClick(_widgets(window)[0].edit_button, Qt.MouseButton.LeftButton)
        await wait_until(
            lambda: _widgets(window)[0].view.content == "Is it alive?", message="the edited branch"
        )
        await wait_until(lambda: _widgets(window)[-1].view.content == "A reply", message="its reply")
        edited = _widgets(window)[0]
        assert edited.branch_label.text() == "2/2" and len(edited.images) == 1  # the picture came along
        assert edited.images[0].pixmap().width() == 24
        assert (
            "StarterJar01" not in server.posts()[-1].body["messages"][0]["content"]
        )  # shown, not sent as text

    ui_run(scenario())


def test_a_picture_whose_file_is_gone_is_said_not_dropped(window, ui_run, services, data_home):
    result = import_file(services.store, CHATGPT)
    for stored in (data_home / "attachments").iterdir():
        stored.unlink()  # e.g. a message that came by sync from a device that has the file

    async def scenario():
        window.chat.open(result.conversation_ids[0])
        await wait_until(lambda: len(_widgets(window)) == 5, message="opened")
        (label,) = _widgets(window)[0].images
        assert label.text() == f"(the image {IMAGE.name} could not be shown)"

    ui_run(scenario())

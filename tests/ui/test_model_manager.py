"""The model manager window: add, see the details, refuse a bad file, load and unload, download."""

from __future__ import annotations

import hashlib

import pytest

from tests.support import tiny_gguf as writers
from tests.ui.conftest import wait_until


@pytest.fixture
def manager(qloop, qtbot, services):
    from dataelan_desktop.ui.gguf.model_manager import ModelManagerWindow

    window = ModelManagerWindow(services)
    qtbot.addWidget(window)
    window.show()
    yield window
    qloop.run_until_complete(services.registry.aclose())


def test_add_inspect_bad_file_load_unload(manager, ui_run, tiny_gguf, tmp_path):
    async def scenario():
        await manager.add_file(tiny_gguf)
        await wait_until(lambda: manager.table.rowCount() == 1, message="model listed")
        cells = [manager.table.item(0, c).text() for c in range(manager.table.columnCount())]
        assert cells[0] == "tiny-chat" and cells[1] == "llama" and cells[3] == "F32" and cells[5] == "yes"
        assert cells[7].startswith("about ")

        bad = writers.write_random_bytes(tmp_path / "noise.gguf")
        await asyncio_gather(manager.add_file(bad))
        await wait_until(lambda: "Not added" in manager.status.text(), message="refusal shown")
        assert "noise.gguf is not a GGUF model file" in manager.status.text()
        assert manager.table.rowCount() == 1 and manager.isVisible()

        manager.table.selectRow(0)
        manager.s_context.setValue(256)
        manager.save_settings()
        await wait_until(lambda: "Saved settings for tiny-chat" in manager.status.text(), message="saved")
        assert manager.library.settings("tiny-chat")["context_length"] == 256
        # selecting it again shows what was saved
        manager.table.clearSelection()
        manager.s_context.setValue(0)
        manager.table.selectRow(0)
        await wait_until(lambda: manager.s_context.value() == 256, message="settings shown")
        await manager.load_selected()
        assert "is loaded" in manager.status.text() and "context 256" in manager.status.text()
        assert len(manager.services.registry.local().loaded_models()) == 1
        await manager.unload_selected()
        assert "its memory is free" in manager.status.text()
        assert manager.services.registry.local().loaded_models() == []

    ui_run(scenario())


def test_download_from_the_catalog_tab(manager, ui_run, tiny_gguf, monkeypatch):
    from tests.support.fake_hub import FakeHub

    content = tiny_gguf.read_bytes()
    hub = FakeHub({"tester/tiny-GGUF/tiny-dl.gguf": content}).start()
    monkeypatch.setenv("HF_ENDPOINT", hub.base_url)
    import huggingface_hub.constants as constants

    monkeypatch.setattr(
        constants, "HF_HUB_OFFLINE", False
    )  # the suite runs offline; this hub is on 127.0.0.1
    try:

        async def scenario():
            task = manager.start_download(
                "tester/tiny-GGUF", "tiny-dl.gguf", sha256=hashlib.sha256(content).hexdigest()
            )
            await asyncio_gather(task)
            await wait_until(lambda: "Downloaded and verified" in manager.status.text(), message="downloaded")
            assert manager.progress.value() == 1000
            await wait_until(lambda: manager.table.rowCount() == 1, message="listed")
            assert manager.table.item(0, 0).text() == "tiny-dl"

        ui_run(scenario())
    finally:
        hub.stop()


async def asyncio_gather(task):
    import asyncio

    await asyncio.gather(task, return_exceptions=True)


def test_local_servers_join_the_picker_and_idle_unload_is_set(manager, ui_run, services):
    from tests.support.fake_openai import fake_openai_server

    server = fake_openai_server()
    try:

        async def scenario():
            port = int(server.base_url.rsplit(":", 1)[1])
            await asyncio_gather(manager.detect_servers((("ollama", port),)))
            await wait_until(
                lambda: "Added to the model picker" in manager.status.text(), message="server added"
            )
            models, _ = await services.registry.list_all_models()
            assert "ollama:gpt-4o-mini" in [m.ref for m in models]

        ui_run(scenario())
    finally:
        server.stop()
    manager.idle.setValue(5)
    assert services.registry.local().idle_unload_seconds == 300

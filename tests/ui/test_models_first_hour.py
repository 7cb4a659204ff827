"""Issue 16, items 8 and 10 (models parts), as a person meets them in the Models window and the
picker: the memory estimate at the model's real context, "Find local servers", one entry per GGUF,
and a download with no network that says so, keeps its partial file and offers Retry."""

from __future__ import annotations

import hashlib
import socket

from tests.support.cli import cli_env, run_cli
from tests.support.fake_hub import FakeHub
from tests.ui.conftest import wait_until
from tests.ui.test_model_manager import manager  # noqa: F401 - the fixture

REPO, FILE = "tester/tiny-GGUF", "tiny-dl.gguf"


def test_memory_estimate_uses_the_models_own_context_as_the_cli_does(manager, ui_run, tiny_gguf, data_home):  # noqa: F811
    async def scenario():
        await manager.add_file(tiny_gguf)
        await wait_until(lambda: manager.table.rowCount() == 1, message="model listed")
        assert manager.context.value() == 4096 and manager.table.item(0, 4).text() == "512"
        await wait_until(lambda: "512" in manager.table.item(0, 7).text(), message="the estimate at 512")
        return manager.table.item(0, 7).text()

    shown = ui_run(scenario())
    cli = run_cli("models", "inspect", str(tiny_gguf), env=cli_env(data_home))
    (line,) = [row for row in cli.stdout.splitlines() if row.startswith("memory at")]
    assert line.startswith("memory at 512 ctx")
    assert shown.startswith(line.split(maxsplit=4)[4])  # the same figure: "about N MB"


def test_find_local_servers_is_a_button(manager, ui_run, services):  # noqa: F811
    from tests.support.fake_openai import fake_openai_server

    server = fake_openai_server()
    try:

        async def scenario():
            manager.server_ports = (("ollama", int(server.base_url.rsplit(":", 1)[1])),)
            assert manager.find_servers_button.isVisible()
            manager.find_servers_button.click()
            await wait_until(lambda: "Added to the model picker" in manager.status.text(), message="found")
            models, _ = await services.registry.list_all_models()
            assert "ollama:gpt-4o-mini" in [m.ref for m in models]

        ui_run(scenario())
    finally:
        server.stop()


def test_an_opened_gguf_that_the_library_lists_appears_once(window, ui_run, services, tiny_gguf):
    from dataelan_desktop.core.gguf.library import ModelLibrary

    ModelLibrary(services.db, services.bus).add(tiny_gguf, name="tiny")
    # an earlier conversation chatted with the file by its path
    services.store.create_filled_conversation(
        [dict(role="user", content="hi")], title="by path", model=f"local:{tiny_gguf}"
    )
    picker = window.composer.model_picker

    def items() -> list[str]:
        return [picker.itemText(i) for i in range(picker.count())]

    async def scenario():
        window.chat.refresh_models()
        await wait_until(lambda: "local:tiny" in items(), message="the library model listed")
        window.use_local_model(tiny_gguf)  # File → Open GGUF model…, the same file
        await wait_until(lambda: window.composer.model() == "local:tiny", message="picked by its name")
        window.chat.refresh_models()
        await wait_until(lambda: "local:tiny" in items(), message="listed again")
        assert items().count("local:tiny") == 1
        assert not [ref for ref in items() if ref.endswith(".gguf")], items()

    ui_run(scenario())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket closes


def test_a_download_without_network_says_so_keeps_the_partial_file_and_retries(
    manager,  # noqa: F811
    ui_run,
    tiny_gguf,
    monkeypatch,
):
    from dataelan_desktop.core import paths

    content = tiny_gguf.read_bytes()
    half = len(content) // 2
    partial = paths.models_dir() / (FILE + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(content[:half])  # an earlier download stopped half-way
    hub = FakeHub({f"{REPO}/{FILE}": content}).start()
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the suite runs offline; these hubs are loopback
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # the hub is unreachable
    sha = hashlib.sha256(content).hexdigest()
    try:

        async def scenario():
            await asyncio_gather(manager.start_download(REPO, FILE, sha256=sha))
            await wait_until(
                lambda: "Can't reach Hugging Face" in manager.status.text(), message="offline said"
            )
            text = manager.status.text()
            assert "offline, a proxy, or HF_ENDPOINT" in text and "Something went wrong" not in text
            assert "Could not find" not in text and "kept" in text
            assert manager.download_button.text() == "Retry"
            assert partial.read_bytes() == content[:half]  # kept for the retry

            monkeypatch.setenv("HF_ENDPOINT", hub.base_url)  # the network is back
            manager.tabs.setCurrentIndex(1)
            manager.catalog.clearSelection()
            manager.download_button.click()  # Retry: the same download, from where it stopped
            await wait_until(lambda: "Downloaded and verified" in manager.status.text(), message="downloaded")
            ranges = [r for method, _p, r in hub.requests if method == "GET" and r]
            assert ranges == [f"bytes={half}-"]  # went on from the kept half, did not start over
            assert manager.download_button.text() == "Download"

        ui_run(scenario())
    finally:
        hub.stop()


async def asyncio_gather(task):
    import asyncio

    await asyncio.gather(task, return_exceptions=True)

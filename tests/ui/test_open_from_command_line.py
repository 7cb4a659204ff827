"""A .gguf file or a dataelan:// link from the command line: the window shows what was asked."""

from __future__ import annotations

from pathlib import Path

from dataelan_desktop.app import open_in_window
from dataelan_desktop.cli.launch import OpenRequest
from tests.ui.conftest import wait_until


def test_a_link_shows_the_conversation(window, ui_run, services):
    conversation = services.store.create_conversation(None, model="openai:gpt-4o", title="Sourdough")

    async def scenario():
        open_in_window(window, OpenRequest("conversation", conversation.id))
        await wait_until(lambda: window.title.text() == "Sourdough", message="the linked conversation")
        assert window.conversation_id == conversation.id

    ui_run(scenario())


def test_an_import_link_imports_and_shows_the_file(window, ui_run, services):
    export = Path(__file__).parents[1] / "data" / "chatgpt_export" / "conversations.json"

    async def scenario():
        open_in_window(window, OpenRequest("import", str(export)))
        await wait_until(
            lambda: window.title.text() == "Sourdough starter help", message="imported and shown"
        )

    ui_run(scenario())
    titles = {c.title for c in services.store.conversations(None, all_projects=True)}
    assert titles == {"Sourdough starter help", "Short one"}  # both conversations of the export


def test_a_model_file_starts_a_conversation_with_it(window, ui_run, services, tiny_gguf: Path):
    async def scenario():
        open_in_window(window, OpenRequest("model", str(tiny_gguf)))
        await wait_until(lambda: window.conversation_id, message="a new conversation")
        assert window.composer.model() == f"local:{tiny_gguf}"

    ui_run(scenario())
    assert services.store.conversation(window.conversation_id).model == f"local:{tiny_gguf}"


def test_a_second_start_hands_its_link_to_the_running_window(window, ui_run, services, data_home, tiny_gguf):
    """A clicked link or a .gguf opened while the app runs: no second window on the same database; the
    running one comes forward and shows it. Another data folder still starts a window of its own."""
    import asyncio

    from dataelan_desktop.ui.single_instance import InstanceServer
    from tests.support.cli import cli_env, run_cli

    conversation = services.store.create_conversation(None, model="openai:gpt-4o", title="Sourdough")
    instance = InstanceServer(window)  # what run_gui starts beside its window
    assert instance.listen()
    shown: list = []
    instance.requested.connect(lambda request: (shown.append(request), open_in_window(window, request)))
    env = cli_env(data_home, QT_QPA_PLATFORM="offscreen")

    async def second_start(*args: str):
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: run_cli(*args, env=env, timeout=60)
        )

    async def scenario():
        started = await second_start(f"dataelan://open/{conversation.id}")
        assert started.returncode == 0, started.stderr
        assert "already running" in started.stdout
        await wait_until(lambda: window.title.text() == "Sourdough", message="shown by the running window")
        opened = await second_start(str(tiny_gguf))
        assert opened.returncode == 0 and "already running" in opened.stdout
        await wait_until(lambda: window.composer.model() == f"local:{tiny_gguf}", message="the model picked")
        assert [r.kind for r in shown] == ["conversation", "model"]

    try:
        ui_run(scenario(), timeout=150)
    finally:
        instance.close()


def test_a_socket_left_by_a_crashed_app_does_not_stop_the_next_start(qapp, tmp_path):
    import socket as sockets

    from PySide6.QtCore import QDir

    from dataelan_desktop.ui.single_instance import InstanceServer, hand_over

    name = f"dataelan-test-{tmp_path.name}"
    left = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    left.bind(f"{QDir.tempPath()}/{name}")  # bound, never listening: what a killed app leaves
    left.close()
    assert not hand_over(None, name)  # nobody answers: this start opens its own window
    instance = InstanceServer(name=name)
    try:
        assert instance.listen()  # the stale socket removed, this window listens
    finally:
        instance.close()

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

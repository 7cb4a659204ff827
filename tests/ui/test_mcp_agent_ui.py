"""An agent in the real window using an MCP server's tool: the approval names the server, the call
runs on the server (started from the window's loop, run on the MCP host), and its block shows it."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from dataelan_desktop.core.agents.service import agent_store
from dataelan_desktop.core.connections.store import save_provider
from tests.agents.mcp_support import stdio_config
from tests.support.fake_openai import openai_stream
from tests.support.fake_tools import checked_openai, openai_tool_calls
from tests.ui.conftest import wait_until
from tests.ui.test_agents_ui import blocks, open_dialog, send_text

pytestmark = pytest.mark.timeout(180)


def test_an_agent_calls_an_mcp_tool_after_asking(window, qtbot, ui_run, services, server):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    services.mcp.store.save(stdio_config("calc"))
    agent_store(services).add("Adder", model="fakeai:gpt-4o-mini", tools=["mcp:calc:*"])

    async def scenario():
        window.chat.refresh_agents()
        picker = window.composer.agent_picker
        await wait_until(lambda: picker.findText("Adder") > 0, message="agent listed")
        picker.setCurrentIndex(picker.findText("Adder"))
        window.composer.set_model("fakeai:gpt-4o-mini")
        server.push(
            openai_tool_calls([("c1", "add", '{"a": 2, "b": 40}')]),
            checked_openai(openai_stream(["It is ", "42."])),
        )
        send_text(qtbot, window, "What is 2+40?")
        dialog = await wait_until(open_dialog, 60, "the approval dialog")  # MCP tools ask by default
        assert "add" in dialog.question.text() and "mcp:calc" in dialog.question.text()
        assert json.loads(dialog.arguments.toPlainText()) == {"a": 2, "b": 40}
        # the server's annotation is said in words, as its claim (the call asked all the same)
        assert dialog.annotations.isVisible()
        assert (
            dialog.annotations.text()
            == "The server says this tool is read-only. That is its own claim, not verified."
        )
        qtbot.mouseClick(dialog.allow_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: len(blocks(window)) == 1 and not window.chat.busy(), 60, "run done")
        await wait_until(lambda: window.chat_view.views()[-1].content == "It is 42.", message="the answer")
        (block,) = blocks(window)
        assert block.title.text().startswith("🔧 add · mcp:calc")
        qtbot.mouseClick(block.toggle, Qt.MouseButton.LeftButton)
        assert block.result.toPlainText() == "42"
        # the server was offered with all its tools, and its answer went back to the model
        first, second = server.posts()[-2:]
        assert {"add", "echo"} <= {t["function"]["name"] for t in first.body["tools"]}
        assert second.body["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "content": "42"}

    ui_run(scenario())

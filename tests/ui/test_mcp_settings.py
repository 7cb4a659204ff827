"""Settings → MCP, driven as a person would: add a server with a secret, see its tools, import Claude
Desktop's config, switch a server off, remove it; a server that hangs leaves the window running."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from dataelan_desktop.ui.settings.mcp_page import McpPage
from dataelan_desktop.ui.settings.mcp_variables import KEPT
from tests.agents.mcp_support import SERVER, stdio_config, while_ticking
from tests.ui.conftest import wait_until

pytestmark = pytest.mark.timeout(180)
LEFT = Qt.MouseButton.LeftButton


def open_mcp_page(window) -> McpPage:
    window.open_settings()
    tabs = window.settings_dialog.tabs
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == "MCP")
    tabs.setCurrentIndex(index)
    return tabs.widget(index)


def tool_rows(page: McpPage) -> dict[str, list[str]]:
    items = (page.tools.topLevelItem(i) for i in range(page.tools.topLevelItemCount()))
    return {item.text(0): [item.text(1), item.text(2)] for item in items}


def test_a_server_added_in_settings_starts_and_lists_its_tools(
    window, qtbot, ui_run, services, memory_keyring
):
    async def scenario():
        page = open_mcp_page(window)
        qtbot.mouseClick(page.add_button, LEFT)
        qtbot.keyClicks(page.name, "calc")
        qtbot.keyClicks(page.command, shlex.join([sys.executable, str(SERVER)]))
        qtbot.mouseClick(page.variables.add_button, LEFT)
        row = page.variables.rows[-1]
        qtbot.keyClicks(row.name, "TEST_API_TOKEN")
        qtbot.keyClick(row.name, Qt.Key.Key_Return)
        assert row.secret.isChecked()  # a name like this is a secret unless unticked
        assert row.value.echoMode() == QLineEdit.EchoMode.Password
        qtbot.keyClicks(row.value, "tok-ui-0123456789")
        qtbot.mouseClick(page.save_button, LEFT)
        await wait_until(lambda: page.status.text().startswith("Status: ready ("), 60, "the server ready")

        tools = tool_rows(page)
        assert tools["add"] == ["Add two integers.", "read-only"]
        assert tools["echo"] == ["Say the text back.", "destructive"]
        assert page.list.item(0).text().startswith("calc — ready (")
        assert page.list.item(0).checkState() == Qt.CheckState.Checked
        assert page.start_button.text() == "Restart"
        # the secret went to the keyring and is not on screen any more
        assert (
            memory_keyring.passwords[("dataelan-desktop", "mcp:calc:env:TEST_API_TOKEN")]
            == "tok-ui-0123456789"
        )
        assert row.value.text() == "" and row.value.placeholderText() == KEPT
        source = (await services.mcp.sources())[0]
        assert (
            await source.call("env", {"name": "TEST_API_TOKEN"}, timeout=10)
        ).content == "tok-ui-0123456789"

        # Restart: a new process answers
        before = (await source.call("pid", {}, timeout=10)).content
        qtbot.mouseClick(page.start_button, LEFT)
        await wait_until(lambda: page.result.text().startswith("calc: ready ("), 60, "restarted")
        assert (await source.call("pid", {}, timeout=10)).content != before

    ui_run(scenario())
    services.db.engine.dispose()
    on_disk = b"".join(p.read_bytes() for p in Path(services.db.path).parent.glob("dataelan.sqlite3*"))
    assert b"TEST_API_TOKEN" in on_disk and b"tok-ui-0123456789" not in on_disk


def test_a_server_that_hangs_leaves_the_window_running(window, qtbot, ui_run, services):
    services.mcp.store.save(stdio_config("calc"))
    services.mcp.store.save(stdio_config("stuck", env={"MCP_TEST_HANG_AT_START": "1"}, timeout=2))

    async def scenario():
        page = open_mcp_page(window)
        await wait_until(lambda: page.list.count() == 2, message="both servers listed")
        page.list.setCurrentRow(1)
        assert page.name.text() == "stuck"
        qtbot.mouseClick(page.start_button, LEFT)
        await wait_until(lambda: page.status.text() == "Status: starting", message="starting shown")

        async def meanwhile() -> None:
            # the person looks at another server while the stuck one hangs: the form follows at once
            page.list.setCurrentRow(0)
            assert page.name.text() == "calc"
            page.list.setCurrentRow(1)
            await wait_until(lambda: "failed" in page.status.text(), 30, "the hang reported")

        _, ticks = await while_ticking(meanwhile())
        # the window's loop ran all along: held by the start, it would show a gap of 2 s
        assert ticks.count >= 40 and ticks.longest < 1.0
        assert page.status.text() == (
            "Status: failed: It did not answer within 2 s of starting (raise its timeout if it is slow to start)."
        )
        assert page.list.item(1).text().startswith("stuck — failed: It did not answer")

        # a call that hangs, awaited on the window's loop: it times out, the loop keeps ticking
        calc = next(s for s in await services.mcp.sources() if s.server == "calc")
        outcome, ticks = await while_ticking(calc.call("hang", {}, timeout=1.5))
        assert outcome.is_error and "did not answer within 1.5 s" in outcome.content
        assert ticks.longest < 1.0  # held by the call, the loop would show a gap of 1.5 s

    ui_run(scenario())


def test_import_switch_off_and_remove(window, qtbot, ui_run, services, tmp_path: Path):
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(json.dumps({"mcpServers": {
        "calc": {"command": sys.executable, "args": [str(SERVER)]},
        "broken": {"args": ["x"]},
    }}))  # fmt: skip

    async def scenario():
        page = open_mcp_page(window)
        page.import_file(config)  # what the Import… button does once a file is picked
        await wait_until(lambda: page.list.count() == 1, message="imported")
        await wait_until(lambda: page.result.text().startswith("Added"), message="the import's summary")
        assert page.result.text() == (
            "Added calc.\n✗ claude_desktop_config.json: the server 'broken' has neither a command nor a url."
        )
        assert page.list.item(0).text() == "calc — not started"

        page.list.item(0).setCheckState(Qt.CheckState.Unchecked)  # the person unticks it
        await wait_until(lambda: page.list.item(0).text() == "calc — off", message="switched off")
        assert services.mcp.store.get("calc").enabled is False
        assert await services.mcp.sources() == []

        page.list.setCurrentRow(0)
        qtbot.mouseClick(page.remove_button, LEFT)
        await wait_until(lambda: page.result.text() == "Removed calc and its secrets.", message="removed")
        assert page.list.count() == 0 and page.name.text() == ""

        # a form that cannot be saved says why, and nothing is saved
        qtbot.keyClicks(page.name, "empty")
        qtbot.mouseClick(page.save_button, LEFT)
        await wait_until(lambda: page.result.text().startswith("✗"), message="the refusal")
        assert page.result.text() == "✗ The MCP server 'empty' needs a command to start it (e.g. npx or uvx)."
        assert services.mcp.store.list() == []

    ui_run(scenario())


def test_editing_a_server_keeps_its_secret_unshown_and_unchanged(window, qtbot, ui_run, services):
    store = services.mcp.store
    store.save(
        stdio_config("calc", secret_env=frozenset({"TEST_API_TOKEN"})), {"TEST_API_TOKEN": "tok-kept-987654"}
    )

    async def scenario():
        page = open_mcp_page(window)
        await wait_until(lambda: page.list.count() == 1, message="listed")
        page.list.setCurrentRow(0)
        (row,) = page.variables.rows
        assert (row.name.text(), row.value.text(), row.value.placeholderText()) == (
            "TEST_API_TOKEN",
            "",
            KEPT,
        )
        assert row.secret.isChecked() and page.name.isReadOnly()
        qtbot.mouseClick(page.variables.add_button, LEFT)
        plain = page.variables.rows[-1]
        qtbot.keyClicks(plain.name, "PLAIN_SETTING")
        qtbot.keyClick(plain.name, Qt.Key.Key_Return)
        assert not plain.secret.isChecked()
        qtbot.keyClicks(plain.value, "two")
        qtbot.mouseClick(page.save_button, LEFT)
        await wait_until(
            lambda: page.status.text().startswith("Status: ready ("), 60, "restarted with the edit"
        )
        config = store.get("calc")
        assert dict(config.env) == {"PLAIN_SETTING": "two"} and config.secret_env == {"TEST_API_TOKEN"}
        source = (await services.mcp.sources())[0]
        assert (await source.call("env", {"name": "TEST_API_TOKEN"}, timeout=10)).content == "tok-kept-987654"
        assert (await source.call("env", {"name": "PLAIN_SETTING"}, timeout=10)).content == "two"

    ui_run(scenario())

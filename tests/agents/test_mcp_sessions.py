"""MCP servers end to end: the SDK's real server over stdio and streamable HTTP, called through the hub;
servers that fail to start, crash, hang or raise; the caller's loop keeps running throughout."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from dataelan_desktop.core.agents.mcp.config import HTTP, McpServerConfig
from dataelan_desktop.core.agents.mcp.hub import McpHub
from dataelan_desktop.core.agents.tools import ToolOutcome, ToolSource, ToolSourceError
from tests.agents.mcp_support import SERVER, http_server, stdio_config, while_ticking
from tests.support.processes import children_of, command_line, wait_gone

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def hub(services) -> McpHub:
    hub = services.mcp
    yield hub
    await hub.aclose()


def server_processes() -> list[int]:
    """The test MCP servers this process started that are still there."""
    return [p for p in children_of(os.getpid()) if str(SERVER) in command_line(p)]


async def only_source(hub: McpHub) -> ToolSource:
    sources = await hub.sources()
    assert len(sources) == 1
    return sources[0]


async def test_a_stdio_server_lists_its_tools_and_answers_calls(hub):
    hub.store.save(stdio_config("calc"))
    source = await only_source(hub)
    assert isinstance(source, ToolSource) and source.name == "mcp:calc"
    tools = {t.spec.name: t for t in await source.list_tools()}
    assert {"add", "echo", "boom", "crash", "hang", "weather"} <= set(tools)
    add = tools["add"]
    assert add.source == "mcp:calc" and add.spec.description == "Add two integers."
    assert set(add.spec.parameters["properties"]) == {"a", "b"}
    assert add.annotations == {"title": "Add two numbers", "readOnlyHint": True}
    assert add.read_only is False  # a hint from the server is shown, not trusted
    assert tools["echo"].annotations == {"destructiveHint": True}

    assert await source.call("add", {"a": 2, "b": 3}, timeout=10) == ToolOutcome("5", is_error=False)
    status = hub.statuses()["calc"]
    assert status.describe() == f"ready ({len(tools)} tools)"


async def test_a_tool_name_models_refuse_is_shown_in_a_form_they_accept(hub):
    hub.store.save(stdio_config())
    source = await only_source(hub)
    names = [t.spec.name for t in await source.list_tools()]
    assert "notes_search" in names and "notes.search" not in names
    assert await source.call("notes_search", {"query": "tea"}, timeout=10) == ToolOutcome("notes about tea")


def test_model_names_stay_apart_and_short():
    from dataelan_desktop.core.agents.mcp.session import model_names

    names = model_names(["a.b", "a_b", "a/b", "x" * 80, "ok-name"])
    assert list(names) == ["a_b", "a_b_2", "a_b_3", "x" * 64, "ok-name"]
    assert names["a_b_2"] == "a_b" and names["x" * 64] == "x" * 80


async def test_results_are_rendered_to_text(hub):
    hub.store.save(stdio_config())
    source = await only_source(hub)
    weather = await source.call("weather", {"city": "Oslo"}, timeout=10)
    assert json.loads(weather.content) == {"city": "Oslo", "celsius": 21} and not weather.is_error
    picture = await source.call("picture", {}, timeout=10)
    assert picture.content == "a red dot\n[image: image/png, 8 bytes]"


async def test_errors_come_back_as_error_outcomes_and_the_server_stays_ready(hub):
    hub.store.save(stdio_config())
    source = await only_source(hub)
    raised = await source.call("boom", {}, timeout=10)
    assert raised.is_error and "Error executing tool boom" in raised.content
    bad_args = await source.call("add", {"a": "seven"}, timeout=10)
    assert bad_args.is_error and "validation error" in bad_args.content
    unknown = await source.call("no_such_tool", {}, timeout=10)
    assert unknown.is_error and "no_such_tool" in unknown.content
    assert await source.call("add", {"a": 1, "b": 1}, timeout=10) == ToolOutcome("2")


async def test_env_and_secret_env_reach_the_server(hub):
    hub.store.save(
        stdio_config(env={"PLAIN_SETTING": "plain-value"}, secret_env=frozenset({"TEST_API_TOKEN"})),
        {"TEST_API_TOKEN": "tok-0123456789"},
    )
    source = await only_source(hub)
    assert (await source.call("env", {"name": "TEST_API_TOKEN"}, timeout=10)).content == "tok-0123456789"
    assert (await source.call("env", {"name": "PLAIN_SETTING"}, timeout=10)).content == "plain-value"


async def test_a_hanging_call_times_out_while_the_callers_loop_keeps_running(hub):
    hub.store.save(stdio_config())
    source = await only_source(hub)
    await source.list_tools()
    started = time.monotonic()
    outcome, ticks = await while_ticking(source.call("hang", {}, timeout=1.0))
    assert outcome.is_error
    assert outcome.content == (
        "The tool 'hang' of the MCP server 'test' did not answer within 1 s; the call was cancelled."
    )
    assert 0.9 < time.monotonic() - started < 5
    # the loop ran all along: a loop held by the call would show one gap as long as the call (1 s)
    assert ticks.count >= 20 and ticks.longest < 0.75
    # the server itself is fine: the next call is answered
    assert await source.call("echo", {"text": "still here"}, timeout=10) == ToolOutcome("still here")


async def test_calls_run_side_by_side(hub):
    hub.store.save(stdio_config())
    source = await only_source(hub)
    await source.list_tools()
    hung = asyncio.create_task(source.call("hang", {}, timeout=5))
    answers = await asyncio.gather(*(source.call("add", {"a": i, "b": i}, timeout=10) for i in range(5)))
    assert [a.content for a in answers] == ["0", "2", "4", "6", "8"]
    assert not hung.done()  # the hanging call did not hold the others up
    assert (await hung).is_error


async def test_a_server_that_crashes_mid_call_is_an_error_outcome_then_restarts(hub):
    hub.store.save(stdio_config())
    source = await only_source(hub)
    pid = int((await source.call("pid", {}, timeout=10)).content)
    outcome = await source.call("crash", {}, timeout=10)
    assert outcome.is_error
    assert outcome.content.startswith("The MCP server 'test' stopped while running 'crash'.")
    assert wait_gone([pid], 5) == []
    status = hub.statuses()["test"]
    assert status.describe() == "failed: It stopped unexpectedly. Its last words: crash tool: exiting now"
    # not restarted behind the person's back: list_tools says why, a call is an error outcome
    with pytest.raises(ToolSourceError, match="The MCP server 'test' failed: It stopped unexpectedly"):
        await source.list_tools()
    assert (await source.call("add", {"a": 1, "b": 2}, timeout=10)).is_error
    restarted = await hub.restart("test")
    assert restarted.describe().startswith("ready")
    assert await source.call("add", {"a": 1, "b": 2}, timeout=10) == ToolOutcome("3")


async def test_a_chatty_servers_stderr_is_kept_small_and_its_last_words_still_read(hub):
    hub.store.save(stdio_config())
    source = await only_source(hub)
    for _ in range(4):
        assert (await source.call("shout", {"kilobytes": 600}, timeout=30)).content == "done"
    stderr = hub._sessions["test"]._stderr  # the temporary file the server writes to
    assert os.fstat(stderr.fileno()).st_size < 1.2 * 1024 * 1024  # 2.4 MB were written
    await source.call("crash", {}, timeout=10)
    assert hub.statuses()["test"].reason == "It stopped unexpectedly. Its last words: crash tool: exiting now"


async def test_without_the_sdk_the_hub_says_so_in_one_sentence(hub, monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "dataelan_desktop.core.agents.mcp.session", raising=False)
    monkeypatch.setitem(sys.modules, "mcp", None)  # as in a bundle built without it
    hub.store.save(stdio_config())
    source = await only_source(hub)
    with pytest.raises(ToolSourceError, match=r"^MCP support is missing from this installation \("):
        await source.list_tools()
    outcome = await source.call("add", {"a": 1, "b": 2}, timeout=5)
    assert outcome.is_error and outcome.content.startswith("MCP support is missing")
    with pytest.raises(OSError, match="pip install 'mcp>=2.3,<3'"):  # the CLI and Settings say it as is
        await hub.start("test")


async def test_a_command_that_does_not_exist_fails_with_a_clear_status(hub):
    hub.store.save(McpServerConfig("ghost", "stdio", command="no-such-mcp-server-xyz", args=("--stdio",)))
    source = await only_source(hub)
    with pytest.raises(ToolSourceError) as caught:
        await source.list_tools()
    assert str(caught.value) == (
        "The MCP server 'ghost' failed: The command 'no-such-mcp-server-xyz' was not found; "
        "install it or give its full path."
    )
    outcome = await source.call("anything", {}, timeout=5)
    assert outcome.is_error and "was not found" in outcome.content
    assert hub.statuses()["ghost"].state == "failed"


async def test_a_server_that_exits_at_start_says_what_it_wrote(hub):
    hub.store.save(stdio_config(env={"MCP_TEST_FAIL_AT_START": "1"}))
    status = await hub.start("test")
    assert status.state == "failed"
    assert status.reason == (
        "It exited before it was ready. Its last words: fatal: the test server was told to fail at start"
    )


async def test_a_server_that_hangs_at_start_fails_after_its_timeout_without_holding_the_loop(hub):
    hub.store.save(stdio_config(env={"MCP_TEST_HANG_AT_START": "1"}, timeout=1.0))
    status, ticks = await while_ticking(hub.start("test"))
    assert status.state == "failed"
    assert status.reason.startswith("It did not answer within 1 s of starting")
    assert ticks.longest < 0.75  # held by the start, the loop would show a gap of 1 s or more
    assert wait_gone(server_processes(), 10) == []  # the hung process was stopped, not left behind
    assert hub.statuses()["test"].state == "failed"


async def test_a_streamable_http_server_with_a_secret_header(hub):
    with http_server() as url:
        hub.store.save(
            McpServerConfig("remote", HTTP, url=url, secret_headers=frozenset({"Authorization"})),
            {"Authorization": "Bearer test-token-123"},
        )
        source = await only_source(hub)
        tools = {t.spec.name for t in await source.list_tools()}
        assert "add" in tools
        assert await source.call("add", {"a": 20, "b": 22}, timeout=10) == ToolOutcome("42")
        assert (await source.call("header", {}, timeout=10)).content == "Bearer test-token-123"
        hung = await source.call("hang", {}, timeout=0.5)
        assert hung.is_error and "did not answer within 0.5 s" in hung.content


async def test_an_http_server_that_goes_away_is_an_error_outcome_and_a_failed_status(hub):
    with http_server() as url:
        hub.store.save(McpServerConfig("remote", HTTP, url=url))
        source = await only_source(hub)
        assert await source.call("add", {"a": 1, "b": 2}, timeout=10) == ToolOutcome("3")
    started = time.monotonic()
    outcome = await source.call("add", {"a": 1, "b": 2}, timeout=10)
    assert time.monotonic() - started < 5
    assert outcome.is_error and outcome.content.startswith(
        "The MCP server 'remote' stopped while running 'add'."
    )
    assert f"Could not reach {url}" in outcome.content
    assert hub.statuses()["remote"].state == "failed"


async def test_an_http_server_that_is_not_there(hub):
    from tests.agents.mcp_support import free_port

    url = f"http://127.0.0.1:{free_port()}/mcp"
    hub.store.save(McpServerConfig("away", HTTP, url=url, timeout=5))
    status = await hub.start("away")
    assert status.state == "failed"
    assert url in status.reason


async def test_disabling_or_removing_a_server_stops_it(hub):
    hub.store.save(stdio_config("one"))
    hub.store.save(stdio_config("two"))
    sources = {s.server: s for s in await hub.sources()}
    pid = int((await sources["one"].call("pid", {}, timeout=10)).content)
    hub.store.set_enabled("one", False)
    assert [s.server for s in await hub.sources()] == ["two"]
    assert wait_gone([pid], 10) == []
    outcome = await sources["one"].call("add", {"a": 1, "b": 1}, timeout=5)
    assert outcome == ToolOutcome("The MCP server 'one' is disabled.", is_error=True)
    hub.store.remove("two")
    assert await hub.sources() == []


async def test_closing_the_hub_stops_every_server(services):
    hub = services.mcp
    hub.store.save(stdio_config("one"))
    hub.store.save(stdio_config("two"))
    pids = [int((await s.call("pid", {}, timeout=10)).content) for s in await hub.sources()]
    await hub.aclose()
    assert wait_gone(pids, 10) == []
    assert not hub.host.started


async def test_an_http_servers_calls_are_bounded_by_their_own_timeout_not_the_clients(hub, monkeypatch):
    """A tool call may take as long as the person allows (say 600 s): the HTTP client reading the
    server's answer sets no read bound of its own (the SDK's default cut every call at 300 s)."""
    import httpx2

    made: list[httpx2.Timeout] = []
    real = httpx2.AsyncClient

    def recording(*args, **kwargs):
        client = real(*args, **kwargs)
        made.append(client.timeout)
        return client

    monkeypatch.setattr(httpx2, "AsyncClient", recording)
    with http_server() as url:
        hub.store.save(McpServerConfig("remote", HTTP, url=url))
        source = await only_source(hub)
        assert await source.call("add", {"a": 1, "b": 2}, timeout=10) == ToolOutcome("3")
        hung = await source.call("hang", {}, timeout=0.5)  # the call's own bound still holds
        assert hung.is_error and "did not answer within 0.5 s" in hung.content
    (timeout,) = made
    assert timeout.read is None and timeout.connect == 30.0

"""The built-in tools: a calculator that never evaluates code, files only inside granted folders,
history search, and URL fetching that stays off offline and stops at its size cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dataelan_desktop.core.agents.builtin import (
    FETCH_LIMIT,
    BuiltinTools,
    CalcError,
    ToolSetError,
    calculate,
    parse_tool_sets,
)
from tests.support.sse_server import Reply, ScriptedServer


def test_the_calculator_does_arithmetic():
    assert calculate("2 + 3 * (4 - 1) ** 2") == 29
    assert calculate("-7 // 2") == -4 and calculate("7 % 3") == 1
    assert calculate("sqrt(16) + round(2.6)") == 7
    assert abs(calculate("sin(pi / 2)") - 1.0) < 1e-12


@pytest.mark.parametrize(
    "expression, said",
    [
        ("__import__('os').system('true')", "Only numbers and arithmetic"),
        ("().__class__", "Only numbers and arithmetic"),
        ("open('/etc/passwd')", "Only numbers and arithmetic"),
        ("'a' * 3", "Only numbers and arithmetic"),
        ("9 ** 9 ** 9", "too large"),
        ("1 / 0", "Division by zero"),
        ("1 +", "Not an arithmetic expression"),
        ("x = 3", "Not an arithmetic expression"),
    ],
)
def test_the_calculator_refuses_anything_else(expression, said):
    with pytest.raises(CalcError, match=said):
        calculate(expression)


async def test_calculator_and_time_through_the_source():
    tools = BuiltinTools(["calculator", "current_time"])
    assert [t.spec.name for t in await tools.list_tools()] == ["calculator", "current_time"]
    assert all(t.read_only for t in await tools.list_tools())
    assert (await tools.call("calculator", {"expression": "6*7"}, timeout=5)).content == "42"
    error = await tools.call("calculator", {"expression": "import os"}, timeout=5)
    assert error.is_error and "Not an arithmetic expression" in error.content
    now = await tools.call("current_time", {}, timeout=5)
    assert not now.is_error and now.content[:2] == "20"


@pytest.fixture
def granted(tmp_path: Path) -> tuple[Path, Path]:
    inside, outside = tmp_path / "granted", tmp_path / "private"
    inside.mkdir()
    outside.mkdir()
    (inside / "notes.txt").write_text("buy flour", encoding="utf-8")
    (inside / "sub").mkdir()
    (outside / "secret.txt").write_text("the key", encoding="utf-8")
    os.symlink(outside / "secret.txt", inside / "link.txt")
    os.symlink(outside, inside / "linked-folder")
    return inside, outside


async def test_files_are_listed_and_read_inside_the_granted_folder(granted):
    inside, _ = granted
    tools = BuiltinTools(["list_files", "read_file"], [inside])
    listing = (await tools.call("list_files", {}, timeout=5)).content
    assert listing.splitlines()[0] == "linked-folder/" and "notes.txt  (9 bytes)" in listing
    assert (await tools.call("read_file", {"path": "notes.txt"}, timeout=5)).content == "buy flour"
    assert (
        await tools.call("read_file", {"path": str(inside / "notes.txt")}, timeout=5)
    ).content == "buy flour"


@pytest.mark.parametrize(
    "path",
    [
        "../private/secret.txt",
        "link.txt",
        "linked-folder/secret.txt",
        "/etc/passwd",
        "sub/../../private/secret.txt",
    ],
)
async def test_no_escape_through_dotdot_links_or_absolute_paths(granted, path):
    inside, _ = granted
    tools = BuiltinTools(["read_file", "list_files"], [inside])
    outcome = await tools.call("read_file", {"path": path}, timeout=5)
    assert outcome.is_error and "outside the granted folders" in outcome.content
    assert "the key" not in outcome.content


async def test_writing_asks_every_time_and_stays_inside(granted):
    inside, outside = granted
    tools = BuiltinTools(["write_file"], [inside])
    (tool,) = await tools.list_tools()
    assert tool.always_ask and not tool.read_only
    done = await tools.call("write_file", {"path": "sub/plan.md", "content": "# Plan"}, timeout=5)
    assert not done.is_error and (inside / "sub" / "plan.md").read_text() == "# Plan"
    refused = await tools.call("write_file", {"path": "link.txt", "content": "overwritten"}, timeout=5)
    assert refused.is_error and (outside / "secret.txt").read_text() == "the key"
    missing = await tools.call("write_file", {"path": "nowhere/x.txt", "content": "x"}, timeout=5)
    assert missing.is_error and "does not exist" in missing.content


async def test_a_link_planted_at_the_old_temporary_name_does_not_redirect_a_write(granted):
    inside, outside = granted
    (inside / ".plan.md.dataelan-tmp").symlink_to(outside / "secret.txt")  # the fixed name once used
    tools = BuiltinTools(["write_file"], [inside])
    done = await tools.call("write_file", {"path": "plan.md", "content": "# Plan"}, timeout=5)
    assert not done.is_error and (inside / "plan.md").read_text() == "# Plan"
    assert (outside / "secret.txt").read_text() == "the key"  # untouched
    assert sorted(p.name for p in inside.iterdir() if "dataelan-tmp" in p.name) == [".plan.md.dataelan-tmp"]


async def test_history_search_finds_earlier_conversations(services):
    conversation = services.store.create_conversation(title="Bread")
    services.store.add_user_message(
        conversation.id, "How long should sourdough proof?", [], "openai:gpt-4o-mini"
    )
    tools = BuiltinTools(["search_history"], db=services.db)
    found = await tools.call("search_history", {"query": "sourdough"}, timeout=5)
    assert "[Bread] user: How long should sourdough proof?" in found.content
    none = await tools.call("search_history", {"query": "kayak"}, timeout=5)
    assert none.content == "Nothing in the history matches 'kayak'."


async def test_fetch_is_off_offline_and_capped_online():
    offline = BuiltinTools(["fetch_url"], offline=True)
    assert await offline.list_tools() == []
    refused = await offline.call("fetch_url", {"url": "http://127.0.0.1:9/"}, timeout=5)
    assert refused.is_error and "offline" in refused.content
    server = ScriptedServer({"/page": lambda: Reply(200, [b"hello page"], content_type="text/plain"),
                             "/huge": lambda: Reply(200, [b"x" * (FETCH_LIMIT + 5000)], content_type="text/plain")}).start()  # fmt: skip
    try:
        online = BuiltinTools(["fetch_url"], offline=False)
        (tool,) = await online.list_tools()
        assert not tool.read_only  # it asks
        assert (
            await online.call("fetch_url", {"url": server.base_url + "/page"}, timeout=5)
        ).content == "hello page"
        huge = (await online.call("fetch_url", {"url": server.base_url + "/huge"}, timeout=5)).content
        assert huge.endswith(f"[Cut at {FETCH_LIMIT:,} bytes.]") and len(huge) < FETCH_LIMIT + 100
        missing = await online.call("fetch_url", {"url": server.base_url + "/nothing"}, timeout=5)
        assert missing.is_error and "HTTP 404" in missing.content
    finally:
        server.stop()


def test_tool_sets_are_read_and_mistakes_said(tmp_path):
    folders, names, others = parse_tool_sets(["calc", f"files:{tmp_path}", "mcp:github"])
    assert folders == [tmp_path.resolve()] and others == {"mcp:github:*"}
    assert names == {"calculator", "list_files", "read_file", "write_file"}
    with pytest.raises(ToolSetError, match="Unknown tool 'calculater'"):
        parse_tool_sets(["calculater"])
    with pytest.raises(ToolSetError, match="there is no folder at"):
        parse_tool_sets([f"files:{tmp_path / 'missing'}"])

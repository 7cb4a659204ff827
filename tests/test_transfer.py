"""Export and import: round trips keep every branch; bad files change nothing."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from dataelan_desktop.core.db.tables import Message
from dataelan_desktop.core.transfer import ImportFormatError, export_conversation, export_project, import_file
from tests.support.cli import cli_env, run_cli

CHATGPT = Path(__file__).parent / "data" / "chatgpt_export" / "conversations.json"


def dump(services) -> list:
    con = sqlite3.connect(services.db.path)
    try:
        return [
            con.execute("SELECT id, title FROM conversations ORDER BY id").fetchall(),
            con.execute("SELECT id, parent_id, content FROM messages ORDER BY id").fetchall(),
            con.execute("SELECT id, name FROM projects ORDER BY id").fetchall(),
        ]
    finally:
        con.close()


def make_branchy_conversation(services) -> str:
    project = services.store.create_project("Baking", instructions="Be precise.")
    conversation = services.store.create_conversation(project.id, model="openai:gpt-4o", title="Bread")

    def add(s):
        q = Message(conversation_id=conversation.id, role="user", content="How long to proof?")
        s.add(q)
        s.flush()
        a1 = Message(
            conversation_id=conversation.id,
            parent_id=q.id,
            role="assistant",
            content="About 4 hours.",
            model="openai:gpt-4o",
        )
        a2 = Message(conversation_id=conversation.id, parent_id=q.id, role="assistant", content="Until it doubles.",
                     model="openai:gpt-4o", status="stopped")  # fmt: skip
        s.add_all([a1, a2])
        s.flush()
        return a1.id

    shown = services.db.call(add)
    services.store.update_conversation(conversation.id, current_leaf_id=shown)
    return conversation.id


def test_json_round_trip_keeps_branches_and_the_shown_leaf(services, tmp_path: Path):
    conversation_id = make_branchy_conversation(services)
    exported = export_conversation(services.store, conversation_id, "json")
    data = json.loads(exported)
    assert data["format"] == "dataelan" and len(data["conversations"][0]["messages"]) == 3
    path = tmp_path / "bread.json"
    path.write_text(exported)

    result = import_file(services.store, path)
    assert result.format == "dataelan" and result.message_count == 3
    new_id = result.conversation_ids[0]
    assert new_id != conversation_id
    original = sorted((m.role, m.content, m.status) for m in services.store.messages(conversation_id))
    copy = sorted((m.role, m.content, m.status) for m in services.store.messages(new_id))
    assert copy == original
    assert [m.content for m in services.store.visible_messages(new_id)] == [
        "How long to proof?",
        "About 4 hours.",
    ]
    # importing the same file again is recognised, not duplicated
    again = import_file(services.store, path)
    assert again.conversation_ids == [] and again.skipped_duplicates == 1


def test_markdown_export_shows_the_visible_branch(services):
    conversation_id = make_branchy_conversation(services)
    md = export_conversation(services.store, conversation_id, "md")
    assert md.startswith("# Bread") and "About 4 hours." in md and "Until it doubles." not in md
    assert "## Assistant (openai:gpt-4o)" in md


def test_project_export(services):
    make_branchy_conversation(services)
    project = services.store.project_by_name("Baking")
    data = json.loads(export_project(services.store, project.id, "json"))
    assert data["project"]["name"] == "Baking" and data["project"]["instructions"] == "Be precise."
    assert "# Project: Baking" in export_project(services.store, project.id, "md")


def test_chatgpt_export_keeps_its_branches(services):
    result = import_file(services.store, CHATGPT)
    assert result.format == "chatgpt" and len(result.conversation_ids) == 2
    sourdough = services.store.conversation(result.conversation_ids[0])
    assert sourdough.title == "Sourdough starter help"
    visible = services.store.visible_messages(sourdough.id)
    # the current node's branch: the edited question, the browser's quote (kept as a tool step) and the answer
    assert [m.content for m in visible] == [
        "My starter smells like nail polish. Is it dead?",
        "No: acetone smell means it is hungry. Feed it more often.",
        "What ratio for a stiff starter?",
        "A stiff starter is 50-60% hydration: 1 part starter, 2 flour, 1 water.",
        "1:2:1 starter, water 50%.",
    ]
    assert [m.role for m in visible] == ["user", "assistant", "user", "tool", "assistant"]
    assert visible[3].tool == {
        "name": "browser",
        "source": "chatgpt",
        "is_error": False,
    }  # it answered no call
    assert visible[-1].model == "openai:gpt-4o-mini"
    assert services.store.branching(visible[1].id).count == 2  # a regenerated reply
    assert services.store.branching(visible[2].id).count == 2  # an edited question
    assert len(services.store.messages(sourdough.id)) == 8  # the hidden system node is not a message


def test_chatgpt_zip_is_accepted(services, tmp_path: Path):
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(CHATGPT, "export/conversations.json")
        z.writestr("export/chat.html", "<html></html>")
    assert len(import_file(services.store, archive).conversation_ids) == 2


def _broken_exports(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = json.loads(CHATGPT.read_text())
    dangling = json.loads(CHATGPT.read_text())
    dangling[1]["mapping"]["b2"]["parent"] = "nowhere"
    cycle = json.loads(CHATGPT.read_text())
    cycle[1]["mapping"]["b0"]["parent"] = "b2"
    no_mapping = [{"title": "x"}]
    cases = {
        "not-json": ("this is not json {", "not valid JSON"),
        "truncated": (CHATGPT.read_text()[: len(CHATGPT.read_text()) // 2], "not valid JSON"),
        "wrong-shape": (json.dumps({"hello": "world"}), "neither a Dataelan export nor a ChatGPT"),
        "no-mapping": (json.dumps(no_mapping), "has no 'mapping'"),
        "dangling": (json.dumps(dangling), "does not exist"),
        "cycle": (json.dumps(cycle), "cycle"),
        "second-bad": (json.dumps([good[0], {"mapping": "oops"}]), "conversation 2"),
    }
    out = {}
    for name, (text, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        out[name] = (path, message)
    return out


@pytest.mark.parametrize(
    "case", ["not-json", "truncated", "wrong-shape", "no-mapping", "dangling", "cycle", "second-bad"]
)
def test_malformed_imports_are_refused_and_change_nothing(services, tmp_path: Path, case):
    make_branchy_conversation(services)
    before = dump(services)
    path, message = _broken_exports(tmp_path)[case]
    with pytest.raises(ImportFormatError, match=message):
        import_file(services.store, path)
    assert dump(services) == before


def test_exports_never_contain_keys(services, memory_keyring):
    services.secrets.set("openai", "sk-export-never-1234")
    conversation_id = make_branchy_conversation(services)
    for fmt in ("md", "json"):
        assert "sk-export-never" not in export_conversation(services.store, conversation_id, fmt)


def test_cli_import_export_round_trip(data_home: Path, tmp_path: Path):
    env = cli_env(data_home)
    shutil.copytree(CHATGPT.parent, tmp_path / "export")  # conversations.json and the image beside it
    imported = run_cli("import", str(tmp_path / "export" / "conversations.json"), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 conversation(s), 14 message(s) (chatgpt)" in imported.stdout
    assert "kept 1 image(s) (in the data folder) and 2 tool step(s)" in imported.stdout
    assert "could not keep 1 image(s): the export does not hold their files" in imported.stdout
    conversation_id = imported.stdout.splitlines()[3]
    out = tmp_path / "c.json"
    exported = run_cli("export", conversation_id, "--format", "json", "-o", str(out), env=env)
    assert (
        exported.returncode == 0
        and json.loads(out.read_text())["conversations"][0]["title"] == "Sourdough starter help"
    )
    image = (CHATGPT.parent / "file-StarterJar01-starter-jar.png").read_bytes()
    (first, *_rest) = json.loads(out.read_text())["conversations"][0]["messages"]
    assert first["attachments"] == [{"kind": "image", "name": "file-StarterJar01-starter-jar.png",
                                     "mime": "image/png", "data": base64.b64encode(image).decode()}]  # fmt: skip
    md = run_cli("export", conversation_id, "--format", "md", env=env)
    assert (
        "1:2:1 starter, water 50%." in md.stdout and "*Image: file-StarterJar01-starter-jar.png*" in md.stdout
    )
    found = run_cli("search", "acetone", env=env)
    assert conversation_id in found.stdout and "[acetone]" in found.stdout
    assert "(archived)" not in found.stdout
    from dataelan_desktop.core.services import build_services

    app = build_services()  # archived in the window meanwhile
    app.store.update_conversation(conversation_id, archived=True)
    app.close()
    found = run_cli("search", "acetone", env=env)
    assert conversation_id in found.stdout and "(archived)" in found.stdout  # found, and said to be
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    refused = run_cli("import", str(bad), env=env)
    assert (
        refused.returncode == 1 and "not valid JSON" in refused.stderr and "Traceback" not in refused.stderr
    )

"""Malformed import files are refused whole, in one line naming the first problem, and change nothing;
a zip bomb is refused without expanding it; text a file cannot store (half an emoji) is repaired."""

from __future__ import annotations

import copy
import json
import os
import resource
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dataelan_desktop.core.transfer import ImportFormatError, export_conversation, import_file
from tests.reliability.checks import error_line
from tests.reliability.tally import TALLY
from tests.support.cli import REPO, cli_env, run_cli
from tests.support.fake_openai import openai_stream

CHATGPT = json.loads(
    (Path(__file__).parents[1] / "data" / "chatgpt_export" / "conversations.json").read_text()
)
DATAELAN = {
    "format": "dataelan",
    "version": 1,
    "project": {"name": "Baking", "instructions": "Be precise."},
    "conversations": [
        {
            "id": "c1",
            "title": "Bread",
            "current_leaf_id": "a1",
            "messages": [
                {
                    "id": "q1",
                    "parent_id": None,
                    "role": "user",
                    "content": "How long?",
                    "attachments": [{"name": "recipe.txt", "text": "flour, water"}],
                },  # fmt: skip
                {
                    "id": "a1",
                    "parent_id": "q1",
                    "role": "assistant",
                    "content": "4 hours.",
                    "input_tokens": 12,
                },
            ],
        }
    ],
}


def chatgpt(change) -> Any:
    data = copy.deepcopy(CHATGPT)
    change(data)
    return data


def dataelan(change) -> Any:
    data = copy.deepcopy(DATAELAN)
    change(data)
    return data


def _set(path: list, value) -> Any:
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


U1 = [0, "mapping", "u1"]
M1 = [0, "mapping", "u1", "message"]
D0 = ["conversations", 0, "messages", 0]

MALFORMED: dict[str, tuple[Any, str]] = {
    # ChatGPT's conversations.json
    "author is text": (chatgpt(_set([*M1, "author"], "user")), "'author' is text, not an object"),
    "parent is a list": (chatgpt(_set([*U1, "parent"], ["sys"])), "has a parent that is a list"),
    "node is a list": (chatgpt(_set(U1, [1, 2])), "node 'u1' is a list, not an object"),
    "node id is a number": (chatgpt(_set([*U1, "id"], 7)), "has an id that is a number"),
    "content is text": (chatgpt(_set([*M1, "content"], "hi")), "'content' is text, not an object"),
    "parts is an object": (
        chatgpt(_set([*M1, "content", "parts"], {"a": 1})),
        "'content.parts' is an object",
    ),
    "a part is a number": (
        chatgpt(_set([*M1, "content", "parts"], [3])),
        "is a number, not text or an object",
    ),
    "metadata is a list": (chatgpt(_set([*M1, "metadata"], [])), "'metadata' is a list"),
    "model slug is a number": (
        chatgpt(_set([0, "mapping", "a1", "message", "metadata", "model_slug"], 4)),
        "'model_slug' is a number",
    ),
    "create time is a word": (
        chatgpt(_set([*M1, "create_time"], "yesterday")),
        "'create_time' is not a date",
    ),
    "create time overflows": (chatgpt(_set([*M1, "create_time"], 1e300)), "'create_time' is not a date"),
    "title is an object": (chatgpt(_set([0, "title"], {"x": 1})), "'title' is an object, not text"),
    "current node is a list": (chatgpt(_set([0, "current_node"], ["a2b"])), "'current_node' is a list"),
    "conversation is text": (chatgpt(_set([0], "hello")), "the conversation is text"),
    "top level is a number": (42, "neither a Dataelan export nor a ChatGPT"),
    "mapping is a list": (chatgpt(_set([0, "mapping"], [])), "has no 'mapping'"),
    "cycle": (chatgpt(_set([1, "mapping", "b0", "parent"], "b2")), "cycle"),
    "dangling parent": (chatgpt(_set([1, "mapping", "b2", "parent"], "nowhere")), "does not exist"),
    "two nodes, one id": (chatgpt(_set([*U1, "id"], "a1")), "two nodes share the id 'a1'"),
    "conversation id is a list": (chatgpt(_set([0, "id"], [1])), "'id' is a list"),
    # the app's own export
    "version is text": (dataelan(_set(["version"], "1")), "unsupported Dataelan export version '1'"),
    "conversations is an object": (
        dataelan(_set(["conversations"], {})),
        "'conversations' is an object, not a list",
    ),
    "message is text": (dataelan(_set(D0, "hi")), "the message is text"),
    "message id is a number": (dataelan(_set([*D0, "id"], 5)), "it has no id"),
    "role is unknown": (dataelan(_set([*D0, "role"], "wizard")), "'role' is 'wizard', not one of"),
    "content is a list": (dataelan(_set([*D0, "content"], ["a"])), "'content' is a list, not text"),
    "attachments is an object": (
        dataelan(_set([*D0, "attachments"], {"name": "x"})),
        "'attachments' is an object, not a list",
    ),
    "attachments are text": (
        dataelan(_set([*D0, "attachments"], ["a.txt"])),
        "an attachment is text, not an object",
    ),
    "attachment without a name": (dataelan(_set([*D0, "attachments"], [{"text": "x"}])), "'name' is missing"),
    "tokens as text": (dataelan(_set([*D0, "input_tokens"], "12")), "'input_tokens' is text"),
    "negative tokens": (dataelan(_set([*D0, "input_tokens"], -5)), "not a whole number"),
    "NaN duration": (
        '{"format":"dataelan","version":1,"conversations":[{"messages":[{"id":"a","role":"user","duration_ms":NaN}]}]}',
        "'duration_ms' is a number nan, not a number",
    ),  # fmt: skip
    "status is unknown": (dataelan(_set([*D0, "status"], "bogus")), "'status' is 'bogus'"),
    "system prompt is an object": (
        dataelan(_set(["conversations", 0, "system_prompt"], {"a": 1})),
        "'system_prompt' is an object",
    ),
    "model is a list": (dataelan(_set(["conversations", 0, "model"], ["x"])), "'model' is a list"),
    "date is a word": (dataelan(_set([*D0, "created_at"], "soon")), "'created_at' is not a date"),
    "shown leaf is not a message": (
        dataelan(_set(["conversations", 0, "current_leaf_id"], "zz")),
        "'current_leaf_id' 'zz' is not one of",
    ),
    "project is a list": (dataelan(_set(["project"], [])), "'project' is a list"),
    "project name is a number": (dataelan(_set(["project", "name"], 3)), "'name' is a number"),
    "two messages, one id": (
        dataelan(_set(["conversations", 0, "messages", 1, "id"], "q1")),
        "two messages share the id 'q1'",
    ),
    "parent is a number": (
        dataelan(_set(["conversations", 0, "messages", 1, "parent_id"], 1)),
        "'parent_id' is a number",
    ),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "nests its JSON too deeply"),
    "attachment nested 50 deep": (
        dataelan(
            _set([*D0, "attachments"], [{"name": "x", "text": "y", "meta": json.loads("[" * 50 + "]" * 50)}])
        ),
        "nests more than 16 levels",
    ),  # fmt: skip
    "not UTF-8": (b'[{"title": "\xff\xfe"}]', "is not UTF-8 text"),
    "empty file": ("", "not valid JSON"),
}


def _write(folder: Path, name: str, content: Any) -> Path:
    path = folder / (name.replace(" ", "-").replace(",", "") + ".json")
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    return path


def _dump(db: Path) -> list:
    con = sqlite3.connect(db)
    try:
        return [
            con.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
            for t in ("projects", "conversations", "messages")
        ]
    finally:
        con.close()


def test_every_malformed_file_is_refused_in_one_line_and_changes_nothing(services, tmp_path: Path):
    assert import_file(services.store, _write(tmp_path, "good", DATAELAN)).message_count == 2
    before = _dump(services.db.path)
    for name, (content, words) in MALFORMED.items():
        path = _write(tmp_path, name, content)
        with pytest.raises(ImportFormatError) as refused:
            import_file(services.store, path)
            pytest.fail(f"accepted: {name}")
        message = str(refused.value)
        assert words in message and "\n" not in message, (name, message)
        TALLY["bad_inputs"] += 1
    folder = tmp_path / "a-folder.json"
    folder.mkdir()
    for path, words in ((folder, "is a folder"), (tmp_path / "missing.json", "does not exist")):
        with pytest.raises(ImportFormatError, match=words):
            import_file(services.store, path)
        TALLY["bad_inputs"] += 1
    assert _dump(services.db.path) == before


def test_zips_that_are_damaged_empty_or_bombs_are_refused(data_home: Path, tmp_path: Path):
    env = cli_env(data_home)
    good = tmp_path / "export.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("export/conversations.json", json.dumps(CHATGPT))
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(good.read_bytes()[:-30])
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("chat.html", "<html></html>")
    bomb = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open("conversations.json", "w") as member,
    ):
        member.write(b"[")
        for _ in range(513):  # 513 MB of whitespace: about half a megabyte compressed
            member.write(b" " * (1 << 20))
        member.write(b"]")
    assert bomb.stat().st_size < 2_000_000
    cases = {
        damaged: "damaged or unsupported zip",
        empty: "without a conversations.json",
        bomb: "expands to more than 512 MB",
    }
    for path, words in cases.items():
        result = _run_with_memory_cap(["import", str(path)], env)
        assert words in error_line(result)
        TALLY["bad_inputs"] += 1
    assert run_cli("import", str(good), env=env).returncode == 0


def _run_with_memory_cap(
    args: list[str], env: dict[str, str], cap: int = 1 << 30
) -> subprocess.CompletedProcess[str]:
    """The CLI with at most ``cap`` bytes of address space: expanding the bomb would need several times that."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return subprocess.run([sys.executable, "-m", "dataelan_desktop.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=REPO, preexec_fn=limit)  # fmt: skip


def test_half_an_emoji_is_repaired_and_the_import_then_exports(services, tmp_path: Path):
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps(dataelan(_set([*D0, "content"], "broken \ud83d emoji"))))
    result = import_file(services.store, path)
    assert result.repaired_characters == 1
    shown = services.store.visible_messages(result.conversation_ids[0])
    assert shown[0].content == "broken \ufffd emoji"
    assert "broken \ufffd emoji" in export_conversation(services.store, result.conversation_ids[0], "md")
    TALLY["bad_inputs"] += 1


def test_attachments_that_are_accepted_can_be_exported_and_continued(data_home: Path, tmp_path: Path, server):
    server.default = openai_stream(["fine"])
    env = cli_env(data_home)
    path = _write(tmp_path, "good", DATAELAN)
    imported = run_cli("import", str(path), env=env)
    assert imported.returncode == 0, imported.stderr
    conversation_id = imported.stdout.splitlines()[-1]
    for fmt in ("md", "json"):
        exported = run_cli("export", conversation_id, "--format", fmt, env=env)
        assert exported.returncode == 0 and "recipe.txt" in exported.stdout, exported.stderr
    assert run_cli("providers", "add", "echo", "--base-url", server.base_url + "/v1", env=env).returncode == 0
    continued = run_cli("chat", "--continue", conversation_id, "-m", "echo:m", "and then?", env=env)
    assert continued.returncode == 0, continued.stderr
    sent = server.posts()[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "Be precise."}  # the project's instructions
    assert "flour, water" in sent[1]["content"] and sent[-1]["content"] == "and then?"
    # through the command line, a malformed file is one clean line
    bad = _write(tmp_path, "bad", dataelan(_set([*D0, "attachments"], {"name": "x"})))
    assert "'attachments' is an object, not a list" in error_line(run_cli("import", str(bad), env=env))
    TALLY["bad_inputs"] += 1
    assert os.path.exists(path)

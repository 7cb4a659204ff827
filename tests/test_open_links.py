"""`dataelan FILE.gguf` and `dataelan dataelan://…`: what opens, and one clear line for what cannot."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from dataelan_desktop.cli.common import CliError
from dataelan_desktop.cli.launch import OpenRequest, open_request
from tests.support.cli import cli_env, run_cli

CONVERSATION = "0b7e8c1e-5f0c-4c47-9a3b-1f0e2d3c4b5a"


def test_a_model_file_path_or_file_url_opens_the_model(tmp_path: Path):
    model = tmp_path / "my model.GGUF"
    model.write_bytes(b"GGUF")
    expected = OpenRequest("model", str(model.resolve()))
    assert open_request([str(model)]) == expected
    assert open_request([model.as_uri()]) == expected  # what a desktop may pass for %u


def test_links_open_a_conversation_or_import_a_file(tmp_path: Path):
    export = tmp_path / "my export.json"
    export.write_text("{}")
    assert open_request([f"dataelan://open/{CONVERSATION}"]) == OpenRequest("conversation", CONVERSATION)
    assert open_request([f"DATAELAN://open/{CONVERSATION.upper()}/"]) == OpenRequest(
        "conversation", CONVERSATION
    )
    link = f"dataelan://import?path={quote(str(export))}"
    assert open_request([link]) == OpenRequest("import", str(export.resolve()))


@pytest.mark.parametrize("argv", [["chat"], ["--version"], ["history", "list"], ["notes.txt"], []])
def test_commands_are_not_mistaken_for_files(argv):
    assert open_request(argv) is None


@pytest.mark.parametrize(
    "arg, says",
    [
        ("dataelan://open/not-an-id", "not a conversation id"),
        ("dataelan://open/", "not a conversation id"),
        ("dataelan://import", "names no file"),
        ("dataelan://import?path=/no/such/file.json", "there is no file /no/such/file.json"),
        ("dataelan://delete/everything", "not a Dataelan link"),
        ("/no/such/model.gguf", "no such model file"),
        ("file:///tmp/readme.txt", "opens .gguf model files"),
    ],
)
def test_what_cannot_be_opened_is_refused(arg: str, says: str):
    with pytest.raises(CliError) as refused:
        open_request([arg])
    assert says in str(refused.value) and refused.value.code == 2


def test_a_bad_link_is_one_line_on_the_command_line_and_no_window(data_home: Path):
    result = run_cli("dataelan://open/nonsense", env=cli_env(data_home), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: dataelan://open/nonsense: not a conversation id; expected "
        "dataelan://open/CONVERSATION_ID or dataelan://import?path=FILE"
    ]
    assert result.stdout == ""

"""The local models library: inspect, add (copy or reference), scan, settings, remove — CLI and core."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataelan_desktop.core.gguf.library import ModelLibrary
from dataelan_desktop.core.providers.errors import ModelFileError
from tests.support import tiny_gguf as writers
from tests.support.cli import cli_env, run_cli


def test_inspect_two_kinds_of_model_through_the_cli(data_home: Path, tmp_path: Path):
    f32 = writers.write_tiny_llama(tmp_path / "chat-f32.gguf", n_ctx=512)
    f16 = writers.write_tiny_llama(
        tmp_path / "base-f16.gguf", f16=True, chat_template=None, n_ctx=1024, n_layer=3
    )
    env = cli_env(data_home)
    a = run_cli("models", "inspect", str(f32), env=env).stdout
    b = run_cli("models", "inspect", str(f16), "--context", "1024", env=env).stdout
    assert "architecture           llama" in a and "F32 (ALL_F32)" in a and "chat template          yes" in a
    assert "context length         512" in a
    assert "F16 (MOSTLY_F16)" in b and "chat template          no" in b and "layers                 3" in b
    assert "memory at 1024 ctx" in b


@pytest.mark.parametrize(
    ("writer", "message"),
    [
        (lambda p, good: writers.write_empty(p), "is empty"),
        (lambda p, good: writers.write_random_bytes(p), "not a GGUF model file"),
        (lambda p, good: writers.write_truncated(p, good), "truncated"),
        (lambda p, good: writers.write_wrong_magic(p, good), "not a GGUF model file"),
        (lambda p, good: writers.write_unsupported_arch(p), "does not support"),
        (lambda p, good: writers.write_vocab_only(p), "only a vocabulary"),
    ],
)
def test_bad_files_are_refused_by_the_cli_and_nothing_is_saved(
    data_home: Path, tmp_path: Path, tiny_gguf, writer, message
):
    bad = writer(tmp_path / "bad.gguf", tiny_gguf)
    env = cli_env(data_home)
    for command in (["models", "inspect", str(bad)], ["models", "add", str(bad)]):
        result = run_cli(*command, env=env)
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert "local:" not in run_cli("models", "list", "local", env=env).stdout


def test_add_copy_settings_chat_and_remove(data_home: Path, tiny_gguf):
    env = cli_env(data_home)
    added = run_cli("models", "add", str(tiny_gguf), "--copy", "--name", "tiny", env=env)
    assert added.returncode == 0, added.stderr
    copied = data_home / "models" / tiny_gguf.name
    assert copied.read_bytes() == tiny_gguf.read_bytes()
    assert run_cli("models", "list", "local", env=env).stdout.startswith("local:tiny")
    settings = run_cli(
        "models", "settings", "tiny", "--context-length", "256", "--system-prompt", "Be terse.", env=env
    )
    assert "context_length   256" in settings.stdout and "Be terse." in settings.stdout
    chat = run_cli("chat", "-m", "local:tiny", "--max-tokens", "4", "hello", env=env)
    assert chat.returncode == 0, chat.stderr
    assert run_cli("models", "rm", "tiny", "--delete", env=env).returncode == 0
    assert not copied.exists()
    gone = run_cli("chat", "-m", "local:tiny", "hello", env=env)
    assert gone.returncode == 1 and "No local model named 'tiny'" in gone.stderr


def test_scan_adds_good_files_and_reports_bad_ones(services, tmp_path: Path, tiny_gguf):
    folder = tmp_path / "models"
    (folder / "nested").mkdir(parents=True)
    writers.write_tiny_llama(folder / "one.gguf")
    writers.write_tiny_llama(folder / "nested" / "two.gguf", f16=True)
    writers.write_text_as_gguf(folder / "broken.gguf")
    library = ModelLibrary(services.db, services.bus)
    result = library.scan(folder)
    assert sorted(m.name for m in result.added) == ["one", "two"]
    assert list(result.refused) == [str(folder / "broken.gguf")]
    again = library.scan(folder)
    assert again.added == [] and len(again.already_known) == 2


def test_split_model_is_one_model_and_needs_all_parts(services, tmp_path: Path, tiny_gguf):
    first = tmp_path / "big-00001-of-00002.gguf"
    first.write_bytes(tiny_gguf.read_bytes())
    library = ModelLibrary(services.db)
    with pytest.raises(ModelFileError, match="big-00002-of-00002.gguf is missing"):
        library.add(first)
    (tmp_path / "big-00002-of-00002.gguf").write_bytes(b"x" * 10)
    row = library.add(first)
    assert row.name == "big" and row.details["parts"] == [
        "big-00001-of-00002.gguf",
        "big-00002-of-00002.gguf",
    ]
    assert row.size_bytes == tiny_gguf.stat().st_size + 10

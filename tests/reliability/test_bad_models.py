"""Hostile GGUF files are refused in one line, fast and without memory blow-up; copies of models never
overwrite or delete each other's files; a copy cut short by SIGKILL is cleaned up."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from dataelan_desktop.core.gguf.info import validate_gguf
from dataelan_desktop.core.providers.errors import ModelFileError
from tests.reliability.bad_gguf import gguf, kv, write_all
from tests.reliability.checks import error_line
from tests.reliability.tally import TALLY
from tests.support import tiny_gguf as writers
from tests.support.cli import cli_env, popen_cli, run_cli


@pytest.mark.timeout(120)
def test_every_hostile_gguf_is_refused_with_what_is_wrong(tmp_path: Path, tiny_gguf: Path):
    files = write_all(tmp_path / "bad", tiny_gguf.read_bytes())
    assert len(files) >= 40
    said = {}
    for name, path in files.items():
        with pytest.raises(ModelFileError) as refused:
            validate_gguf(path)
        message = str(refused.value)
        assert "\n" not in message and path.name in message, (name, message)
        said[name] = message
        TALLY["bad_inputs"] += 1
    for version in (0, 1, 99):  # named as what it is, not "truncated"
        assert f"GGUF version {version}, which this app cannot read" in said[f"version {version}"]
    assert "claims 1,099,511,627,776 items" in said["2^40 uint8 items in 204 bytes"]
    assert "not a power of two" in said["alignment 0"] and "appears twice" in said["duplicate key"]


def test_the_204_byte_bomb_is_refused_by_every_command_at_once(data_home: Path, tmp_path: Path):
    bomb = tmp_path / "folder" / "bomb.gguf"
    bomb.parent.mkdir()
    bomb.write_bytes(
        gguf(
            kvs=[kv("general.foo", 9, (0).to_bytes(4, "little") + (1 << 40).to_bytes(8, "little"))],
            pad_to=204,
        )
    )
    assert bomb.stat().st_size == 204
    env = cli_env(data_home)
    for command in (
        ["models", "inspect", str(bomb)],
        ["models", "add", str(bomb)],
        ["chat", "-m", f"local:{bomb}", "hi"],
    ):
        line = error_line(run_cli(*command, env=env, timeout=60))  # minutes and 3.8 GB before
        assert "claims 1,099,511,627,776 items" in line
        TALLY["bad_inputs"] += 1
    scanned = run_cli("models", "scan", str(bomb.parent), env=env, timeout=60)
    assert (
        scanned.returncode == 0
        and "skipped" in scanned.stdout
        and "claims 1,099,511,627,776" in scanned.stdout
    )
    TALLY["bad_inputs"] += 1


def test_copies_of_two_files_with_one_name_are_kept_apart(data_home: Path, tmp_path: Path):
    first = writers.write_tiny_llama(tmp_path / "a" / "model.gguf", seed=1, name="First")
    second = writers.write_tiny_llama(tmp_path / "b" / "model.gguf", seed=2, name="Second")
    assert first.stat().st_size == second.stat().st_size and first.read_bytes() != second.read_bytes()
    env = cli_env(data_home)
    assert run_cli("models", "add", str(first), "--copy", "--name", "first", env=env).returncode == 0
    assert run_cli("models", "add", str(second), "--copy", "--name", "second", env=env).returncode == 0
    assert (
        "name                   First"
        in run_cli("models", "inspect", str(_path_of(data_home, "first")), env=env).stdout
    )
    assert (
        "name                   Second"
        in run_cli("models", "inspect", str(_path_of(data_home, "second")), env=env).stdout
    )
    assert _path_of(data_home, "first").read_bytes() == first.read_bytes()
    assert _path_of(data_home, "second").read_bytes() == second.read_bytes()
    # a third model that uses the first one's copied file: deleting "first" must keep that file
    shared = _path_of(data_home, "first")
    assert run_cli("models", "add", str(shared), "--name", "shared", env=env).returncode == 0
    removed = run_cli("models", "rm", "first", "--delete", env=env)
    assert removed.returncode == 0 and "kept because local:shared uses it" in removed.stdout
    assert (
        shared.exists()
        and run_cli("models", "inspect", str(_path_of(data_home, "shared")), env=env).returncode == 0
    )
    assert run_cli("models", "rm", "second", "--delete", env=env).returncode == 0
    assert not _path_of_deleted(data_home, "second").exists()  # nobody else used it: deleted
    assert shared.exists()
    TALLY["faults"] += 1


def _row(data_home: Path, where: str, value: str) -> str:
    con = sqlite3.connect(data_home / "dataelan.sqlite3")
    try:
        return con.execute(f"SELECT path FROM local_models WHERE {where}", (value,)).fetchone()[0]
    finally:
        con.close()


def _path_of(data_home: Path, name: str) -> Path:
    return Path(_row(data_home, "name = ?", name))


def _path_of_deleted(data_home: Path, name: str) -> Path:
    return Path(_row(data_home, "name LIKE ?", f"{name}#deleted-%"))


def test_a_copy_killed_halfway_is_cleaned_up_at_the_next_start(
    data_home: Path, tmp_path: Path, tiny_gguf: Path
):
    big = tmp_path / "big.gguf"
    with open(big, "wb") as fh:  # a valid model followed by 1 GB of padding: the copy takes a while
        fh.write(tiny_gguf.read_bytes())
        fh.truncate(tiny_gguf.stat().st_size + (1 << 30))
    env = cli_env(data_home)
    assert run_cli("history", "list", env=env).returncode == 0
    models = data_home / "models"
    process = popen_cli("models", "add", str(big), "--copy", env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            partial = (
                [p for p in models.glob("*") if p.is_file() and p.stat().st_size > 0]
                if models.is_dir()
                else []
            )
            if partial:
                break
            time.sleep(0.005)
        assert process.poll() is None, "the copy finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    left = [p for p in models.iterdir()]
    assert left and all(p.name != "big.gguf" for p in left)  # the half copy never has the model's name
    assert run_cli("models", "list", "local", env=env).returncode == 0  # the next start
    assert list(models.iterdir()) == []
    TALLY["crashes"] += 1
    added = run_cli("models", "add", str(big), "--copy", env=env, timeout=120)
    assert added.returncode == 0, added.stderr
    assert [p.name for p in models.iterdir()] == ["big.gguf"]
    assert (models / "big.gguf").stat().st_size == big.stat().st_size

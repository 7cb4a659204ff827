"""Downloads from a loopback stand-in for the hub: progress, resume from the middle, SHA-256, disk space."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from dataelan_desktop.core.gguf.download import Download, DownloadError, DownloadStopped
from tests.support.fake_hub import FakeHub

REPO, FILE = "tester/tiny-GGUF", "tiny-chat.gguf"


@pytest.fixture
def hub(tiny_gguf, monkeypatch):
    content = tiny_gguf.read_bytes()
    server = FakeHub({f"{REPO}/{FILE}": content}).start()
    server.chunk = 16 * 1024
    monkeypatch.setenv("HF_ENDPOINT", server.base_url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    import huggingface_hub.constants as constants

    from dataelan_desktop.core.gguf import download

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(download, "CHUNK_SIZE", 16 * 1024)  # the test file is small: read it in many pieces
    yield server, content
    server.stop()


def test_download_reports_progress_and_verifies(hub, tmp_path: Path):
    server, content = hub
    seen = []
    job = Download(REPO, FILE, folder=tmp_path, on_progress=seen.append)
    path = job.run()
    assert path.read_bytes() == content and job.state == "done"
    assert seen and seen[-1].done == len(content) and seen[-1].total == len(content)
    assert all(b.done <= a.done for a, b in zip(seen[1:], seen, strict=False))


def test_a_cut_transfer_resumes_from_the_middle(hub, tmp_path: Path):
    server, content = hub
    server.drop_after = len(content) // 2
    path = Download(REPO, FILE, folder=tmp_path).run()
    assert path.read_bytes() == content
    ranges = [r for method, _path, r in server.requests if method == "GET" and r]
    assert ranges, "the second transfer must ask for the rest, not start over"
    resumed_at = int(ranges[0].split("=")[1].split("-")[0])
    assert len(content) // 4 <= resumed_at <= len(content) // 2


async def test_pause_then_resume_without_starting_over(hub, tmp_path: Path):
    server, content = hub
    server.delay = 0.01
    seen = []
    job = Download(REPO, FILE, folder=tmp_path, on_progress=seen.append)
    task = asyncio.get_running_loop().run_in_executor(None, job.run)
    while not seen or seen[-1].done < len(content) // 3:
        await asyncio.sleep(0.01)
    job.pause()
    with pytest.raises(DownloadStopped):
        await task
    assert job.state == "paused" and not job.target.exists()
    assert job.partial_path.stat().st_size >= len(content) // 3  # what arrived is kept for later
    server.delay = 0
    path = await asyncio.get_running_loop().run_in_executor(None, job.run)
    assert path.read_bytes() == content
    ranges = [r for method, _p, r in server.requests if method == "GET" and r]
    assert ranges and int(ranges[-1].split("=")[1].split("-")[0]) >= len(content) // 3


def test_a_corrupted_file_is_caught_and_discarded(hub, tmp_path: Path):
    server, _content = hub
    server.corrupt = True
    job = Download(REPO, FILE, folder=tmp_path)
    with pytest.raises(DownloadError, match="did not match its SHA-256"):
        job.run()
    assert not job.target.exists() and job.state == "failed"


def test_the_catalog_hash_wins_over_the_hub(hub, tmp_path: Path):
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(DownloadError, match="SHA-256"):
        Download(REPO, FILE, folder=tmp_path, sha256=wrong).run()


def test_not_enough_disk_space_is_refused_up_front(hub, tmp_path: Path, monkeypatch):
    server, _content = hub
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DownloadError, match="Not enough disk space"):
        Download(REPO, FILE, folder=tmp_path).run()
    assert not [r for r in server.requests if r[0] == "GET"]  # nothing was transferred


def test_cancel_removes_the_partial_file(hub, tmp_path: Path):
    server, content = hub
    job = Download(
        REPO,
        FILE,
        folder=tmp_path,
        on_progress=lambda p: job.cancel() if p.done > len(content) // 4 else None,
    )
    with pytest.raises(DownloadError, match="cancelled"):
        job.run()
    assert job.state == "cancelled" and job._partials() == [] and not job.target.exists()


def test_unknown_file_is_a_clear_error(hub, tmp_path: Path):
    with pytest.raises(DownloadError, match="Could not find nothing.gguf"):
        Download(REPO, "nothing.gguf", folder=tmp_path).run()


def test_cli_download_adds_a_verified_model(hub, data_home: Path):
    from tests.support.cli import cli_env, run_cli

    server, content = hub
    env = cli_env(data_home, HF_ENDPOINT=server.base_url)
    env.pop("HF_HUB_OFFLINE", None)
    result = run_cli("models", "download", "--repo", REPO, "--file", FILE, "--name", "hubtiny", env=env)
    assert result.returncode == 0, result.stderr
    assert "downloaded and verified: local:hubtiny" in result.stdout and "100.0%" in result.stderr
    assert (data_home / "models" / FILE).read_bytes() == content
    listed = run_cli("models", "list", "local", env=env)
    assert "local:hubtiny" in listed.stdout
    server.corrupt = True
    bad = run_cli("models", "download", "--repo", REPO, "--file", FILE, "--name", "again", env=env)
    assert bad.returncode == 1 and "did not match its SHA-256" in bad.stderr


def test_cli_download_without_network_says_so_and_keeps_the_partial_file(hub, data_home: Path):
    """No network is not a missing file: the CLI says the hub cannot be reached, keeps what was
    already fetched, and the same command continues from it once the hub answers."""
    import socket

    from tests.support.cli import cli_env, run_cli

    server, content = hub
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket closes
    partial = data_home / "models" / (FILE + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(content[: len(content) // 3])
    env = cli_env(data_home, HF_ENDPOINT=f"http://127.0.0.1:{closed}")
    env.pop("HF_HUB_OFFLINE", None)
    offline = run_cli("models", "download", "--repo", REPO, "--file", FILE, env=env)
    assert offline.returncode == 1 and "Traceback" not in offline.stderr
    assert (
        "Can't reach Hugging Face" in offline.stderr and "offline, a proxy, or HF_ENDPOINT" in offline.stderr
    )
    assert "Could not find" not in offline.stderr and "downloaded so far is kept" in offline.stderr
    assert partial.read_bytes() == content[: len(content) // 3]
    env["HF_ENDPOINT"] = server.base_url
    again = run_cli("models", "download", "--repo", REPO, "--file", FILE, env=env)
    assert again.returncode == 0, again.stderr
    ranges = [r for method, _p, r in server.requests if method == "GET" and r]
    assert ranges == [f"bytes={len(content) // 3}-"]  # went on from the kept third
    assert (data_home / "models" / FILE).read_bytes() == content

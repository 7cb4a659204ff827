"""Ctrl+C stops a reply and keeps it; `dataelan` with no arguments opens the real window."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.support.cli import cli_env, popen_cli, run_cli
from tests.support.fake_openai import fake_openai_server, openai_stream


def test_ctrl_c_stops_and_keeps_what_arrived(data_home: Path):
    server = fake_openai_server()
    server.default = openai_stream([f"piece{i} " for i in range(500)], delay=0.01)
    try:
        env = cli_env(data_home, OPENAI_API_KEY="sk-sigint-test", OPENAI_BASE_URL=server.base_url + "/v1")
        process = popen_cli("chat", "-m", "openai:gpt-4o-mini", "talk for a while", env=env)
        streamed = ""
        deadline = time.monotonic() + 30
        while "piece5 " not in streamed and time.monotonic() < deadline:
            streamed += process.stdout.read(1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        server.stop()
    assert process.returncode == 130
    assert "stopped; the partial reply was saved" in stderr and "Traceback" not in stderr
    shown_text = streamed + stdout
    assert "piece5" in shown_text and "piece499" not in shown_text
    conversation_id = run_cli("history", "list", env=env).stdout.split()[0]
    saved = run_cli("history", "show", conversation_id, env=env).stdout
    assert "(stopped)" in saved and "piece5" in saved


def test_no_arguments_starts_the_gui(data_home: Path):
    env = cli_env(data_home, QT_QPA_PLATFORM="offscreen", DATAELAN_EXIT_WHEN_IDLE="1")
    result = run_cli(env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    shown, listed = result.stdout.splitlines()[:2]
    assert shown.startswith("window-shown-idle ")
    assert listed.startswith("conversations-listed ")  # then the database opened on a worker thread
    assert float(listed.split()[1]) >= float(shown.split()[1])
    assert (data_home / "dataelan.sqlite3").exists()  # the embedded default: SQLite in the data folder


def test_the_window_says_why_when_its_data_folder_cannot_be_opened(tmp_path: Path):
    """A data folder that cannot be created ends the app with a clear reason instead of a stuck window."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = cli_env(tmp_path / "unused", QT_QPA_PLATFORM="offscreen", DATAELAN_EXIT_WHEN_IDLE="1")
    env["DATAELAN_HOME"] = str(blocker / "dataelan")  # under a file: mkdir fails
    result = run_cli(env=env, timeout=120)
    assert result.returncode == 1
    assert result.stdout.startswith("window-shown-idle ")  # the window was up first
    assert "could not open its data folder" in result.stderr and str(blocker / "dataelan") in result.stderr
    assert "Traceback" not in result.stderr

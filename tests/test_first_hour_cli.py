"""The first-hour fixes from the terminal, as a person types them (issue 16, items 1 and 9)."""

from __future__ import annotations

from pathlib import Path

from dataelan_desktop.core.connections.store import save_provider
from tests.support.cli import cli_env, run_cli
from tests.support.fake_openai import openai_stream
from tests.test_context_fit import long_conversation


def test_chat_in_a_project_uses_its_default_model(services, server, data_home: Path):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    services.store.create_project("Research", default_model="fakeai:project-model")
    server.push(openai_stream(["From the project model"]))
    result = run_cli("chat", "--project", "Research", "Which model?", env=cli_env(data_home))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "From the project model"
    assert server.posts()[-1].body["model"] == "project-model"


def test_a_conversation_longer_than_the_context_is_fitted_and_says_so(services, tiny_gguf, data_home: Path):
    conversation_id = long_conversation(services, f"local:{tiny_gguf}")
    question = "So where is the logbook now? " + "Please answer in detail. " * 3
    result = run_cli(
        "chat",
        "--continue",
        conversation_id,
        "--max-tokens",
        "8",
        question,
        env=cli_env(data_home),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "left out to fit" in result.stderr and "of 512 tokens" in result.stderr

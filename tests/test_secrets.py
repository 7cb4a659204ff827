"""Keys live in the keyring or the environment, and are scrubbed from logs."""

from __future__ import annotations

import logging

import keyring
import pytest
from keyring.backends import fail

from dataelan_desktop.core.secrets import NoKeyringError, RedactingFilter, SecretStore, env_var_for


def test_key_round_trips_through_the_keyring(memory_keyring):
    store = SecretStore()
    store.set("openai", "  sk-live-0123456789  ")
    assert memory_keyring.passwords[("dataelan-desktop", "openai")] == "sk-live-0123456789"
    assert store.get("openai") == "sk-live-0123456789"
    assert store.delete("openai") and store.get("openai") is None


def test_environment_variable_wins_like_the_sdks(monkeypatch, memory_keyring):
    store = SecretStore()
    store.set("anthropic", "stored-key-000000")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key-111111")
    assert store.get("anthropic") == "env-key-111111"
    assert env_var_for("my-vllm") == "DATAELAN_MY_VLLM_API_KEY"
    assert env_var_for("openrouter", "OPENROUTER_API_KEY") == "OPENROUTER_API_KEY"


def test_without_a_keyring_the_message_names_the_variable(monkeypatch):
    keyring.set_keyring(fail.Keyring())
    store = SecretStore()
    with pytest.raises(NoKeyringError) as err:
        store.set("openai", "sk-abc-123456")
    assert "OPENAI_API_KEY" in str(err.value) and "keyring" in str(err.value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-1")
    assert store.get("openai") == "sk-from-env-1"


def test_known_keys_are_redacted_from_log_records(tmp_path):
    store = SecretStore()
    store.set("openai", "sk-never-in-logs-42")
    handler = logging.FileHandler(tmp_path / "app.log")
    handler.addFilter(RedactingFilter(store))
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    try:
        log.warning("request failed with key %s", "sk-never-in-logs-42")
    finally:
        log.removeHandler(handler)
        handler.close()
    text = (tmp_path / "app.log").read_text()
    assert "sk-never-in-logs-42" not in text and "[redacted]" in text

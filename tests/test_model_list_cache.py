"""The model picker's lists come from the last fetch on an everyday start: no request to the provider
and no network process until the person sends (issue 18, whole-app memory)."""

from __future__ import annotations

import json

import pytest

from dataelan_desktop.core.connections.registry import ProviderRegistry
from dataelan_desktop.core.network.client import NetworkClient
from tests.support.fake_openai import MODELS


def _model_lists_asked(server) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and r.path.startswith("/v1/models"))


@pytest.fixture
def keyed(services, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    services.secrets.set("openai", "sk-cache-test-1")
    return services


def _restarted(services) -> tuple[ProviderRegistry, NetworkClient]:
    """The registry of the app's next start on the same data folder, with a network process of its own."""
    network = NetworkClient()
    return ProviderRegistry(services.db, services.secrets, network=network), network


async def test_the_next_start_lists_models_without_asking_or_starting_the_network_process(keyed, server):
    models, errors = await keyed.registry.list_all_models()
    assert errors == {} and {m.ref for m in models} >= {f"openai:{m}" for m in MODELS}
    assert _model_lists_asked(server) == 1
    cache = keyed.db.path.parent / "cache" / "models.json"
    assert cache.exists() and "sk-cache-test-1" not in cache.read_text()  # ids and addresses, never keys

    registry, network = _restarted(keyed)
    try:
        again, errors = await registry.list_all_models()
        assert errors == {} and sorted(m.ref for m in again) == sorted(m.ref for m in models)
        assert _model_lists_asked(server) == 1  # nothing asked of the provider
        assert not network.alive  # and no network process started for it

        fresh, _ = await registry.list_all_models(fresh=True)  # Refresh model lists / the CLI's list
        assert sorted(m.ref for m in fresh) == sorted(m.ref for m in models)
        assert _model_lists_asked(server) == 2 and network.alive
    finally:
        await registry.aclose()
        network.stop()


async def test_a_changed_key_address_or_an_old_list_is_asked_for_again(keyed, server, monkeypatch):
    await keyed.registry.list_all_models()
    assert _model_lists_asked(server) == 1
    keyed.registry.invalidate("openai")  # what saving a key or the provider's settings does
    await keyed.registry.list_all_models()
    assert _model_lists_asked(server) == 2

    other = type(server)(server.get_routes).start()  # the same provider at another address
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", other.base_url + "/v1")
        keyed.registry.invalidate("openai")  # (the built provider still points at the first one)
        keyed.registry.model_lists.put("openai", f"openai {server.base_url}/v1", [])
        models, _ = await keyed.registry.list_all_models()
        assert _model_lists_asked(other) == 1 and models  # not the empty list kept for the old address
    finally:
        other.stop()

    keyed.registry.model_lists.max_age = 0.0  # a day later
    await keyed.registry.list_all_models()
    assert _model_lists_asked(other) + _model_lists_asked(server) == 4


def _entry(**changes):
    """The file as written, with the openai entry's fields changed (a hand edit, another version)."""

    def damage(text: str) -> bytes:
        kept = json.loads(text)
        kept["providers"]["openai"].update(changes)
        return json.dumps(kept).encode()

    return damage


@pytest.mark.parametrize(
    "damage",
    [
        lambda _text: b"\x00{not json",
        lambda _text: b"[]",
        _entry(fetched_at="yesterday"),
        _entry(models=7),
        _entry(models=[{"name": "no id"}]),
    ],
)
async def test_a_damaged_cache_file_only_means_asking_again(keyed, server, damage):
    await keyed.registry.list_all_models()
    cache = keyed.db.path.parent / "cache" / "models.json"
    cache.write_bytes(damage(cache.read_text()))
    registry, network = _restarted(keyed)
    try:
        models, errors = await registry.list_all_models()
        assert errors == {} and models and _model_lists_asked(server) == 2
        assert json.loads(cache.read_text())["providers"]["openai"]["models"]  # written whole again
    finally:
        await registry.aclose()
        network.stop()


async def test_a_provider_whose_key_is_gone_says_so_instead_of_showing_old_models(keyed, server):
    await keyed.registry.list_all_models()
    keyed.secrets.delete("openai")
    registry, network = _restarted(keyed)
    try:
        models, errors = await registry.list_all_models()
        assert not any(m.provider == "openai" for m in models)
    finally:
        await registry.aclose()
        network.stop()

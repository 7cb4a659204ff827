"""The picker's model lists as a person meets them: shown from the last fetch, refreshed with F5
(Tools → Refresh model lists), and a cloud model made ready while the first message is typed."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from tests.support.sse_server import Reply
from tests.ui.conftest import wait_until


def _models_reply(*ids: str):
    body = {
        "object": "list",
        "data": [{"id": i, "object": "model", "created": 1, "owned_by": "t"} for i in ids],
    }
    return lambda: Reply(200, [json.dumps(body).encode()], content_type="application/json")


def test_f5_fetches_the_lists_again_and_shows_a_new_model(window, qtbot, ui_run, two_servers):
    first, _second = two_servers
    picker = window.composer.model_picker

    async def scenario():
        await wait_until(lambda: picker.findText("one:gpt-4o-mini") >= 0, message="the lists shown")
        first.get_routes["/v1/models"] = _models_reply("gpt-4o-mini", "brand-new-model")
        qtbot.keyClick(window, Qt.Key.Key_F5)
        await wait_until(lambda: picker.findText("one:brand-new-model") >= 0, message="the new model")
        assert window.statusBar().currentMessage().startswith("Model lists refreshed")

    ui_run(scenario())


def test_typing_to_a_cloud_model_makes_its_provider_ready_before_sending(
    window, ui_run, services, two_servers
):
    first, _second = two_servers

    async def scenario():
        await wait_until(
            lambda: window.composer.model_picker.findText("one:gpt-4o-mini") >= 0, message="lists"
        )
        services.registry.invalidate("one")  # as after a start with cached lists: nothing built yet
        window.composer.set_model("one:gpt-4o-mini")
        window.composer.editor.setPlainText("Hello th")
        await wait_until(lambda: "one" in services.registry._providers, message="the provider made ready")
        assert services.registry.network.alive
        assert not first.posts()  # nothing sent before the person sends
        await wait_until(lambda: window.chat._warmed.get("one") == "ready", message="the SDK ready")
        services.registry.network.stop()  # as after sitting idle: its SDKs' memory given back
        window.composer.editor.setPlainText("Hello there, a")
        await wait_until(lambda: services.registry.network.alive, message="made ready again while typing")
        assert not first.posts()

    ui_run(scenario())


def test_typing_to_a_provider_that_cannot_start_asks_once(window, ui_run, services, monkeypatch):
    asked: list[str] = []
    real = services.registry.warm_up
    monkeypatch.setattr(services.registry, "warm_up", lambda name: (asked.append(name), real(name)))

    async def scenario():
        window.composer.set_model("nosuchprovider:m")  # no such provider yet: sending will say so
        for text in ("H", "He", "Hel", "Hell", "Hello"):
            window.composer.editor.setPlainText(text)
            await wait_until(lambda: window.chat._warmed.get("nosuchprovider") == "failed", message="tried")
        assert asked == ["nosuchprovider"]  # once, not at every keystroke

    ui_run(scenario())

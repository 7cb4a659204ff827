"""Every fault from every cloud provider leaves a clear message, keeps partial text, and the next message works."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.core.db.tables import MessageStatus
from dataelan_desktop.core.providers.retry import RetryPolicy
from tests.reliability.tally import TALLY
from tests.support import fake_anthropic as fa
from tests.support import fake_openai as fo

PIECES = ["alpha ", "beta ", "gamma ", "delta"]

OPENAI_FAULTS = {
    "401": (lambda: fo.openai_error(401, "bad key"), "refused", ""),
    "403": (lambda: fo.openai_error(403, "no access"), "not allowed", ""),
    "404 model": (lambda: fo.openai_error(404, "The model does not exist"), "does not know the model", ""),
    "429 retry-after": (
        lambda: fo.openai_error(429, "slow down", headers={"Retry-After": "120"}),
        "Try again in 120 s",
        "",
    ),
    "500": (lambda: fo.openai_error(500, "boom"), "server error", ""),
    "529 overloaded": (lambda: fo.openai_error(529, "overloaded"), "overloaded", ""),
    "dropped mid-stream": (lambda: fo.openai_dropped(PIECES, after=2), "dropped mid-reply", "alpha beta "),
    "malformed event": (lambda: fo.openai_malformed(PIECES, after=2), "malformed", "alpha beta "),
    "stall": (lambda: fo.openai_stalled(PIECES, after=1), "sent nothing for", "alpha "),
}
ANTHROPIC_FAULTS = {
    "401": (lambda: fa.anthropic_error(401, "authentication_error", "bad key"), "refused", ""),
    "403": (lambda: fa.anthropic_error(403, "permission_error", "no"), "not allowed", ""),
    "404 model": (
        lambda: fa.anthropic_error(404, "not_found_error", "model: x"),
        "does not know the model",
        "",
    ),
    "429 retry-after": (
        lambda: fa.anthropic_error(429, "rate_limit_error", "slow", headers={"retry-after": "120"}),
        "Try again in 120 s",
        "",
    ),
    "500": (lambda: fa.anthropic_error(500, "api_error", "boom"), "server error", ""),
    "529 overloaded": (lambda: fa.anthropic_error(529, "overloaded_error", "Overloaded"), "overloaded", ""),
    "overloaded mid-stream": (lambda: fa.anthropic_error_event(PIECES, after=2), "overloaded", "alpha beta "),
    "dropped mid-stream": (lambda: fa.anthropic_dropped(PIECES, after=2), "dropped mid-reply", "alpha beta "),
    "malformed event": (lambda: fa.anthropic_malformed(PIECES, after=2), "malformed", "alpha beta "),
    "stall": (lambda: fa.anthropic_stalled(PIECES, after=1), "sent nothing for", "alpha "),
}


@pytest.fixture
def quick_services(services):
    services.chat.retry = RetryPolicy(attempts=1)  # each fault shows as it is; retries have their own tests
    return services


def _provider_with_short_stall(services, name: str) -> None:
    services.registry.stall_timeout = 1.0
    services.registry.invalidate(name)


@dataclass(frozen=True)
class Outcome:
    """What a person sees after a fault and one more message."""

    failed_reply_status: str
    error_says: str  # the expected words when the error contains them, else the whole error
    partial_text_kept: str
    next_reply_status: str
    user_messages: tuple[str, ...]


def expected(words: str, partial: str) -> Outcome:
    return Outcome("failed", words, partial, "complete", ("first question", "second question"))


async def _exercise(services, model: str, server, reply, words: str, good_reply) -> Outcome:
    """A fault on the first message, a normal reply to the second; what the conversation then shows."""
    conversation = await services.chat.start_conversation(model=model)
    server.push(reply, good_reply)
    failed = await (await services.chat.send(conversation.id, "first question")).wait()
    saved = services.store.message(failed.message_id)
    ok = await (await services.chat.send(conversation.id, "second question")).wait()
    users = tuple(m.content for m in services.store.messages(conversation.id) if m.role == "user")
    TALLY["faults"] += 1
    TALLY["lost"] += 2 - len(users)
    return Outcome(
        str(saved.status),
        words if words in (saved.error or "") else str(saved.error),
        saved.content,
        str(ok.status) if ok.text.startswith("fine") else f"{ok.status}: {ok.text!r}",
        users,
    )


@pytest.mark.parametrize("fault", list(OPENAI_FAULTS))
async def test_openai_faults(quick_services, monkeypatch, fault):
    server = fo.fake_openai_server()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
        quick_services.secrets.set("openai", "sk-fault-1")
        _provider_with_short_stall(quick_services, "openai")
        make, words, partial = OPENAI_FAULTS[fault]
        outcome = await _exercise(
            quick_services, "openai:gpt-4o-mini", server, make(), words, fo.openai_stream(["fine"])
        )
        assert outcome == expected(words, partial)
    finally:
        server.stop()


@pytest.mark.parametrize("fault", list(OPENAI_FAULTS))
async def test_openai_compatible_faults(quick_services, fault):
    server = fo.fake_openai_server()
    try:
        save_provider(quick_services.db, "localai", base_url=server.base_url + "/v1")
        _provider_with_short_stall(quick_services, "localai")
        make, words, partial = OPENAI_FAULTS[fault]
        outcome = await _exercise(
            quick_services, "localai:m", server, make(), words, fo.openai_stream(["fine"])
        )
        assert outcome == expected(words, partial)
    finally:
        server.stop()


@pytest.mark.parametrize("fault", list(ANTHROPIC_FAULTS))
async def test_anthropic_faults(quick_services, monkeypatch, fault):
    server = fa.fake_anthropic_server()
    try:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        quick_services.secrets.set("anthropic", "sk-ant-fault-1")
        _provider_with_short_stall(quick_services, "anthropic")
        make, words, partial = ANTHROPIC_FAULTS[fault]
        outcome = await _exercise(
            quick_services,
            "anthropic:claude-3-5-haiku-latest",
            server,
            make(),
            words,
            fa.anthropic_stream(["fine"]),
        )
        assert outcome == expected(words, partial)
    finally:
        server.stop()


@pytest.mark.parametrize("model", ["openai:gpt-4o-mini", "anthropic:claude-x", "refused:m"])
async def test_connection_refused(quick_services, monkeypatch, model):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    quick_services.secrets.set("openai", "sk-refused-1")
    quick_services.secrets.set("anthropic", "sk-ant-refused-1")
    save_provider(quick_services.db, "refused", base_url="http://127.0.0.1:9/v1")
    conversation = await quick_services.chat.start_conversation(model=model)
    failed = await (await quick_services.chat.send(conversation.id, "hello?")).wait()
    assert failed.status == MessageStatus.FAILED and "Could not reach" in failed.error
    TALLY["faults"] += 1

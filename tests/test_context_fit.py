"""A conversation longer than the model's context (issue 16, item 9): the oldest turns are dropped or
summarised to fit, per the conversation's choice (default in Settings), counted with the model's own
tokenizer where it has one (a local GGUF's model process) and estimated, and said so, elsewhere."""

from __future__ import annotations

import pytest

from dataelan_desktop.core.chat.context import Overflow
from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.core.providers.types import GenerationParams
from tests.support.fake_openai import openai_stream

PARAMS = GenerationParams(max_tokens=8, temperature=0.0)

# the tiny model's tokenizer holds byte tokens: about one token per character, in a context of 512
TURNS = [
    ("user", "Tell me about the harbour town where the lighthouse keeper lived for forty years."),
    ("assistant", "The harbour town sat below chalk cliffs; its lighthouse keeper logged every ship."),
    ("user", "What did the keeper write in the logbook on the night of the great storm of 1901?"),
    ("assistant", "He wrote that three schooners sheltered in the bay and that the lamp never went dark."),
    ("user", "And who inherited the logbook after the keeper died, according to the town records?"),
    ("assistant", "His niece, a schoolteacher, who later gave it to the museum by the old fish market."),
]


def long_conversation(services, model: str, **settings) -> str:
    conversation_id = services.store.create_filled_conversation(
        [dict(role=role, content=text) for role, text in TURNS], title="The lighthouse", model=model
    )
    for key, value in settings.items():
        services.store.set_conversation_setting(conversation_id, key, value)
    return conversation_id


@pytest.fixture
async def local(services, tiny_gguf):
    yield f"local:{tiny_gguf}"
    await services.registry.aclose()


async def test_the_meter_estimates_until_the_model_is_loaded(services, local):
    conversation_id = long_conversation(services, local)
    usage = await services.chat.context_usage(conversation_id, local, PARAMS)
    # the model's context (from its file), and a count estimated from the text: said so
    assert usage.limit == 512 and usage.estimated and usage.used > 100
    assert usage.describe().startswith("Context: ~") and "estimated" in usage.describe()


async def test_dropping_the_oldest_turns_lets_the_reply_come(services, local):
    conversation_id = long_conversation(services, local)
    question = "So where is the logbook now? " + "Please answer in detail. " * 3
    generation = await services.chat.send(conversation_id, question, params=PARAMS)
    await generation.wait()
    assert generation.status == "complete", generation.error
    fitted = generation.context
    assert fitted is not None and fitted.left_out >= 2 and not fitted.summarised
    assert not fitted.estimated and fitted.limit == 512 and fitted.used <= 512
    assert "left out to fit" in fitted.describe()
    # nothing was deleted: the conversation keeps every message
    assert [m.content for m in services.store.visible_messages(conversation_id)][:6] == [t for _, t in TURNS]

    # the meter now counts with the loaded model's tokenizer, over the whole branch
    usage = await services.chat.context_usage(conversation_id, local, PARAMS)
    assert not usage.estimated and usage.limit == 512 and usage.over
    assert "will be left out when you send" in usage.describe()


async def test_summarising_the_oldest_turns_keeps_a_summary_for_the_next_turns(services, local):
    conversation_id = long_conversation(services, local, context_overflow="summarise")
    question = "So where is the logbook now? " + "Please answer in detail. " * 3
    generation = await services.chat.send(conversation_id, question, params=PARAMS)
    await generation.wait()
    assert generation.status == "complete", generation.error
    assert generation.context.summarised and generation.context.left_out >= 2
    kept = services.store.conversation(conversation_id).settings["context_summary"]
    assert kept["text"] and kept["through"] in {m.id for m in services.store.messages(conversation_id)}
    assert "summarised to fit" in generation.context.describe()


async def test_the_default_applies_where_the_conversation_did_not_choose(services, local):
    services.chat.default_overflow = Overflow.SUMMARISE
    conversation_id = long_conversation(services, local)
    generation = await services.chat.send(conversation_id, "Where is it now? " * 6, params=PARAMS)
    await generation.wait()
    assert generation.status == "complete", generation.error
    assert generation.context.summarised


async def test_a_provider_without_a_tokenizer_is_estimated_and_says_so(services, server):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    conversation_id = long_conversation(services, "fakeai:m")
    usage = await services.chat.context_usage(conversation_id, "fakeai:m")
    assert usage.estimated and usage.limit is None and usage.used > 0
    assert usage.describe().startswith("Context: ~") and "not known" in usage.describe()
    server.push(openai_stream(["fine"]))
    generation = await services.chat.send(conversation_id, "Still there?")
    await generation.wait()
    assert generation.status == "complete" and generation.context.left_out == 0


async def test_a_provider_without_its_key_yet_is_estimated_not_an_error(services):
    conversation_id = long_conversation(services, "openai:gpt-4o-mini")
    usage = await services.chat.context_usage(conversation_id)
    assert usage.estimated and usage.limit is None and usage.used > 0

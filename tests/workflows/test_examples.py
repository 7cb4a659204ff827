"""Every shipped example runs: against a cloud model (the loopback OpenAI-compatible server) and, for
the draft → critique → revise chain, against a local GGUF model."""

from __future__ import annotations

import json

import pytest

from dataelan_desktop.core.gguf.library import ModelLibrary
from dataelan_desktop.core.workflows.engine import WorkflowEngine
from tests.support.fake_openai import openai_stream
from tests.workflows.conftest import prompt_of

EXTRACTED = {"title": "Launch", "people": ["Ann", "Bo"], "dates": ["2026-12-01"]}


def cloud(request):
    prompt = prompt_of(request)
    if prompt.startswith("Extract the title"):
        return openai_stream([json.dumps(EXTRACTED)])
    return openai_stream([f"[{request.body['model']}] {prompt[:40]}"])


@pytest.fixture
def examples(store):
    return {w.name: w for w in store.list() if w.builtin}


async def run(engine, workflow, inputs):
    result = await engine.start(workflow.yaml, inputs, workflow_id=workflow.id, version=workflow.version)
    assert result.status == "complete", result.error
    return result


async def test_every_example_runs_on_a_cloud_model(fake, store, make_engine, examples, tmp_path):
    fake.default = cloud

    async def approve(request):
        return request.draft

    engine = make_engine(ask=approve)
    model = "fake:gpt"
    draft = await run(engine, examples["Draft, critique, revise"], {"topic": "owls", "model": model})
    assert draft.outputs["result"].startswith("[gpt] Revise the draft")

    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(f"notes in {name}")
    summary = await run(engine, examples["Summarise a folder"], {"folder": str(folder), "model": model})
    assert summary.outputs["result"].count("[gpt] Summarise the file") == 3

    translated = await run(
        engine, examples["Translate with a human check"], {"text": "Good morning", "model": model}
    )
    assert translated.outputs["result"].startswith("[gpt] Translate into French")

    extracted = await run(
        engine, examples["Extract JSON"], {"text": "Ann and Bo launch on 1 Dec", "model": model}
    )
    assert json.loads(extracted.outputs["result"]) == EXTRACTED
    assert extracted.outputs["people"].startswith("People: ")

    several = await run(engine, examples["Ask several models and fuse"],
                        {"question": "Why?", "models": "fake:one\nfake:two", "model": model})  # fmt: skip
    fuse_prompt = prompt_of(fake.posts()[-1])
    assert (
        "### Answer 1 (fake:one)\n[one] Why?" in fuse_prompt
        and "### Answer 2 (fake:two)\n[two] Why?" in fuse_prompt
    )
    assert several.outputs["result"].startswith("[gpt] Question: Why?")

    fused = await run(engine, examples["Fuse answers"],
                      {"question": "Why?", "answers": json.dumps(["Because.", "Since."]), "model": model})  # fmt: skip
    assert fused.outputs["result"].startswith("[gpt] Question: Why?")


async def test_the_chain_example_runs_on_a_local_gguf(services, store, tiny_gguf, examples):
    ModelLibrary(services.db, services.bus).add(tiny_gguf, name="tiny", copy=False)
    engine = WorkflowEngine(store, services.registry)
    workflow = examples["Draft, critique, revise"]
    short = (
        workflow.yaml.replace("temperature: 0.8", "temperature: 0.8\n    max_tokens: 8")
        .replace("temperature: 0.3", "temperature: 0.3\n    max_tokens: 8")
        .replace("retry: {max: 1, backoff_ms: 1000}", "max_tokens: 8")
    )  # a random tiny model: a few tokens each
    result = await engine.start(short, {"topic": "owls", "model": "local:tiny"})
    await services.registry.aclose()
    assert result.status == "complete", result.error
    latest = store.detail(result.run_id).latest()
    assert all(latest[(s, None)].model == "local:tiny" for s in ("draft", "critique", "revise"))
    assert all(latest[(s, None)].output_tokens for s in ("draft", "critique", "revise"))

"""Every shipped example runs: against a cloud model (the loopback OpenAI-compatible server) and against
a local GGUF model (the tiny random-weights model the tests write, through the real llama.cpp path)."""

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


@pytest.fixture(scope="module")
def roomy_gguf(tmp_path_factory):
    """The tiny model with room for the examples' prompts (its byte tokens make prompts long)."""
    from tests.support.tiny_gguf import write_tiny_llama

    return write_tiny_llama(tmp_path_factory.mktemp("examples") / "tiny-4k.gguf", n_ctx=4096)


def _short(yaml_text: str, keep: str | None = None) -> str:
    """The example with every llm step held to a few tokens (random weights ramble until the context
    is full), but ``keep``, left as shipped."""
    import yaml

    data = yaml.safe_load(yaml_text)
    for step in data["steps"]:
        for s in [step, *step.get("steps", [])]:
            if s["kind"] == "llm" and s["id"] != keep:
                s["max_tokens"] = 6
                s.pop("retry", None)
            if s.get("output_schema"):  # random weights rarely choose to end a string: bound them
                for prop in s["output_schema"]["properties"].values():
                    bounded = prop["items"] if prop["type"] == "array" else prop
                    bounded["pattern"] = "^[A-Za-z ]{1,20}$"
                    if prop["type"] == "array":
                        prop["maxItems"] = 3
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


async def test_every_example_runs_on_a_local_gguf(services, store, roomy_gguf, examples, tmp_path):
    ModelLibrary(services.db, services.bus).add(roomy_gguf, name="tiny", copy=False)

    async def approve(request):
        return request.draft

    engine = WorkflowEngine(store, services.registry, ask=approve)
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(f"notes in {name}")
    inputs = {
        "Draft, critique, revise": {"topic": "owls"},
        "Summarise a folder": {"folder": str(folder)},
        "Translate with a human check": {"text": "Good morning"},
        "Extract JSON": {"text": "Ann and Bo launch on 1 Dec"},
        "Ask several models and fuse": {"question": "Why?", "models": "local:tiny\nlocal:tiny"},
        "Fuse answers": {"question": "Why?", "answers": json.dumps(["Because.", "Since."])},
    }
    try:
        for name, values in inputs.items():
            workflow = examples[name]
            text = _short(workflow.yaml, keep="extract")  # the extraction runs whole, held by its schema
            result = await engine.start(text, {**values, "model": "local:tiny"})
            assert result.status == "complete", f"{name}: {result.error}"
            llm = [s for s in store.detail(result.run_id).steps if s.kind == "llm"]
            assert llm and all(s.model == "local:tiny" and s.status == "complete" for s in llm), name
    finally:
        await services.registry.aclose()
    # random weights, and yet the reply is JSON of the schema: a grammar held the model to it, first try
    (extract,) = [s for s in store.detail(result_of(store, "Extract JSON")).steps if s.step_id == "extract"]
    data = json.loads(extract.output, strict=False)
    assert set(data) == {"title", "people", "dates"} and isinstance(data["people"], list)


def result_of(store, name: str) -> str:
    return next(r.id for r in store.runs() if r.workflow_name == name)

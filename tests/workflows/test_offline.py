"""A workflow runs fully offline on a local GGUF model: not one connection beyond this machine."""

from __future__ import annotations

from dataelan_desktop.core.gguf.library import ModelLibrary
from dataelan_desktop.core.workflows import open_store
from dataelan_desktop.core.workflows.engine import WorkflowEngine
from tests.test_offline import no_network  # noqa: F401 - the fixture that blocks every non-loopback connect

LOCAL = """\
name: Local chain
model: local:tiny
inputs:
  topic: {type: string}
steps:
  - {id: ask, kind: template, text: "Say something about {{inputs.topic}}."}
  - {id: first, kind: llm, prompt: "{{ask}}", max_tokens: 8, temperature: 0}
  - id: each
    kind: map
    over: '["a", "b"]'
    max_parallel: 2
    steps:
      - {id: said, kind: llm, prompt: "Repeat {{item}}", max_tokens: 4}
  - {id: out, kind: output, value: "{{first}}|{{each.json[0]}}"}
"""


async def test_a_workflow_on_a_local_gguf_with_the_network_blocked(services, tiny_gguf, no_network):  # noqa: F811
    ModelLibrary(services.db, services.bus).add(tiny_gguf, name="tiny", copy=False)
    store = open_store(services)
    saved = store.save(LOCAL)  # the model check finds the local model by name
    result = await WorkflowEngine(store, services.registry).start(saved.yaml, {"topic": "owls"})
    await services.registry.aclose()
    assert result.status == "complete", result.error
    latest = store.detail(result.run_id).latest()
    assert latest[("first", None)].output and latest[("first", None)].model == "local:tiny"
    assert latest[("first", None)].output_tokens and latest[("first", None)].cost == 0.0
    assert latest[("said", 0)].status == latest[("said", 1)].status == "complete"
    assert no_network == []  # not one attempt to reach beyond this machine


def test_an_unknown_local_model_is_refused_at_save_time(services):
    import pytest

    from dataelan_desktop.core.workflows.definition import WorkflowError

    with pytest.raises(WorkflowError, match="no local model named 'tiny'"):
        open_store(services).save(LOCAL)

"""Bad workflow documents are refused with one clear message each, naming the step and the line;
nothing is saved."""

from __future__ import annotations

import pytest

from dataelan_desktop.core.workflows import open_store
from dataelan_desktop.core.workflows.definition import WorkflowError
from dataelan_desktop.core.workflows.load import load

GOOD = """\
name: Good
model: openai:gpt-4o-mini
inputs:
  topic: {type: string}
steps:
  - id: draft
    kind: llm
    prompt: "Write about {{inputs.topic}}"
  - id: result
    kind: output
    value: "{{draft.text}}"
"""


def refused(text: str, **kw) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        load(text, **kw)
    return caught.value


def test_a_good_document_loads_with_its_lines():
    workflow = load(GOOD)
    assert [s.id for s in workflow.steps] == ["draft", "result"]
    assert workflow.step("draft").line == 6 and workflow.step("result").line == 9
    assert workflow.inputs[0].name == "topic" and workflow.inputs[0].required


def test_malformed_yaml_names_the_line():
    error = refused("name: x\nsteps:\n  - id: a\n    prompt: [unclosed\n")
    assert str(error).startswith("Line 5: the YAML is malformed") or str(error).startswith("Line 4")
    assert "\n" not in str(error)


def test_a_schema_violation_names_the_step_and_the_line():
    text = GOOD.replace(
        '    prompt: "Write about {{inputs.topic}}"\n', '    promt: "Write about {{inputs.topic}}"\n'
    )
    error = refused(text)
    assert str(error).startswith("Line 6, step 'draft': ")
    assert "promt" in str(error) or "prompt" in str(error)
    assert error.step == "draft"


def test_a_wrong_type_names_the_field():
    error = refused(GOOD.replace("    kind: llm\n", "    kind: llm\n    temperature: hot\n"))
    assert str(error).startswith("Line 8, step 'draft': temperature:")


def test_an_unknown_kind_lists_the_kinds():
    error = refused(GOOD.replace("kind: llm", "kind: llmm"))
    assert "step 'draft'" in str(error) and "llm, template, condition" in str(error)


def test_a_tool_step_needs_its_tool():
    error = refused(GOOD.replace("kind: llm", "kind: tool"))
    assert str(error).startswith("Line 6, step 'draft': ")  # prompt is not a tool step's field
    text = GOOD.replace(
        '    kind: llm\n    prompt: "Write about {{inputs.topic}}"\n',
        "    kind: tool\n    arguments: {x: 1}\n",
    )
    assert "'tool' is a required property" in str(refused(text))


def test_a_cycle_is_one_message():
    text = """\
name: Loop
model: openai:gpt-4o-mini
steps:
  - id: a
    kind: template
    text: "{{b.text}}"
  - id: b
    kind: template
    text: "{{a.text}}"
  - id: out
    kind: output
    value: "{{b}}"
"""
    error = refused(text)
    assert "a → b → a" in str(error) and "cycle" in str(error)


def test_after_can_make_a_cycle_too():
    text = GOOD.replace("    kind: llm\n", "    kind: llm\n    after: [result]\n")
    assert "cycle" in str(refused(text))


def test_an_unknown_reference():
    error = refused(GOOD.replace("{{draft.text}}", "{{drat.text}}"))
    assert str(error) == "Line 9, step 'result': refers to 'drat', which is not a step of this workflow"


def test_a_missing_input():
    error = refused(GOOD.replace("{{inputs.topic}}", "{{inputs.subject}}"))
    assert "Line 6, step 'draft'" in str(error)
    assert "input 'subject', which is not declared" in str(error) and "declared: topic" in str(error)


def test_an_unknown_model_is_refused_by_the_checker():
    error = refused(
        GOOD.replace("openai:gpt-4o-mini", "nosuch:model"), check_model=lambda ref: f"unknown model '{ref}'"
    )
    assert str(error) == "Line 6, step 'draft': unknown model 'nosuch:model'"


def test_an_llm_step_without_any_model():
    error = refused(GOOD.replace("model: openai:gpt-4o-mini\n", ""))
    assert "has no model" in str(error)


def test_a_workflow_needs_an_output():
    text = GOOD[: GOOD.index("  - id: result")]
    assert "no output step" in str(refused(text))


def test_item_only_inside_a_map():
    error = refused(GOOD.replace("{{inputs.topic}}", "{{item}}"))
    assert "'item' exists only inside a map" in str(error)


def test_a_bad_condition_is_refused_at_save_time():
    text = GOOD.replace(
        "  - id: result\n",
        "  - id: route\n    kind: condition\n    if: 'len(draft.text >'\n    then: long\n  - id: result\n",
    )
    error = refused(text)
    assert "step 'route'" in str(error) and "cannot be read" in str(error)


def test_duplicate_ids():
    text = GOOD.replace("  - id: result\n    kind: output", "  - id: draft\n    kind: output")
    assert "used by two steps (also line 6)" in str(refused(text))


async def test_the_store_saves_nothing_when_a_check_fails(services):
    store = open_store(services)
    before = [w.name for w in store.list()]
    with pytest.raises(WorkflowError, match="unknown model 'nosuch:m'"):
        store.save(GOOD.replace("openai:gpt-4o-mini", "nosuch:m"))
    with pytest.raises(WorkflowError):
        store.save("name: [")
    assert [w.name for w in store.list()] == before
    saved = store.save(GOOD)
    assert saved.version == 1 and store.get("good").yaml == GOOD
    again = store.save(GOOD.replace("Write about", "Write a poem about"), saved.id)
    assert again.version == 2 and again.id == saved.id
    with pytest.raises(WorkflowError, match="already exists"):
        store.save(GOOD)


def test_shipped_examples_are_seeded_and_stay_deleted(services):
    store = open_store(services)
    names = [w.name for w in store.list()]
    assert {
        "Draft, critique, revise",
        "Summarise a folder",
        "Translate with a human check",
        "Extract JSON",
        "Ask several models and fuse",
        "Fuse answers",
    } <= set(names)
    store.delete("Extract JSON")
    fresh = open_store(services)
    assert "Extract JSON" not in [w.name for w in fresh.list()]

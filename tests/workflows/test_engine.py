"""The engine against a loopback OpenAI-compatible server: every step kind, concurrency, retries and
on_error, schema retries, cancel and resume, a person's answer across a restart, re-run from a step."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from dataelan_desktop.core.services import build_services
from dataelan_desktop.core.workflows import open_store
from dataelan_desktop.core.workflows.definition import WorkflowError
from dataelan_desktop.core.workflows.engine import WorkflowEngine
from tests.support.fake_openai import openai_error, openai_stream
from tests.workflows.conftest import prompt_of

EVERY_KIND = """\
name: Every kind
model: fake:m
inputs:
  topic: {type: string}
  lines: {type: list}
steps:
  - id: intro
    kind: template
    text: "Topic is {{inputs.topic}}"
  - id: draft
    kind: llm
    system: Be brief.
    prompt: "{{intro.text}}"
    temperature: 0.1
  - id: route
    kind: condition
    if: 'len(draft.text) > 1000'
    then: long
    elif:
      - if: 'draft contains "roofs"'
        then: roofy
    else: other
  - id: only_long
    kind: template
    when: 'route == "long"'
    text: never
  - id: each
    kind: map
    over: "{{inputs.lines}}"
    max_parallel: 2
    steps:
      - id: upper
        kind: template
        text: "item {{item.number}}={{item}}"
      - id: said
        kind: llm
        prompt: "{{upper.text}}"
  - id: check
    kind: human
    prompt: "Approve {{draft.text}}?"
    draft: "{{draft.text}}"
  - id: result
    kind: output
    value: "{{check.text}} | {{route.text}} | {{each.json[1]}} | [{{only_long.text}}]"
"""


async def test_every_step_kind_runs_and_is_recorded(fake, store, make_engine):
    asked = []

    async def ask(request):
        asked.append(request)
        return request.draft + " (approved)"

    events = []
    engine = make_engine(ask=ask, on_event=events.append)
    result = await engine.start(EVERY_KIND, {"topic": "roofs", "lines": "a\nb\n\nc"})

    assert result.status == "complete", result.error
    assert result.outputs == {"result": "<Topic is roofs> (approved) | roofy | <item 2=b> | []"}
    assert asked[0].prompt == "Approve <Topic is roofs>?" and asked[0].draft == "<Topic is roofs>"
    detail = store.detail(result.run_id)
    latest = detail.latest()
    assert latest[("draft", None)].status == "complete"
    assert latest[("draft", None)].input == "[system]\nBe brief.\n\n[user]\nTopic is roofs"
    assert latest[("draft", None)].model == "fake:m" and latest[("draft", None)].output_tokens == 1
    assert latest[("draft", None)].input_tokens == 7 and latest[("draft", None)].ttft_ms is not None
    assert latest[("only_long", None)].status == "skipped"
    assert [latest[("said", i)].output for i in range(3)] == ["<item 1=a>", "<item 2=b>", "<item 3=c>"]
    assert latest[("each", None)].output_data == ["<item 1=a>", "<item 2=b>", "<item 3=c>"]
    assert latest[("check", None)].output == "<Topic is roofs> (approved)"
    sent = {prompt_of(r): r.body for r in fake.posts()}
    assert len(sent) == 4 and sent["Topic is roofs"]["temperature"] == 0.1
    assert sent["Topic is roofs"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert any(e.kind == "text" and e.step_id == "draft" for e in events)  # llm steps stream
    assert events[-1].kind == "run" and events[-1].status == "complete"
    assert store.run(result.run_id).outputs == result.outputs


PARALLEL = """\
name: Parallel
model: fake:m
steps:
  - {id: a, kind: llm, prompt: "A"}
  - {id: b, kind: llm, prompt: "B"}
  - {id: c, kind: llm, prompt: "C"}
  - {id: both, kind: template, text: "{{a}}{{b}}{{c}}"}
  - {id: out, kind: output, value: "{{both}}"}
"""


async def test_independent_steps_run_at_once(fake, make_engine):
    arrived: dict[str, float] = {}

    def reply(request):
        arrived[prompt_of(request)] = time.monotonic()
        return openai_stream([prompt_of(request)], first_delay=0.6)

    fake.default = reply
    result = await make_engine().start(PARALLEL, {})
    assert result.outputs == {"out": "ABC"}
    spread = max(arrived.values()) - min(arrived.values())
    assert sorted(arrived) == ["A", "B", "C"]
    assert spread < 0.5, f"the requests came {spread:.2f} s apart: each waited for another's 0.6 s reply"


RETRY = """\
name: Retry
model: fake:m
steps:
  - id: flaky
    kind: llm
    prompt: "go"
    retry: {max: 2, backoff_ms: 10}
  - id: broken
    kind: llm
    prompt: "broken"
    on_error: {default: "fallback text"}
  - id: ignored
    kind: llm
    prompt: "ignored"
    on_error: continue
  - id: out
    kind: output
    value: "{{flaky}}/{{broken}}/{{ignored}}/"
"""


async def test_retry_then_on_error_default_and_continue(fake, store, make_engine):
    calls = {"go": 0}

    def reply(request):
        prompt = prompt_of(request)
        if prompt == "go":
            calls["go"] += 1
            return openai_error(500, "overloaded") if calls["go"] < 3 else openai_stream(["fine"])
        return openai_error(400, f"{prompt} is refused")

    fake.default = reply
    result = await make_engine().start(RETRY, {})
    assert result.status == "complete"
    assert result.outputs == {"out": "fine/fallback text//"}
    steps = store.detail(result.run_id).steps
    flaky = [(s.attempt, s.status) for s in steps if s.step_id == "flaky"]
    assert flaky == [(1, "failed"), (2, "failed"), (3, "complete")]
    broken = [s for s in steps if s.step_id == "broken"]
    assert len(broken) == 1 and broken[0].status == "recovered" and "broken is refused" in broken[0].error


async def test_a_failing_step_fails_the_run_and_blocks_what_uses_it(fake, store, make_engine):
    fake.default = lambda r: (
        openai_error(400, "no such model") if prompt_of(r) == "A" else openai_stream(["ok"])
    )
    result = await make_engine().start(PARALLEL, {})
    assert result.status == "failed"
    assert result.error.startswith("Step 'a': ") and "no such model" in result.error
    latest = store.detail(result.run_id).latest()
    assert latest[("b", None)].status == "complete"  # the independent step finished anyway
    assert ("both", None) not in latest  # never started: it needs a
    assert store.run(result.run_id).status == "failed"


SCHEMA = """\
name: Schema
model: fake:m
steps:
  - id: extract
    kind: llm
    prompt: "extract"
    retry: {max: 2}
    output_schema:
      type: object
      required: [title]
      properties: {title: {type: string}}
  - id: title
    kind: output
    value: "{{extract.json.title}}"
"""


async def test_output_schema_is_retried_until_it_holds(fake, store, make_engine):
    fake.push(
        openai_stream(["not json at all"]),
        openai_stream(['{"name": "x"}']),
        openai_stream(['```json\n{"title": "T"}\n```']),
    )
    result = await make_engine().start(SCHEMA, {})
    assert result.status == "complete" and result.outputs == {"title": "T"}
    attempts = [s for s in store.detail(result.run_id).steps if s.step_id == "extract"]
    assert [a.status for a in attempts] == ["failed", "failed", "complete"]
    assert "not JSON" in attempts[0].error and "'title' is a required property" in attempts[1].error
    assert "JSON Schema" in fake.posts()[0].body["messages"][0]["content"]  # the schema was asked for


async def test_output_schema_failing_every_try_fails_with_the_validation_error(fake, make_engine):
    fake.default = openai_stream(['{"title": 3}'])
    result = await make_engine().start(SCHEMA, {})
    assert result.status == "failed"
    assert "does not match the output schema at title: 3 is not of type 'string'" in result.error
    assert len(fake.posts()) == 3


async def test_a_missing_input_is_refused_before_anything_is_recorded(fake, store, make_engine):
    with pytest.raises(WorkflowError, match="Missing a value for the input topic"):
        await make_engine().start(EVERY_KIND, {"lines": "a"})
    with pytest.raises(WorkflowError, match="has no input colour"):
        await make_engine().start(EVERY_KIND, {"topic": "x", "lines": "a", "colour": "red"})
    assert store.runs() == [] and fake.posts() == []


CHAIN = """\
name: Chain
model: fake:m
inputs:
  topic: {type: string}
steps:
  - {id: one, kind: llm, prompt: "one {{inputs.topic}}"}
  - {id: two, kind: llm, prompt: "two {{one}}"}
  - {id: three, kind: llm, prompt: "three {{two}}"}
  - {id: out, kind: output, value: "{{three}}"}
"""


async def test_cancel_then_resume_runs_only_what_had_not_finished(fake, store, make_engine):
    def reply(request):
        if prompt_of(request).startswith("two"):
            return openai_stream([f"w{i} " for i in range(200)], delay=0.02)
        return echo_quick(request)

    fake.default = reply
    events = []
    engine = make_engine(on_event=events.append)
    task = engine.begin(CHAIN, {"topic": "t"})
    while not any(e.kind == "text" and e.step_id == "two" for e in events):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run_id = events[0].run_id
    run = store.run(run_id)
    assert run.status == "cancelled" and run.resumable
    latest = store.detail(run_id).latest()
    assert latest[("one", None)].status == "complete" and latest[("two", None)].status == "cancelled"

    fake.default = echo_quick
    before = len(fake.posts())
    result = await make_engine().resume(run_id)
    assert result.status == "complete" and result.run_id == run_id
    assert result.outputs == {"out": "<three <two <one t>>>"}
    resent = [prompt_of(r) for r in fake.posts()[before:]]
    assert resent == ["two <one t>", "three <two <one t>>"]  # "one" was not asked again


def echo_quick(request):
    return openai_stream([f"<{prompt_of(request)}>"])


HUMAN = """\
name: Human
model: fake:m
steps:
  - {id: draft, kind: llm, prompt: "draft"}
  - {id: check, kind: human, prompt: "Is this right?", draft: "{{draft}}"}
  - {id: out, kind: output, value: "{{check}}"}
"""


async def test_a_human_step_waits_across_a_restart(fake, services, data_home):
    first = WorkflowEngine(open_store(services), services.registry)  # nobody to ask: the run waits
    result = await first.start(HUMAN, {})
    assert result.status == "waiting" and "check" in result.error
    await services.registry.aclose()

    again = build_services()  # the app started again on the same database
    try:
        store = open_store(again)
        assert store.run(result.run_id).status == "waiting"
        asked = []

        async def ask(request):
            asked.append(request)
            return "yes, ship it"

        resumed = await WorkflowEngine(store, again.registry, ask=ask).resume(result.run_id)
        await again.registry.aclose()
        assert resumed.status == "complete" and resumed.outputs == {"out": "yes, ship it"}
        assert asked[0].prompt == "Is this right?" and asked[0].draft == "<draft>"
        assert len(fake.posts()) == 1  # the draft was not written twice
        human = [s for s in store.detail(result.run_id).steps if s.step_id == "check"]
        assert len(human) == 1 and human[0].status == "complete" and human[0].output == "yes, ship it"
    finally:
        again.close()


async def test_rerun_from_a_step_with_edited_inputs(fake, store, make_engine):
    first = await make_engine().start(CHAIN, {"topic": "cats"})
    assert first.outputs == {"out": "<three <two <one cats>>>"}
    before = len(fake.posts())
    second = await make_engine().rerun_from(first.run_id, "two", {"topic": "dogs"})
    assert second.run_id != first.run_id and second.status == "complete"
    assert second.outputs == {"out": "<three <two <one cats>>>"}  # "one" reused: the edit lands below it
    assert [prompt_of(r) for r in fake.posts()[before:]] == ["two <one cats>", "three <two <one cats>>"]
    assert [r.id for r in store.runs("chain")] == [second.run_id, first.run_id]  # by name, as typed
    run = store.run(second.run_id)
    assert run.parent_run_id == first.run_id and run.from_step == "two" and run.inputs == {"topic": "dogs"}
    reused = {s.step_id: s.reused for s in store.detail(second.run_id).steps}
    assert reused == {"one": True, "two": False, "three": False, "out": False}

    third = await make_engine().rerun_from(first.run_id, "one", {"topic": "dogs"})
    assert third.outputs == {"out": "<three <two <one dogs>>>"}


async def test_a_run_whose_process_died_is_found_interrupted(services, store):
    from dataelan_desktop.core.workflows.load import load

    run_id = store.create_run(load(CHAIN), CHAIN, {"topic": "x"}, "this-host-is-gone:1")
    record = store.begin_step(run_id, "one", "llm")
    import socket

    dead = f"{socket.gethostname()}:999999"
    run_id2 = store.create_run(load(CHAIN), CHAIN, {"topic": "x"}, dead)
    store.begin_step(run_id2, "one", "llm")
    assert record
    runs = {r.id: r.status for r in store.runs()}
    assert runs[run_id] == "running"  # another machine's run: not ours to judge
    assert runs[run_id2] == "interrupted"
    assert [s.status for s in store.detail(run_id2).steps] == ["interrupted"]


TOOLS = """\
name: Tools
inputs:
  a: {type: number}
  folder: {type: folder}
steps:
  - id: sum
    kind: tool
    tool: calculator
    arguments: {expression: "{{inputs.a}} * 6"}
  - id: listing
    kind: tool
    tool: read_file
    tools: ["files:{{inputs.folder}}"]
    arguments: {path: "{{inputs.folder}}/note.txt"}
  - id: broken
    kind: tool
    tool: calculator
    arguments: {expression: "1 / 0"}
    on_error: {default: "n/a"}
  - id: out
    kind: output
    value: "{{sum}}|{{listing}}|{{broken}}"
"""


async def test_tool_steps_call_the_agents_tools(services, store, tmp_path):
    from dataelan_desktop.core.workflows.tools import tool_caller

    (tmp_path / "note.txt").write_text("hello from a file")
    engine = WorkflowEngine(store, services.registry, tools=tool_caller(services))
    result = await engine.start(TOOLS, {"a": "7", "folder": str(tmp_path)})
    assert result.status == "complete", result.error
    assert result.outputs == {"out": "42|hello from a file|n/a"}
    latest = store.detail(result.run_id).latest()
    assert json.loads(latest[("sum", None)].input) == {
        "tool": "calculator",
        "arguments": {"expression": "7 * 6"},
    }
    assert latest[("broken", None)].status == "recovered" and latest[("broken", None)].error


async def test_a_tool_that_is_not_granted_is_said(services, store, tmp_path):
    from dataelan_desktop.core.workflows.tools import tool_caller

    text = """\
name: Ungranted
steps:
  - {id: read, kind: tool, tool: read_file, arguments: {path: /etc/hostname}}
  - {id: out, kind: output, value: "{{read}}"}
"""
    result = await WorkflowEngine(store, services.registry, tools=tool_caller(services)).start(text, {})
    assert result.status == "failed"
    assert result.error.startswith("Step 'read': no tool 'read_file' is available")


LIBRARY = """\
name: Library
inputs:
  topic: {type: string}
steps:
  - id: ask
    kind: template
    template: Explain to a child
    values: {subject: "{{inputs.topic}}"}
  - id: out
    kind: output
    value: "{{ask}}"
"""


async def test_a_template_step_can_name_a_library_template(services, store, make_engine):
    services.templates.create("Explain to a child", "Explain {{subject}} to a {{age|six}}-year-old.")
    result = await make_engine().start(LIBRARY, {"topic": "tides"})
    assert result.status == "complete", result.error
    assert result.outputs == {"out": "Explain tides to a six-year-old."}

    # a template that is not in the library is refused when saved or started, as an unknown model is
    missing = LIBRARY.replace("Explain to a child", "Explain to a chlid")
    with pytest.raises(
        WorkflowError, match="step 'ask'.*No template named 'Explain to a chlid'.*Did you mean"
    ):
        store.check(missing)
    runs_before = store.runs()
    with pytest.raises(WorkflowError, match="does not exist"):
        await make_engine().start(missing, {"topic": "x"})
    assert store.runs() == runs_before  # nothing recorded for the refused start
    # once the template is deleted, a saved workflow naming it is refused at its next start
    services.templates.delete(services.templates.get("Explain to a child").id)
    with pytest.raises(WorkflowError, match="does not exist"):
        await make_engine().start(LIBRARY, {"topic": "tides"})


WIDE_MAP = """\
name: Wide map
model: fake:m
steps:
  - id: each
    kind: map
    over: '["a", "b", "c", "d", "e", "f"]'
    split: json
    max_parallel: 2
    steps:
      - {id: said, kind: llm, prompt: "say {{item}}"}
  - {id: out, kind: output, value: "{{each.json[5]}}"}
"""


async def test_a_map_runs_at_most_max_parallel_items_at_once(fake, store, make_engine):
    arrived: list[float] = []

    def reply(request):
        arrived.append(time.monotonic())
        return openai_stream([prompt_of(request)], first_delay=0.4)

    fake.default = reply
    result = await make_engine().start(WIDE_MAP, {})
    assert result.status == "complete" and result.outputs == {"out": "say f"}
    arrived.sort()
    assert len(arrived) == 6
    # two at a time: a third request waits for one of the first two to end (0.4 s later)
    waves = [arrived[i + 2] - arrived[i] for i in range(4)]
    assert min(waves) > 0.3, f"more than two items ran at once: {waves}"
    assert max(arrived[1] - arrived[0], arrived[3] - arrived[2]) < 0.3  # but two did run together


WHEN_UNDECIDED = """\
name: Undecided
inputs:
  n: {type: string}
  where: {type: string}
steps:
  - {id: gate, kind: template, when: 'inputs.n > 3', text: big, on_error: continue}
  - {id: strict, kind: template, when: 'inputs.n > 3', text: big}
  - id: each
    kind: map
    over: '["a", "b"]'
    steps:
      - {id: sub, kind: template, text: "{{item.nope}}", on_error: {default: fallback}}
  - id: files
    kind: map
    over: "{{inputs.where}}"
    split: files
    steps:
      - {id: read, kind: template, text: "{{item}}"}
  - {id: out, kind: output, value: "[{{gate}}] {{each.text}}"}
"""


async def test_a_step_that_fails_before_any_attempt_is_recorded_and_said(store, make_engine):
    events = []
    result = await make_engine(on_event=events.append).start(
        WHEN_UNDECIDED, {"n": "many", "where": "/no/such/folder"}
    )
    assert result.status == "failed"
    latest = store.detail(result.run_id).latest()
    # on_error continue: recorded recovered, with why
    assert (
        latest[("gate", None)].status == "recovered" and "cannot be decided" in latest[("gate", None)].error
    )
    # on_error fail: recorded failed, and the failure is said as it happens (the CLI's ✗, the graph's red)
    assert (
        latest[("strict", None)].status == "failed" and "cannot be decided" in latest[("strict", None)].error
    )
    assert latest[("files", None)].status == "failed" and "no folder" in latest[("files", None)].error
    failed = {e.step_id for e in events if e.kind == "finished" and e.status == "failed"}
    assert {"strict", "files"} <= failed
    # a map item's recovery is said for that item, not for a step of the run
    recovered = sorted(e.item_index for e in events if e.kind == "finished" and e.step_id == "sub"
                       and e.status == "recovered")  # fmt: skip
    assert recovered == [0, 1]
    assert result.error.startswith("Step 'strict': its when: cannot be decided")


def test_absurd_numbers_are_refused_as_inputs():
    from dataelan_desktop.core.workflows.inputs import resolve_inputs
    from dataelan_desktop.core.workflows.load import load

    text = """\
name: Numbers
inputs:
  count: {type: integer}
  share: {type: number}
steps:
  - {id: out, kind: output, value: "{{inputs.count}} {{inputs.share}}"}
"""
    workflow = load(text)
    for count, share, said in [
        ("inf", "1", "The input 'count' must be a finite number, not 'inf'."),
        ("nan", "1", "The input 'count' must be a finite number, not 'nan'."),
        ("2", "-inf", "The input 'share' must be a finite number, not '-inf'."),
        (10**400, "1", "The input 'count' must be a finite number"),
    ]:
        with pytest.raises(WorkflowError) as caught:
            resolve_inputs(workflow, {"count": count, "share": share})
        assert str(caught.value).startswith(said)
    assert resolve_inputs(workflow, {"count": "3", "share": "0.5"}) == {"count": 3, "share": 0.5}


async def test_a_json_reply_with_a_raw_line_break_in_a_string_is_read(fake, make_engine):
    fake.default = openai_stream(['{"title": "Line one\nline two"}'])  # a common slip of small models
    result = await make_engine().start(SCHEMA, {})
    assert result.status == "complete", result.error
    assert result.outputs == {"title": "Line one\nline two"}


CHOSEN = """\
name: Chosen model
model: "{{inputs.model}}"
inputs:
  model: {type: model}
steps:
  - {id: one, kind: llm, prompt: "one"}
  - {id: out, kind: output, value: "{{one}}"}
"""


async def test_an_unknown_model_given_as_an_input_is_refused_before_anything_is_recorded(
    fake, store, make_engine
):
    engine = make_engine()
    with pytest.raises(WorkflowError) as caught:
        await engine.start(CHOSEN, {"model": "nosuch:m"})
    assert str(caught.value).startswith("The input 'model': unknown model 'nosuch:m': there is no provider")
    with pytest.raises(
        WorkflowError, match=r"^The input 'model': 'gpt4' is not a model\. Write PROVIDER:MODEL"
    ):
        await engine.start(CHOSEN, {"model": "gpt4"})
    assert store.runs() == [] and fake.posts() == []  # no failed run to resume into the same failure

    first = await engine.start(CHOSEN, {"model": "fake:m"})
    assert first.status == "complete"
    with pytest.raises(WorkflowError, match="unknown model 'local:ghost'"):
        await engine.rerun_from(first.run_id, "one", {"model": "local:ghost"})
    assert len(store.runs()) == 1


ITEMS = """\
name: Items
model: fake:m
steps:
  - id: each
    kind: map
    over: "a\\nb\\nc\\nd"
    split: lines
    max_parallel: 1
    steps:
      - {id: said, kind: llm, prompt: "say {{item}}"}
  - {id: out, kind: output, value: "{{each.text}}"}
"""


async def test_a_map_cut_off_mid_way_resumes_with_only_the_items_not_finished(fake, store, make_engine):
    def reply(request):
        if prompt_of(request) == "say c":
            return openai_stream([f"w{i} " for i in range(200)], delay=0.02)
        return echo_quick(request)

    fake.default = reply
    events = []
    task = make_engine(on_event=events.append).begin(ITEMS, {})
    while not any(e.kind == "text" and e.item_index == 2 for e in events):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run_id = events[0].run_id
    latest = store.detail(run_id).latest()
    assert [latest[("said", i)].status for i in range(3)] == ["complete", "complete", "cancelled"]

    fake.default = echo_quick
    before = len(fake.posts())
    result = await make_engine().resume(run_id)
    assert result.status == "complete"
    assert result.outputs == {"out": "<say a>\n\n<say b>\n\n<say c>\n\n<say d>"}  # in order, reused ones too
    assert [prompt_of(r) for r in fake.posts()[before:]] == ["say c", "say d"]  # a and b not asked again

"""The agent loop: a model turn, its tool calls (approved, run, answered), the next turn, until the
model answers without calling a tool, a limit is reached or the person stops it.

Every call a model makes is answered, in order, before the next turn: a denied call, an unknown
tool, arguments that are not valid JSON or do not fit the tool's schema, a tool that raises or
times out, all become error results the model reads, so the transcript a provider receives is
always one it accepts. Each model turn is folded with ``providers.reply.fold`` into a ``Reply``.
Nothing here knows a provider's wire format, a tool's source, a window or a terminal: those are
the provider, the :class:`ToolSource` objects, the approval callback and the :class:`Observer`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from ..providers.reply import Reply, ReplyStatus, fold
from ..providers.types import ChatMessage, ChatRequest, StreamEvent, ToolCall, ToolSpec
from .tools import AvailableTool, ToolOutcome, ToolSource, ToolSourceError

DEFAULT_MAX_STEPS = 25
DEFAULT_TOOL_TIMEOUT = 120.0  # seconds per call; a slow tool (a build, a crawl) may need more: settable
DEFAULT_MAX_RESULT_CHARS = 50_000  # a result longer than this is cut, with a note saying so


class Approval(StrEnum):
    """A person's answer to "may this tool run with these arguments?"."""

    ALLOW_ONCE = "allow_once"
    ALWAYS = "always"  # this tool, for the rest of the run (and the agent's policy, if saved)
    DENY = "deny"


class Policy(StrEnum):
    """An agent's rule for one tool."""

    ALWAYS = "always"
    ASK = "ask"
    DENY = "deny"


@dataclass(frozen=True)
class Limits:
    max_steps: int = DEFAULT_MAX_STEPS  # model turns that called tools
    max_cost: float | None = None  # dollars, as far as prices are known (resources/prices.json)
    tool_timeout: float = DEFAULT_TOOL_TIMEOUT
    total_seconds: float | None = None
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS


@dataclass(frozen=True)
class PendingCall:
    """A call waiting for approval: what the approval prompt shows."""

    call: ToolCall
    tool: AvailableTool
    arguments: dict[str, Any]

    @property
    def pretty_arguments(self) -> str:
        return json.dumps(self.arguments, indent=2, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class ToolRun:
    """One answered call: its result (or error), how long it took, and who let it run."""

    call: ToolCall
    source: str  # "builtin", "mcp:<server>", or "" when no tool had that name
    outcome: ToolOutcome
    duration_ms: float
    approved_by: str  # "policy" | "person" | "person, always" | "denied" | "not run"


class AgentStatus(StrEnum):
    COMPLETE = "complete"  # the model answered without calling a tool
    LIMIT = "limit"  # a step, cost or time limit ended it
    STOPPED = "stopped"  # the person stopped it
    FAILED = "failed"  # the provider failed


@dataclass
class AgentResult:
    status: AgentStatus
    notice: str | None  # one sentence for a person when it did not simply complete
    transcript: list[ChatMessage]  # everything, from the first message given to the last result
    turns: list[Reply] = field(default_factory=list)
    runs: list[ToolRun] = field(default_factory=list)
    cost: float = 0.0

    @property
    def text(self) -> str:
        """The last model turn's text: the answer."""
        return self.turns[-1].text if self.turns else ""


Approver = Callable[[PendingCall], Awaitable[Approval]]


class Observer(Protocol):
    """What the chat service, the CLI and the tests watch; every method is optional, and any but
    ``event`` may be a coroutine (the loop waits for it: a turn is saved before the calls run)."""

    async def new_reply(self) -> Reply: ...  # the Reply the next turn folds into (a saved one)
    def turn_started(self, reply: Reply) -> None: ...
    def event(self, reply: Reply, event: StreamEvent) -> None: ...
    def turn_ended(self, reply: Reply) -> None: ...
    def call_started(self, call: ToolCall, tool: AvailableTool | None) -> None: ...
    def call_ended(self, run: ToolRun) -> None: ...
    def always_allowed(self, tool: str) -> None: ...


async def _notify(observer: Any, name: str, *args: Any) -> Any:
    hook = getattr(observer, name, None)
    if hook is None:
        return None
    answer = hook(*args)
    return await answer if inspect.isawaitable(answer) else answer


class _Stopped(Exception):
    """The person stopped the run (raised inside the loop, never out of it)."""


class ToolBox:
    """The tools of several sources by name; the first source to offer a name keeps it."""

    def __init__(self, tools: dict[str, tuple[ToolSource, AvailableTool]], problems: list[str]):
        self.tools = tools
        self.problems = problems  # one sentence per source that could not list its tools

    @classmethod
    async def gather(cls, sources: Sequence[ToolSource], allowed: set[str] | None = None) -> ToolBox:
        tools: dict[str, tuple[ToolSource, AvailableTool]] = {}
        problems: list[str] = []
        for source in sources:
            try:
                listed = await source.list_tools()
            except ToolSourceError as error:
                problems.append(str(error))
                continue
            for tool in listed:
                name = tool.spec.name
                if allowed is not None and not {name, f"{source.name}:*", f"{source.name}:{name}"} & allowed:
                    continue
                tools.setdefault(name, (source, tool))
        return cls(tools, problems)

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for _, tool in self.tools.values())


class AgentLoop:
    """One run of an agent over a transcript. ``stop()`` ends it between or during steps."""

    def __init__(
        self,
        provider: Any,  # anything with ``stream(ChatRequest)``: a Provider, the registry's wrapper
        request: ChatRequest,  # the model, system prompt and parameters (its messages/tools are replaced)
        toolbox: ToolBox,
        *,
        approve: Approver | None = None,
        policy: dict[str, str] | None = None,
        limits: Limits = Limits(),
        observer: Any = None,
        model_ref: str | None = None,  # "provider:id", for prices
    ):
        self.provider = provider
        self.request = request
        self.toolbox = toolbox
        self.approve = approve
        self.policy = dict(policy or {})
        self.limits = limits
        self.observer = observer
        self.model_ref = model_ref or request.model
        self._stopping = False
        self._current: asyncio.Task | None = None

    def stop(self) -> None:
        """Stop now: a model turn keeps what arrived, a running tool is cancelled and answered."""
        self._stopping = True
        if self._current is not None:
            self._current.cancel()

    # -- the run ---------------------------------------------------------------------------

    async def run(self, messages: Sequence[ChatMessage]) -> AgentResult:
        result = AgentResult(AgentStatus.COMPLETE, None, list(messages))
        started = time.monotonic()
        deadline = started + self.limits.total_seconds if self.limits.total_seconds else None
        steps = 0
        while True:
            notice = self._limit_reached(steps, result.cost, deadline)
            if notice:
                return self._end(result, AgentStatus.LIMIT, notice)
            if self._stopping:
                return self._end(result, AgentStatus.STOPPED, "Stopped. Everything so far is kept.")
            reply = await self._turn(result, deadline)
            if reply.status == ReplyStatus.STOPPED:
                if self._stopping:
                    return self._end(result, AgentStatus.STOPPED, "Stopped. Everything so far is kept.")
                return self._end(result, AgentStatus.LIMIT, self._time_notice())
            if reply.status != ReplyStatus.COMPLETE:
                return self._end(result, AgentStatus.FAILED, reply.error)
            if not reply.tool_calls:
                return self._end(result, AgentStatus.COMPLETE, None)
            steps += 1
            stopped = await self._answer(reply.tool_calls, result, deadline)
            if stopped:
                return self._end(result, AgentStatus.STOPPED, "Stopped. Everything so far is kept.")

    def _limit_reached(self, steps: int, cost: float, deadline: float | None) -> str | None:
        limits = self.limits
        if steps >= limits.max_steps:
            return (
                f"Stopped after {steps} tool steps: the agent's limit is {limits.max_steps}. "
                "Everything so far is kept; send a message to let it go on."
            )
        if limits.max_cost is not None and cost >= limits.max_cost:
            return (
                f"Stopped at an estimated ${cost:.4f}: the agent's cost limit is ${limits.max_cost:.4f}. "
                "Everything so far is kept."
            )
        if deadline is not None and time.monotonic() >= deadline:
            return self._time_notice()
        return None

    def _time_notice(self) -> str:
        return (
            f"Stopped at the agent's time limit ({self.limits.total_seconds:g} s). Everything so far is kept."
        )

    def _end(self, result: AgentResult, status: AgentStatus, notice: str | None) -> AgentResult:
        result.status, result.notice = status, notice
        return result

    async def _turn(self, result: AgentResult, deadline: float | None) -> Reply:
        request = dataclasses.replace(
            self.request,
            messages=tuple(result.transcript),
            tools=self.toolbox.specs,
            tool_choice=self.request.tool_choice or ("auto" if self.toolbox.tools else None),
        )
        reply = await _notify(self.observer, "new_reply") or Reply(self.model_ref)
        result.turns.append(reply)
        await _notify(self.observer, "turn_started", reply)
        on_event = getattr(self.observer, "event", None)

        def shown(event: StreamEvent) -> None:
            if on_event is not None:
                on_event(reply, event)

        self._current = asyncio.ensure_future(fold(reply, self.provider.stream(request), shown))
        try:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, _ = await asyncio.wait({self._current}, timeout=remaining)
            if not done:  # the time limit: the turn keeps what arrived, as a stop does
                self._current.cancel()
                await asyncio.wait({self._current})
        except asyncio.CancelledError:  # the run itself was cancelled: end the turn with it
            self._current.cancel()
            raise
        finally:
            self._current = None
        result.cost += reply.cost or 0.0
        result.transcript.append(ChatMessage("assistant", reply.text, tool_calls=tuple(reply.tool_calls)))
        await _notify(self.observer, "turn_ended", reply)
        return reply

    async def _answer(self, calls: list[ToolCall], result: AgentResult, deadline: float | None) -> bool:
        """Answer every call in order; True when the person stopped meanwhile (the rest answered too)."""
        stopped = False
        for call in calls:
            entry = self.toolbox.tools.get(call.name)
            if stopped or self._stopping:
                stopped = True
                run = ToolRun(
                    call,
                    entry[0].name if entry else "",
                    _error("Not run: the person stopped the agent."),
                    0.0,
                    "not run",
                )
            else:
                await _notify(self.observer, "call_started", call, entry[1] if entry else None)
                try:
                    run = await self._run_one(call, deadline)
                except _Stopped:
                    stopped = True
                    run = ToolRun(
                        call,
                        entry[0].name if entry else "",
                        _error("Stopped by the person while running."),
                        0.0,
                        "not run",
                    )
            run = self._truncated(run)
            result.runs.append(run)
            result.transcript.append(
                ChatMessage(
                    "tool",
                    run.outcome.content,
                    name=call.name,
                    tool_call_id=call.id,
                    is_error=run.outcome.is_error,
                )
            )
            await _notify(self.observer, "call_ended", run)
        return stopped

    async def _run_one(self, call: ToolCall, deadline: float | None) -> ToolRun:
        entry = self.toolbox.tools.get(call.name)
        if entry is None:
            known = ", ".join(sorted(self.toolbox.tools)) or "none"
            return ToolRun(
                call,
                "",
                _error(f"There is no tool named '{call.name}'. Available tools: {known}."),
                0.0,
                "not run",
            )
        source, tool = entry
        arguments, problem = check_arguments(call.arguments, tool.spec.parameters)
        if problem:
            return ToolRun(call, source.name, _error(problem), 0.0, "not run")
        approved_by = await self._approval(PendingCall(call, tool, arguments))
        if approved_by == "denied":
            return ToolRun(call, source.name, _error("The person denied this call."), 0.0, approved_by)
        timeout = self.limits.tool_timeout
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - time.monotonic()))
        began = time.perf_counter()
        outcome = await self._call(source, call.name, arguments, timeout)
        return ToolRun(call, source.name, outcome, (time.perf_counter() - began) * 1000, approved_by)

    async def _approval(self, pending: PendingCall) -> str:
        name = pending.tool.spec.name
        rule = self.policy.get(name) or (Policy.ALWAYS if pending.tool.read_only else Policy.ASK)
        if rule == Policy.DENY:
            return "denied"
        if rule == Policy.ALWAYS and not pending.tool.always_ask:
            return "policy"
        if self.approve is None:
            return "denied"
        self._current = asyncio.ensure_future(self.approve(pending))
        try:
            answer = await self._current
        except asyncio.CancelledError:
            if self._stopping:
                raise _Stopped from None
            raise
        finally:
            self._current = None
        if answer == Approval.ALWAYS:
            if not pending.tool.always_ask:
                self.policy[name] = Policy.ALWAYS
                await _notify(self.observer, "always_allowed", name)
            return "person, always"
        return "person" if answer == Approval.ALLOW_ONCE else "denied"

    async def _call(
        self, source: ToolSource, name: str, arguments: dict[str, Any], timeout: float
    ) -> ToolOutcome:
        self._current = asyncio.ensure_future(source.call(name, arguments, timeout=timeout))
        try:
            # the source bounds its own call; this bound is for a source that does not
            return await asyncio.wait_for(asyncio.shield(self._current), timeout + 1.0)
        except asyncio.CancelledError:
            self._current.cancel()
            if self._stopping:
                raise _Stopped from None
            raise
        except TimeoutError:
            self._current.cancel()
            return _error(f"The tool '{name}' did not answer within {timeout:g} s.")
        except Exception as failure:  # a tool's bug is an error the model reads, not the end of the run
            return _error(f"The tool '{name}' failed: {type(failure).__name__}: {failure}")
        finally:
            self._current = None

    def _truncated(self, run: ToolRun) -> ToolRun:
        limit = self.limits.max_result_chars
        content = run.outcome.content
        if len(content) <= limit:
            return run
        note = f"\n\n[Truncated: the result had {len(content):,} characters; only the first {limit:,} are shown.]"
        outcome = ToolOutcome(content[:limit] + note, run.outcome.is_error)
        return dataclasses.replace(run, outcome=outcome)


def unpriced_cost_limit(limits: Limits, model_ref: str) -> str | None:
    """A cost limit that cannot stop a run, said before it starts: the model has no known price (it
    would count as $0 for ever)."""
    from ..tester.prices import estimate_cost

    if limits.max_cost is None or estimate_cost(model_ref, 1, 1) is not None:
        return None
    return (
        f"The cost limit (${limits.max_cost:g}) cannot stop this run: no price is known for {model_ref} "
        "(add one to prices.json); the step and time limits still apply."
    )


def would_ask(tool: AvailableTool, policy: dict[str, str]) -> bool:
    """Whether a call of ``tool`` waits for a person under ``policy`` (the defaults if unlisted)."""
    rule = policy.get(tool.spec.name) or (Policy.ALWAYS if tool.read_only else Policy.ASK)
    return rule == Policy.ASK or (rule == Policy.ALWAYS and tool.always_ask)


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(message, is_error=True)


def check_arguments(text: str, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The call's arguments as an object, or why they cannot be used (said to the model)."""
    try:
        arguments = json.loads(text or "{}")
    except ValueError as error:
        return {}, f"The arguments are not valid JSON ({error}). Call the tool again with a JSON object."
    if not isinstance(arguments, dict):
        return {}, "The arguments must be a JSON object."
    from jsonschema import Draft202012Validator  # (lazy: only a run with tools needs it)
    from jsonschema.exceptions import SchemaError

    try:
        errors = sorted(Draft202012Validator(schema).iter_errors(arguments), key=lambda e: list(e.path))
    except SchemaError:
        return arguments, None  # a tool's own broken schema is not the model's fault
    if errors:
        said = "; ".join(
            f"{'/'.join(str(p) for p in e.path) or 'arguments'}: {e.message}" for e in errors[:5]
        )
        return arguments, f"The arguments do not fit the tool's schema: {said}."
    return arguments, None

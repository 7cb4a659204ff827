"""An agent answering in a conversation: each model turn a saved reply, each tool result a saved
``tool`` message after it, all written through ``ChatStore`` and shown live like any reply.

The chat service's own machinery is reused for every turn (a :class:`Generation` row from before
its first token, partial saves while it streams, the final save with retries and a recovery file),
so a turn of an agent is kept exactly as safely as a plain reply. Regenerating or editing works on
the same tree: a new run starts from the chosen parent and becomes a new branch.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..chat.service import ChatService, Generation, _PartialSaves
from ..chat.store import _get
from ..connections.registry import parse_model_ref
from ..db.engine import this_process
from ..db.tables import Message
from ..providers.retry import build_then_stream
from ..providers.types import GenerationParams, ReasoningDelta, StreamEvent, TextDelta
from .builtin import parse_tool_sets
from .loop import AgentLoop, AgentResult, Approver, Limits, ToolBox, ToolRun, unpriced_cost_limit
from .store import AgentStore, AgentView
from .tools import ToolSource


@dataclass
class AgentRun:
    """A run in a conversation: its turns as they begin (``on_turn``), ``stop()``, ``wait()``."""

    conversation_id: str
    loop: AgentLoop | None = None
    task: asyncio.Task | None = None
    turns: list[Generation] = field(default_factory=list)
    runs: list[ToolRun] = field(default_factory=list)
    on_turn: list[Callable[[Generation], None]] = field(default_factory=list)
    on_call: list[Callable[[ToolRun], None]] = field(default_factory=list)
    on_event: list[Callable[[Generation, StreamEvent], None]] = field(default_factory=list)
    #: a call about to run (or be refused): the tool's name and arguments, before any approval
    on_call_start: list[Callable[[Any], None]] = field(default_factory=list)
    result: AgentResult | None = None
    #: tool sources that could not list their tools (an MCP server that did not start): one sentence each
    problems: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.stop()

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    async def wait(self) -> AgentResult:
        assert self.task is not None
        return await asyncio.shield(self.task)


class AgentTurn(Generation):
    """One model turn of a run: Stop on it stops the whole run (the window's Stop button does)."""

    run: AgentRun

    def stop(self) -> None:
        self.run.stop()


class _Recorder:
    """The loop's observer: saves each turn and each result through the store, in tree order."""

    def __init__(self, chat: ChatService, run: AgentRun, parent_id: str | None, model_ref: str,
                 user_message_id: str | None, remember: Callable[[str], None] | None):  # fmt: skip
        self.chat, self.run = chat, run
        self.parent_id = parent_id
        self.model_ref = model_ref
        self.user_message_id = user_message_id  # titles a new conversation after the first turn
        self.remember = remember
        self.saves: dict[str, _PartialSaves] = {}

    async def new_reply(self) -> Generation:
        chat = self.chat
        reply_id = await chat.db.in_thread(
            chat.store.begin_reply, self.run.conversation_id, self.parent_id, self.model_ref, this_process()
        )
        turn = AgentTurn(self.run.conversation_id, reply_id, self.user_message_id, self.model_ref)
        turn.run = self.run
        turn.task = self.run.task
        self.saves[reply_id] = _PartialSaves(chat, turn)
        chat.active[reply_id] = turn
        self.run.turns.append(turn)
        for listener in [*chat.on_generation, *self.run.on_turn]:
            listener(turn)
        return turn

    def event(self, turn: Generation, event: StreamEvent) -> None:
        turn._emit(event)
        for listener in self.run.on_event:
            listener(turn, event)
        if type(event) is TextDelta or type(event) is ReasoningDelta:
            self.saves[turn.message_id].grew()

    async def turn_ended(self, turn: Generation) -> None:
        try:
            await asyncio.shield(self.chat._save_final(turn, self.saves.pop(turn.message_id)))
        finally:
            self.chat.active.pop(turn.message_id, None)
            turn._emit(None)
        self.parent_id = turn.message_id
        self.user_message_id = None

    def call_started(self, call: Any, tool: Any) -> None:
        for listener in self.run.on_call_start:
            listener(call)

    async def call_ended(self, run: ToolRun) -> None:
        tool = {
            "call_id": run.call.id, "name": run.call.name, "source": run.source, "is_error": run.outcome.is_error,
            "duration_ms": round(run.duration_ms, 1), "approved_by": run.approved_by, "arguments": run.call.arguments,
        }  # fmt: skip
        store = self.chat.store
        self.parent_id = await self.chat.db.in_thread(
            store.add_tool_result, self.run.conversation_id, self.parent_id, run.outcome.content, tool
        )
        self.run.runs.append(run)
        for listener in self.run.on_call:
            listener(run)

    async def always_allowed(self, tool: str) -> None:
        if self.remember is not None:
            await asyncio.to_thread(self.remember, tool)


class AgentChat:
    """Sends, regenerates and edits with an agent (or just a set of tools) in a conversation."""

    def __init__(self, chat: ChatService, agents: AgentStore):
        self.chat = chat
        self.agents = agents

    async def send(
        self,
        conversation_id: str,
        text: str,
        sources: Sequence[ToolSource],
        *,
        agent: AgentView | None = None,
        approve: Approver | None = None,
        model: str | None = None,
        params: GenerationParams | None = None,
        limits: Limits | None = None,
        parent_id: str | None | type[...] = ...,
    ) -> AgentRun:
        """Commit the person's message, then start the agent's run after it."""
        if not text.strip():
            raise ValueError("The message is empty.")
        model_ref = await self.chat._resolve_model(conversation_id, model or (agent.model if agent else None))
        store = self.chat.store
        if (
            agent is not None
            and (await self.chat.db.in_thread(store.conversation, conversation_id)).agent_id != agent.id
        ):
            # the conversation remembers its agent: the window's picker and `chat --continue` use it
            await self.chat.db.in_thread(store.update_conversation, conversation_id, agent_id=agent.id)
        user_id = await self.chat.db.in_thread(
            self.chat.store.add_user_message, conversation_id, text, [], model_ref, parent_id
        )
        return await self.start(conversation_id, user_id, sources, agent=agent, approve=approve,
                                model_ref=model_ref, params=params, limits=limits, titles=user_id)  # fmt: skip

    async def regenerate(self, message_id: str, sources: Sequence[ToolSource], **kw: Any) -> AgentRun:
        """A new run from the same place as the reply ``message_id``: a sibling branch."""
        old = await self.chat.db.run(lambda s: _get(s, Message, message_id))
        if old.role != "assistant":
            raise ValueError("Only a reply can be regenerated.")
        model_ref = (
            kw.pop("model", None) or old.model or await self.chat._resolve_model(old.conversation_id, None)
        )
        return await self.start(old.conversation_id, old.parent_id, sources, model_ref=model_ref, **kw)

    async def start(
        self,
        conversation_id: str,
        parent_id: str | None,
        sources: Sequence[ToolSource],
        *,
        agent: AgentView | None = None,
        approve: Approver | None = None,
        model_ref: str,
        params: GenerationParams | None = None,
        limits: Limits | None = None,
        titles: str | None = None,
    ) -> AgentRun:
        ref = parse_model_ref(model_ref)
        chat = self.chat
        request, _ids, _settings = await chat.db.run(
            lambda s: chat._build_request(s, conversation_id, parent_id, ref.model, params, with_tools=True)
        )
        if agent is not None and agent.instructions:
            system = f"{request.system}\n\n{agent.instructions}" if request.system else agent.instructions
            request = dataclasses.replace(request, system=system)
        allowed = _allowed(agent)
        toolbox = await ToolBox.gather(sources, allowed)
        limits = limits or (agent.loop_limits if agent else Limits())
        unpriced = unpriced_cost_limit(limits, model_ref)
        run = AgentRun(conversation_id, problems=[*toolbox.problems, *([unpriced] if unpriced else [])])
        remember = partial(self.agents.allow_always, agent.id) if agent is not None else None
        recorder = _Recorder(chat, run, parent_id, model_ref, titles, remember)
        provider = _Streamer(chat, ref.provider)
        run.loop = AgentLoop(
            provider, request, toolbox, approve=approve, policy=dict(agent.policies) if agent else None,
            limits=limits, observer=recorder, model_ref=model_ref,
        )  # fmt: skip
        history = request.messages
        run.task = asyncio.ensure_future(run.loop.run(history))
        return run


class _Streamer:
    """The registry's provider for each turn, with the chat's retries (only before anything is shown)."""

    def __init__(self, chat: ChatService, provider_name: str):
        self.chat, self.provider_name = chat, provider_name

    def stream(self, request):
        return build_then_stream(
            partial(self.chat.registry.get, self.provider_name), request, self.chat.retry
        )


def _allowed(agent: AgentView | None) -> set[str] | None:
    """The tool names an agent may use (None: every tool of the sources it was given)."""
    if agent is None or not agent.tools:
        return None
    _, names, others = parse_tool_sets(agent.tools)
    return names | others

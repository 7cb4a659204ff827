"""Sending a message and streaming the reply into the database.

Nothing is lost: the user's message is committed before the request goes out; the
reply is a row from the start, flushed while it streams, and ends marked complete,
stopped, interrupted (by recovery after a crash) or failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..changes import Changes
from ..connections.registry import ProviderRegistry, parse_model_ref
from ..db.engine import this_process
from ..db.tables import Conversation, Message, MessageStatus, Project, utcnow
from ..providers.errors import ProviderError
from ..providers.retry import RetryPolicy, stream_with_retries
from ..providers.types import (
    ChatMessage,
    ChatRequest,
    Finished,
    GenerationParams,
    ReasoningDelta,
    StopReason,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from .store import ChatStore, NotFoundError, _get, automatic_title
from .tree import path_to

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.25  # seconds between writes of a streaming reply
YIELD_EVERY = 0.004  # seconds of stream processing before the event loop gets a turn


@dataclass(frozen=True)
class Attachment:
    name: str
    text: str


def render_user_content(text: str, attachments: Sequence[dict]) -> str:
    """The text the model sees: attached files first, each introduced by its name."""
    if not attachments:
        return text
    parts = [f'<file name="{a["name"]}">\n{a["text"]}\n</file>' for a in attachments]
    return "\n\n".join([*parts, text])


@dataclass
class Generation:
    """A reply being generated. Read ``text`` at any time; iterate :meth:`events`; :meth:`stop`."""

    conversation_id: str
    message_id: str
    user_message_id: str | None
    model: str
    reasoning: str = ""
    status: str = MessageStatus.STREAMING
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    started_at: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    finished_at: float | None = None
    task: asyncio.Task | None = None
    _queues: list[asyncio.Queue] = field(default_factory=list)
    _stop_requested: bool = False
    #: text arrives in pieces; ``text`` joins them only when read (a window reads it 30 times a
    #: second), where ``str +=`` on an attribute would copy the whole reply for every token
    _pieces: list[str] = field(default_factory=list)
    _joined: str = ""

    @property
    def text(self) -> str:
        if self._pieces:
            self._joined += "".join(self._pieces)
            self._pieces.clear()
        return self._joined

    def append_text(self, piece: str) -> None:
        self._pieces.append(piece)

    @property
    def done(self) -> bool:
        return self.status != MessageStatus.STREAMING

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_token_at is None else (self.first_token_at - self.started_at) * 1000

    @property
    def duration_ms(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at) * 1000

    @property
    def tokens_per_second(self) -> float | None:
        if not self.output_tokens or self.first_token_at is None or self.finished_at is None:
            return None
        span = self.finished_at - self.first_token_at
        return self.output_tokens / span if span > 0 else None

    def stop(self) -> None:
        """Stop generating; the text so far is kept and the reply marked stopped."""
        if self._stop_requested:
            return
        self._stop_requested = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def wait(self) -> Generation:
        if self.task is not None:
            try:
                await asyncio.shield(self.task)
            except asyncio.CancelledError:
                if not self.task.cancelled():
                    raise
        return self

    async def events(self) -> AsyncIterator[StreamEvent | None]:
        """Every stream event from now on; ends (with ``None`` consumed) when the reply is final."""
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.append(queue)
        if self.done:
            return
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._queues.remove(queue)

    def _emit(self, event: StreamEvent | None) -> None:
        for queue in self._queues:
            queue.put_nowait(event)


class ChatService:
    """Starts conversations, sends messages, regenerates and edits; streams replies."""

    def __init__(
        self,
        store: ChatStore,
        registry: ProviderRegistry,
        *,
        retry: RetryPolicy = RetryPolicy(),
        flush_interval: float = FLUSH_INTERVAL,
    ):
        self.store = store
        self.db = store.db
        self.registry = registry
        self.retry = retry
        self.flush_interval = flush_interval
        self.active: dict[str, Generation] = {}  # by assistant message id
        self.on_generation: list[Callable[[Generation], None]] = []

    # -- public operations -------------------------------------------------------

    async def start_conversation(
        self,
        project_id: str | None = None,
        system_prompt: str | None = None,
        model: str | None = None,
        title: str | None = None,
    ) -> Conversation:
        return await self.db.run(
            lambda _s: self.store.create_conversation(project_id, system_prompt, model, title)
        )

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        model: str | None = None,
        params: GenerationParams | None = None,
        attachments: Sequence[Attachment] = (),
        parent_id: str | None | type[...] = ...,
    ) -> Generation:
        """Commit the user's message, then start streaming the reply.

        ``parent_id`` defaults to the leaf of the branch on show; pass another
        message id (or None for the root) to branch.
        """
        if not text.strip() and not attachments:
            raise ValueError("The message is empty.")
        model_ref = await self._resolve_model(conversation_id, model)
        attached = [{"name": a.name, "text": a.text} for a in attachments]

        def add_user(s: Session) -> str:
            conversation = _get(s, Conversation, conversation_id)
            parent = self._leaf_id(s, conversation) if parent_id is ... else parent_id
            message = Message(
                conversation_id=conversation_id,
                parent_id=parent,
                role="user",
                content=text,
                attachments=attached,
            )
            s.add(message)
            s.flush()
            conversation.current_leaf_id = message.id
            conversation.model = model_ref
            return message.id

        user_id = await self.db.run(add_user)
        self.store.bus.publish(Changes(messages=frozenset({conversation_id}), conversation_list=True))
        return await self._generate(conversation_id, user_id, model_ref, params)

    async def regenerate(
        self, assistant_message_id: str, *, model: str | None = None, params: GenerationParams | None = None
    ) -> Generation:
        """A new reply to the same user message, as a sibling of the old one."""
        old = await self.db.run(lambda s: _get(s, Message, assistant_message_id))
        if old.role != "assistant":
            raise ValueError("Only a reply can be regenerated.")
        model_ref = model or old.model or await self._resolve_model(old.conversation_id, None)
        return await self._generate(old.conversation_id, old.parent_id, model_ref, params)

    async def edit(
        self,
        user_message_id: str,
        new_text: str,
        *,
        model: str | None = None,
        params: GenerationParams | None = None,
    ) -> Generation:
        """Send an edited copy of a user message as a new branch beside the original."""
        old = await self.db.run(lambda s: _get(s, Message, user_message_id))
        if old.role != "user":
            raise ValueError("Only your own messages can be edited.")
        return await self.send(
            old.conversation_id,
            new_text,
            model=model,
            params=params,
            attachments=[Attachment(a["name"], a["text"]) for a in old.attachments or []],
            parent_id=old.parent_id,
        )

    def stop_all(self) -> None:
        for generation in list(self.active.values()):
            generation.stop()

    # -- internals -----------------------------------------------------------------

    async def _resolve_model(self, conversation_id: str, model: str | None) -> str:
        if model:
            return str(parse_model_ref(model))

        def find(s: Session) -> str | None:
            conversation = _get(s, Conversation, conversation_id)
            if conversation.model:
                return conversation.model
            if conversation.project_id:
                project = s.get(Project, conversation.project_id)
                return project.default_model if project else None
            return None

        found = await self.db.run(find)
        if not found:
            raise ValueError("Choose a model first (for example openai:gpt-4o-mini or local:model.gguf).")
        return found

    @staticmethod
    def _leaf_id(s: Session, conversation: Conversation) -> str | None:
        from .tree import visible_path

        messages = [m for m in conversation.messages if m.deleted_at is None]
        path = visible_path(messages, conversation.current_leaf_id)
        return path[-1].id if path else None

    def _build_request(
        self, s: Session, conversation_id: str, parent_id: str | None, model_id: str, params
    ) -> ChatRequest:
        conversation = _get(s, Conversation, conversation_id)
        messages = [m for m in conversation.messages if m.deleted_at is None]
        history = path_to(parent_id, {m.id: m for m in messages})
        system = conversation.system_prompt
        if not system and conversation.project_id:
            project = s.get(Project, conversation.project_id)
            system = project.instructions if project else None
        chat = []
        for m in history:
            if m.role not in ("user", "assistant") or (m.role == "assistant" and not m.content):
                continue
            content = render_user_content(m.content, m.attachments or []) if m.role == "user" else m.content
            chat.append(ChatMessage(role=m.role, content=content))
        settings = conversation.settings or {}
        if params is None:
            params = GenerationParams(
                temperature=settings.get("temperature"), max_tokens=settings.get("max_tokens")
            )
        return ChatRequest(model=model_id, messages=tuple(chat), system=system or None, params=params)

    async def _generate(
        self, conversation_id: str, parent_id: str | None, model_ref: str, params: GenerationParams | None
    ) -> Generation:
        ref = parse_model_ref(model_ref)

        def prepare(s: Session) -> tuple[str, ChatRequest]:
            request = self._build_request(s, conversation_id, parent_id, ref.model, params)
            reply = Message(
                conversation_id=conversation_id,
                parent_id=parent_id,
                role="assistant",
                content="",
                status=MessageStatus.STREAMING,
                model=model_ref,
                stream_owner=this_process(),
            )
            s.add(reply)
            s.flush()
            _get(s, Conversation, conversation_id).current_leaf_id = reply.id
            return reply.id, request

        reply_id, request = await self.db.run(prepare)
        generation = Generation(
            conversation_id=conversation_id, message_id=reply_id, user_message_id=parent_id, model=model_ref
        )
        self.active[reply_id] = generation
        generation.task = asyncio.create_task(self._run(generation, ref.provider, request))
        self.store.bus.publish(Changes(messages=frozenset({conversation_id})))
        for listener in self.on_generation:
            listener(generation)
        return generation

    async def _run(self, g: Generation, provider_name: str, request: ChatRequest) -> None:
        last_flush = last_yield = time.monotonic()
        flushing: asyncio.Task | None = None
        try:
            # building a provider imports its SDK (anthropic alone takes ~1 s): not on the loop's thread
            provider = await asyncio.to_thread(self.registry.get, provider_name)
            async for event in stream_with_retries(provider, request, self.retry):
                if isinstance(event, TextDelta):
                    if g.first_token_at is None:
                        g.first_token_at = time.perf_counter()
                    g.append_text(event.text)
                elif isinstance(event, ReasoningDelta):
                    if g.first_token_at is None:
                        g.first_token_at = time.perf_counter()
                    g.reasoning += event.text
                elif isinstance(event, Usage):
                    g.input_tokens = event.input_tokens if event.input_tokens is not None else g.input_tokens
                    g.output_tokens = (
                        event.output_tokens if event.output_tokens is not None else g.output_tokens
                    )
                elif isinstance(event, Finished):
                    g.stop_reason = str(event.stop_reason)
                elif isinstance(event, ToolCall):
                    pass  # tools are not wired into chat yet; the event still reaches listeners
                g._emit(event)
                now = time.monotonic()
                if now - last_flush >= self.flush_interval and (flushing is None or flushing.done()):
                    last_flush = now
                    flushing = asyncio.create_task(self._flush(g))
                if now - last_yield >= YIELD_EVERY:
                    # a fast stream arrives already buffered and never suspends on its own;
                    # hand the loop back so the window keeps painting and answering
                    last_yield = now
                    await asyncio.sleep(0)
            g.status = MessageStatus.COMPLETE
        except asyncio.CancelledError:
            g.status = MessageStatus.STOPPED
            g.stop_reason = str(StopReason.CANCELLED)
        except ProviderError as error:
            # servers sometimes echo the key back in their error text: never save or show it
            g.status, g.error = MessageStatus.FAILED, self.registry.secrets.redact(str(error))
        except Exception as error:  # a bug must still leave the reply in a final state
            log.exception("generation failed")
            g.status, g.error = MessageStatus.FAILED, f"Unexpected error: {type(error).__name__}: {error}"
        finally:
            g.finished_at = time.perf_counter()
            if flushing is not None:
                await asyncio.gather(flushing, return_exceptions=True)
            await asyncio.shield(self._finish(g))

    async def _flush(self, g: Generation) -> None:
        text, reasoning = g.text, g.reasoning

        def write(s: Session) -> None:
            message = s.get(Message, g.message_id)
            if message is not None and message.status == MessageStatus.STREAMING:
                message.content, message.reasoning = text, reasoning or None

        await self.db.run(write)

    async def _finish(self, g: Generation) -> None:
        text = g.text  # joined here, on the loop's thread

        def write(s: Session) -> bool:
            message = s.get(Message, g.message_id)
            message.content = text
            message.reasoning = g.reasoning or None
            message.status = g.status
            message.error = g.error
            message.stop_reason = g.stop_reason
            message.input_tokens = g.input_tokens
            message.output_tokens = g.output_tokens
            message.ttft_ms = g.ttft_ms
            message.duration_ms = g.duration_ms
            message.stream_owner = None
            conversation = s.get(Conversation, g.conversation_id)
            retitled = False
            if (
                conversation.title_is_automatic
                and conversation.title == "New conversation"
                and g.user_message_id
            ):
                user = s.get(Message, g.user_message_id)
                if user is not None:
                    conversation.title = automatic_title(user.content)
                    retitled = True
            conversation.updated_at = utcnow()
            return retitled

        try:
            retitled = await self.db.run(write)
        except NotFoundError:
            retitled = False
        self.active.pop(g.message_id, None)
        g._emit(None)
        self.store.bus.publish(
            Changes(
                messages=frozenset({g.conversation_id}),
                conversations=frozenset({g.conversation_id}),
                conversation_list=retitled,
            )
        )

"""Sending a message and streaming the reply into the database.

Nothing is lost: the user's message is committed before the request goes out; the
reply is a row from the start, saved while it streams (on a timer, so that a pause keeps
what was shown, and at once when much arrives), and ends marked complete, stopped,
interrupted (by recovery after a crash) or failed. A last save the database refuses is
tried again, then kept in a recovery file (see :mod:`.unsaved`); either way the end of the
stream is always announced. Every write goes through :class:`ChatStore`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session

from ..agents.history import answer_every_call, calls_of, tool_message
from ..connections.registry import ProviderRegistry, parse_model_ref
from ..db.engine import this_process
from ..db.tables import Conversation, Message, Project
from ..providers.errors import ProviderError, UnavailableError
from ..providers.reply import Reply, fold
from ..providers.retry import RetryPolicy, build_then_stream, stream_with_retries
from ..providers.types import (
    ChatMessage,
    ChatRequest,
    GenerationParams,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
)
from . import context, unsaved
from .store import ChatStore, NotFoundError, _get, visible_in
from .tree import path_to

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.25  # seconds: text shown longer ago than this is on disk, pause or no pause
FLUSH_SIZE = 16_384  # characters not yet saved that are written at once, before the timer
SAVE_RETRY_DELAYS = (0.5, 2.0, 5.0)  # seconds between the tries of a reply's last save


@dataclass(frozen=True)
class Attachment:
    name: str
    text: str
    #: an entry kept as it was (an imported image: its stored file), carried into an edited copy
    entry: dict | None = None

    def record(self) -> dict:
        return dict(self.entry) if self.entry is not None else {"name": self.name, "text": self.text}


def render_user_content(text: str, attachments: Sequence[dict]) -> str:
    """The text the model sees: attached files first, each introduced by its name."""
    files = [a for a in attachments if a.get("kind", "file") == "file"]  # images are shown, not sent
    if not files:
        return text
    parts = [f'<file name="{a["name"]}">\n{a["text"]}\n</file>' for a in files]
    return "\n\n".join([*parts, text])


class Generation(Reply):
    """A reply being generated into a conversation. Read ``text`` at any time; iterate
    :meth:`events`; :meth:`stop`; ``save_error`` says (in one line) when its last save failed."""

    def __init__(self, conversation_id: str, message_id: str, user_message_id: str | None, model: str):
        super().__init__(model)
        self.begin()
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.user_message_id = user_message_id
        self.task: asyncio.Task | None = None
        self.save_error: str | None = None
        self.context: context.ContextUsage | None = None  # how full the model's context was, once fitted
        self._queues: list[asyncio.Queue] = []
        self._stop_requested = False
        self._ended = False  # the end was announced: the reply is final and saved (or kept)

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
        """Every stream event from now on, its text printable; ends when the reply is final and saved
        (or kept: see ``save_error``)."""
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.append(queue)
        if self._ended:
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
        self._ended = self._ended or event is None
        for queue in self._queues:
            queue.put_nowait(event)


class _PartialSaves:
    """Writes a streaming reply's text as it grows: at most every ``interval`` seconds, on a timer (a
    server that pauses must not leave shown text unsaved), and at once when ``size`` characters
    wait. One write at a time; a failed one is tried again with the next."""

    def __init__(self, service: ChatService, g: Generation):
        self.service, self.g = service, g
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()
        self.saved = 0  # characters of text on disk
        self.dirty = False
        self.timer: asyncio.TimerHandle | None = None
        self.writing: asyncio.Task | None = None

    def grew(self) -> None:
        self.dirty = True
        if self.writing is None or self.writing.done():  # else the write in flight looks when done
            self._arm()

    def _arm(self) -> None:
        if self.g.length - self.saved >= self.service.flush_size:
            self._write_now()
        elif self.timer is None:
            when = max(self.loop.time(), self.last + self.service.flush_interval)
            self.timer = self.loop.call_at(when, self._write_now)

    def _write_now(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.writing = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        g = self.g
        text, reasoning = g.text, g.reasoning  # joined here, on the loop's thread
        self.dirty, self.last = False, self.loop.time()
        try:
            await self.service.db.in_thread(
                self.service.store.save_partial_reply, g.message_id, text, reasoning
            )
            self.saved = len(text)
        except Exception as error:  # the database is busy or full: tried again after the interval
            log.warning("could not save the streaming reply %s yet: %s", g.message_id, _reason(error))
            self.dirty = True
        if self.dirty and not g.done:  # it grew (or failed) meanwhile
            self._arm()

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.writing is not None:
            await asyncio.gather(self.writing, return_exceptions=True)


def _reason(error: BaseException) -> str:
    """A failed write in a few words ("database is locked", "database or disk is full")."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return text[:160]


class ChatService:
    """Starts conversations, sends messages, regenerates and edits; streams replies."""

    def __init__(
        self,
        store: ChatStore,
        registry: ProviderRegistry,
        *,
        retry: RetryPolicy = RetryPolicy(),
        flush_interval: float = FLUSH_INTERVAL,
        flush_size: int = FLUSH_SIZE,
        save_retry_delays: Sequence[float] = SAVE_RETRY_DELAYS,
    ):
        self.store = store
        self.db = store.db
        self.registry = registry
        self.retry = retry
        self.flush_interval = flush_interval
        self.flush_size = flush_size
        self.save_retry_delays = tuple(save_retry_delays)
        self.active: dict[str, Generation] = {}  # by assistant message id
        self.on_generation: list[Callable[[Generation], None]] = []
        #: what to do when a conversation is longer than the model's context, unless it chose itself
        self.default_overflow: context.Overflow = context.DEFAULT_OVERFLOW

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
        attached = [a.record() for a in attachments]

        user_id = await self.db.in_thread(
            self.store.add_user_message, conversation_id, text, attached, model_ref, parent_id
        )
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
            attachments=[  # text files and pictures alike: an edit keeps what was attached
                Attachment(a["name"], a["text"])
                if "text" in a
                else Attachment(a.get("name", ""), "", entry=a)
                for a in old.attachments or []
            ],
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

    def _build_request(
        self,
        s: Session,
        conversation_id: str,
        parent_id: str | None,
        model_id: str,
        params,
        with_tools: bool = False,
    ) -> tuple[ChatRequest, list[str], dict]:
        """The request for a reply under ``parent_id``, the ids of the messages it carries, and the
        conversation's settings (its context choice and kept summary). ``with_tools`` (an agent's
        turn) keeps the branch's tool calls and results; without, only the words are sent (a provider
        refuses tool results in a request that offers no tools)."""
        conversation = _get(s, Conversation, conversation_id)
        messages = [m for m in conversation.messages if m.deleted_at is None]
        history = path_to(parent_id, {m.id: m for m in messages})
        system = conversation.system_prompt
        if not system and conversation.project_id:
            project = s.get(Project, conversation.project_id)
            system = project.instructions if project else None
        chat, ids = [], []
        for m in history:
            if m.role == "tool" and with_tools:
                chat.append(tool_message(m))
                continue
            calls = calls_of(m) if with_tools else ()
            if m.role not in ("user", "assistant") or (m.role == "assistant" and not m.content and not calls):
                continue
            content = render_user_content(m.content, m.attachments or []) if m.role == "user" else m.content
            chat.append(ChatMessage(role=m.role, content=content, tool_calls=calls))
            ids.append(m.id)
        if with_tools:  # (an agent's request is not fitted: its ids are not needed, nor kept aligned)
            chat, ids = answer_every_call(chat), []
        settings = dict(conversation.settings or {})
        if params is None:
            params = GenerationParams(
                temperature=settings.get("temperature"), max_tokens=settings.get("max_tokens")
            )
        request = ChatRequest(model=model_id, messages=tuple(chat), system=system or None, params=params)
        return request, ids, settings

    async def _generate(
        self, conversation_id: str, parent_id: str | None, model_ref: str, params: GenerationParams | None
    ) -> Generation:
        ref = parse_model_ref(model_ref)
        request, ids, settings = await self.db.run(
            lambda s: self._build_request(s, conversation_id, parent_id, ref.model, params)
        )
        reply_id = await self.db.in_thread(
            self.store.begin_reply, conversation_id, parent_id, model_ref, this_process()
        )
        generation = Generation(conversation_id, reply_id, parent_id, model_ref)
        self.active[reply_id] = generation
        fitting = partial(self._fitted, generation, ref.provider, request, ids, settings)
        generation.task = asyncio.create_task(self._run(generation, ref.provider, fitting))
        for listener in self.on_generation:
            listener(generation)
        return generation

    async def _run(
        self, g: Generation, provider_name: str, fitting: Callable[[], Awaitable[ChatRequest]]
    ) -> None:
        saves = _PartialSaves(self, g)

        def shown(event: StreamEvent) -> None:
            g._emit(event)
            if type(event) is TextDelta or type(event) is ReasoningDelta:
                saves.grew()

        async def events() -> AsyncIterator[StreamEvent]:
            request = await fitting()  # (a failure to fit is the reply's failure, said in it)
            async for event in build_then_stream(
                partial(self.registry.get, provider_name), request, self.retry
            ):
                yield event

        try:
            await fold(g, events(), shown, self.registry.secrets.redact)
        finally:
            try:
                await asyncio.shield(self._save_final(g, saves))
            finally:
                self.active.pop(g.message_id, None)
                g._emit(None)  # always: a caller waiting on the events must never wait for ever

    # -- the model's context ---------------------------------------------------------

    async def _fitted(
        self, g: Generation, provider_name: str, request: ChatRequest, ids: list[str], settings: dict
    ) -> ChatRequest:
        """The request as it fits the model's context (oldest turns dropped or summarised, as the
        conversation or the default says); ``g.context`` says how full it is and what was left out."""
        provider = await asyncio.to_thread(self.registry.get, provider_name)
        how = self._overflow(settings)
        kept = settings.get(context.SUMMARY_SETTING) or {}

        async def summarise(asked: ChatRequest) -> str:
            summary = Reply(g.model)
            await fold(summary, stream_with_retries(provider, asked, self.retry))
            if summary.status == "stopped":  # the person stopped the reply while its summary was written
                raise asyncio.CancelledError
            if summary.error:
                raise UnavailableError(f"The earlier part could not be summarised to fit: {summary.error}")
            return summary.text

        fitted = await context.fit(
            request, ids, await provider.context_length(request.model), partial(self._count, provider, load=True),
            how, summarise, (kept.get("through"), kept.get("text")) if kept else None,
        )  # fmt: skip
        g.context = fitted.usage
        if fitted.summary is not None and fitted.summary != (kept.get("through"), kept.get("text")):
            through, text = fitted.summary
            await self.db.in_thread(
                self.store.set_conversation_setting,
                g.conversation_id,
                context.SUMMARY_SETTING,
                {"through": through, "text": text},
            )
        return fitted.request

    def _overflow(self, settings: dict) -> context.Overflow:
        try:
            return context.Overflow(settings.get(context.SETTING) or self.default_overflow)
        except ValueError:
            return context.Overflow(self.default_overflow)

    @staticmethod
    async def _count(provider, request: ChatRequest, *, load: bool) -> tuple[int, bool]:
        """The model's own count where its provider can count, else an estimate (and said so)."""
        counted = await provider.count_tokens(request, load=load)
        return (counted, False) if counted is not None else (context.estimate_tokens(request), True)

    async def context_usage(
        self, conversation_id: str, model: str | None = None, params: GenerationParams | None = None
    ) -> context.ContextUsage:
        """How full the model's context is with the branch on show (what the next message adds to), and
        what the conversation's choice would leave out to fit: the context meter. Never loads a model
        to count (it estimates instead, and says so)."""
        model_ref = await self._resolve_model(conversation_id, model)
        ref = parse_model_ref(model_ref)

        def read(s: Session):
            shown = visible_in(s, conversation_id)
            parent = shown[-1].id if shown else None
            return self._build_request(s, conversation_id, parent, ref.model, params)

        request, _ids, settings = await self.db.run(read)
        try:
            provider = await asyncio.to_thread(partial(self.registry.get, ref.provider, warm=False))
            limit = await provider.context_length(ref.model)
            used, estimated = await self._count(provider, request, load=False)
        except ProviderError:  # no key yet, a model file gone: sending will say so; the meter estimates
            limit, used, estimated = None, context.estimate_tokens(request), True
        return context.ContextUsage(used, limit, estimated, overflow=self._overflow(settings))

    async def _save_final(self, g: Generation, saves: _PartialSaves) -> None:
        """The finished reply into its row, tried again while the database refuses; kept in a
        recovery file when it never accepts (``g.save_error`` then says so in one line)."""
        await saves.close()
        _ = g.text, g.reasoning  # joined here, on the loop's thread: the store reads them on its own
        error: Exception | None = None
        for delay in (*self.save_retry_delays, None):
            try:
                await self.db.in_thread(self.store.finish_reply, g.message_id, g, g.user_message_id)
                return
            except NotFoundError:
                return  # deleted while it streamed: nothing to keep
            except Exception as failure:  # locked, full, or a value SQLite refuses
                error = failure
                log.warning("could not save reply %s: %s", g.message_id, _reason(failure))
            if delay is not None:
                await asyncio.sleep(delay)
        reason = _reason(error) if error is not None else "unknown"
        try:
            path = await asyncio.to_thread(unsaved.keep, g.message_id, ChatStore.reply_fields(g))
        except Exception as failure:
            g.save_error = (
                f"The reply could not be saved ({reason}), nor kept in the data folder ({_reason(failure)})."
            )
        else:
            g.save_error = (
                f"The reply could not be saved ({reason}); it is kept in {path} "
                "and will be restored the next time Dataelan starts."
            )
        log.error("%s", g.save_error)

"""The conversation on show: opening it, sending, regenerating, editing, switching branches, copying,
and painting a streaming reply at display rate. Its widgets (title, chat view, composer) are laid
out by the main window."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QInputDialog, QLabel, QMessageBox, QWidget

from ...core.changes import Changes
from ...core.providers.types import GenerationParams
from .. import ops
from ..settings.chat_page import overflow_default
from .chat_view import ChatView
from .composer import Composer
from .message_widget import MessageView

OVERFLOW_SETTING = "context_overflow"  # the conversation's setting (core/chat/context.py: SETTING)

if TYPE_CHECKING:
    from ...core.chat.store import ConversationView, ShownConversation
    from ..main.shell import Shell

log = logging.getLogger(__name__)
PAINT_INTERVAL_MS = 33  # ~30 Hz: streaming text is coalesced and painted at display rate


def _images(attachments: list[dict]) -> tuple[tuple[str, str], ...]:
    """Each image's name and file in the data folder ("" when the file is not on this device: the
    message then says the picture could not be shown, rather than dropping it unseen)."""
    from ...core.chat.attachments import stored_path

    found = []
    for a in attachments:
        if a.get("kind") == "image":
            path = stored_path(a.get("file") or "")
            found.append((a.get("name") or "image", str(path) if path is not None else ""))
    return tuple(found)


def message_views(shown: ShownConversation) -> list[MessageView]:
    """The visible branch as what the message widgets show (built off the GUI thread)."""
    views = []
    for item in shown.messages:
        m = item.message
        views.append(
            MessageView(
                id=m.id, role=m.role, content=m.content, status=m.status, model=m.model, error=m.error,
                input_tokens=m.input_tokens, output_tokens=m.output_tokens, ttft_ms=m.ttft_ms,
                duration_ms=m.duration_ms, generation_ms=m.generation_ms, usage_estimated=m.usage_estimated,
                stop_reason=m.stop_reason, branch_index=item.branch_index, branch_count=item.branch_count,
                attachments=tuple(a.get("name", "file") for a in m.attachments if a.get("kind") != "image"),
                images=_images(m.attachments), tool=m.tool,
            )
        )  # fmt: skip
    return views


class ConversationPane(QObject):
    opened = Signal(str)  # the id of the conversation now shown
    shown = Signal(object)  # the ConversationView now shown (archived or not, its title…)
    forgotten = Signal()  # the conversation shown was deleted: nothing is shown
    started = Signal()  # a reply began (the sidebar's order and titles change)

    def __init__(self, shell: Shell, title: QLabel, chat_view: ChatView, composer: Composer):
        super().__init__(shell.window)
        self.shell = shell
        self.services = shell.services
        self.title = title
        self.chat_view = chat_view
        self.composer = composer
        self.conversation_id: str | None = None
        self.generation = None
        self.agent_run = None  # an agent's run in progress (its turns become ``generation`` in turn)
        self.paint_timer = QTimer(self)
        self.paint_timer.setInterval(PAINT_INTERVAL_MS)
        self.paint_timer.timeout.connect(self._paint_stream)
        self._painted_length = -1
        self._listed_models: list[str] = []
        self._recent_models: list[str] = []
        self._shown_model: str | None = None  # the model the open conversation put in the picker
        self._conversation = None  # the ConversationView on show

        composer.send_requested.connect(self.send)
        composer.stop_requested.connect(self.stop)
        composer.editor.escape.connect(self.stop)
        chat_view.copy_requested.connect(self.copy_message)
        chat_view.regenerate_requested.connect(self.regenerate)
        chat_view.edit_requested.connect(self.edit_message)
        chat_view.branch_requested.connect(self.switch_branch)
        # the context meter: recounted when the conversation, its model or its choice changes
        self.meter = composer.context_meter
        self.meter.overflow_chosen.connect(self.choose_overflow)
        self.context_timer = QTimer(self)
        self.context_timer.setSingleShot(True)
        self.context_timer.setInterval(300)  # a model name being typed is counted once it rests
        self.context_timer.timeout.connect(self.refresh_context)
        composer.model_picker.currentTextChanged.connect(lambda _text: self.context_timer.start())
        # a cloud model's SDK is made ready while the first message is typed: an everyday start asks
        # no provider for anything (the model lists are cached), so that the idle app stays small
        self._warmed: dict[str, str] = {}  # provider → "asked", "ready" or "failed" (until settings change)
        composer.editor.textChanged.connect(self._warm_up_when_typing)

    def _widget(self) -> QWidget:
        return self.shell.window

    # -- what is shown ---------------------------------------------------------------------

    def open(self, conversation_id: str, quiet: bool = False, focus_message: str | None = None) -> None:
        """Show the conversation; ``quiet``: one that is gone (a remembered id) is passed over in silence."""
        store = self.services.store

        def load() -> tuple[ConversationView, list[MessageView], str | None]:
            shown = store.shown_conversation(conversation_id)
            return shown.conversation, message_views(shown), shown.model

        def done(result: tuple[ConversationView, list[MessageView], str | None]) -> None:
            conversation, views, model = result
            changed = conversation.id != self.conversation_id
            self.conversation_id = conversation.id
            self.shell.settings.setValue("session/last_conversation", conversation.id)
            self.title.setText(conversation.title)
            if changed or model != self._shown_model:
                # its own model, else its project's default; a reload of the same conversation keeps
                # what the person picked meanwhile (until a message takes another)
                self.composer.set_model(model)
                self._shown_model = model
            if changed:
                self._show_agent(conversation)
            run = self.agent_run
            self.chat_view.agent_running = (
                run is not None and not run.done and run.conversation_id == conversation.id
            )
            self.chat_view.set_messages(views)
            self.meter.set_choice(
                conversation.settings.get(OVERFLOW_SETTING) or overflow_default(self.shell.settings)
            )
            self._conversation = conversation
            self.opened.emit(conversation.id)
            self.shown.emit(conversation)
            self.refresh_context()
            self._attach_stream()
            if focus_message:
                widget = self.chat_view.ensure_shown(focus_message)
                if widget is not None:
                    widget.setFocus()

        def failed(failure: ops.Failure) -> None:
            if quiet:
                if self.shell.settings.value("session/last_conversation") == conversation_id:
                    self.shell.settings.remove("session/last_conversation")
                log.info("conversation %s not shown: %s", conversation_id, failure.text)
                return
            QMessageBox.warning(self._widget(), "Dataelan", failure.text)

        ops.query(self, "conversation", load, on_done=done, on_error=failed)

    def reload(self) -> None:
        if self.conversation_id:
            self.open(self.conversation_id, quiet=True)

    def forget(self, conversation_id: str) -> None:
        """The conversation was deleted: show nothing if it was the one on show."""
        if self.conversation_id == conversation_id:
            self.conversation_id = None
            self._shown_model = None
            self.chat_view.set_messages([])
            self.title.setText("")
            self.meter.clear()
            self.forgotten.emit()

    def on_changes(self, changes: Changes) -> None:
        if self.conversation_id and (
            self.conversation_id in changes.messages or self.conversation_id in changes.conversations
        ):
            self.reload()
        if changes.projects and self._conversation is not None and self._conversation.project_id:
            self._show_agent(self._conversation)  # its project's agent may have changed (Project settings)
        if changes.providers:
            self._warmed.clear()  # a changed provider is built anew: warmed again when next typed to
        if changes.providers or changes.local_models:
            self.refresh_models()
        if changes.agents:
            self.refresh_agents()

    def refresh_models(self, fresh: bool = False) -> None:
        """The picker lists every provider's models (as last fetched, unless ``fresh``) and the ones
        recent conversations used."""
        registry, store = self.services.registry, self.services.store

        async def listed():
            return await registry.list_all_models(fresh=fresh)

        def show_listed(result) -> None:
            models, errors = result
            self._listed_models = [m.ref for m in models]
            self._show_models()
            if fresh:
                self.shell.say(f"Model lists refreshed: {len(models)} models.", 4000)
            if errors:
                self.composer.model_picker.setToolTip(
                    "Some providers did not answer:\n" + "\n".join(f"{k}: {v}" for k, v in errors.items())
                )

        def show_recent(refs: list[str]) -> None:
            self._recent_models = refs
            self._show_models()

        quiet = lambda failure: log.warning("listing models failed: %s", failure)  # noqa: E731
        ops.query(self, "models", listed, on_done=show_listed, on_error=quiet)
        local = registry.local()

        def recent() -> list[str]:  # a GGUF opened by its path and listed by its name is one entry
            return local.canonical_refs(store.recent_models())

        ops.query(self, "recent models", recent, on_done=show_recent, on_error=quiet)
        self.refresh_agents()

    def _show_agent(self, conversation) -> None:
        """The picker shows the conversation's agent, else its project's (asked off the GUI thread)."""
        self.composer.set_agent(conversation.agent_id)
        if conversation.agent_id is None and conversation.project_id:
            from ...core.agents.service import agent_store  # (lazy: the agents feature loads when used)

            find = partial(agent_store(self.services).agent_for_conversation, conversation.id)
            ops.query(self, "conversation agent", find,
                      on_done=lambda agent: agent is not None and self.composer.set_agent(agent.id))  # fmt: skip

    def refresh_agents(self) -> None:
        from ...core.agents.service import agent_store  # (lazy: the agents feature loads when used)

        agents = agent_store(self.services)
        quiet = lambda failure: log.warning("listing agents failed: %s", failure)  # noqa: E731
        ops.query(self, "agents", lambda: [(a.id, a.name) for a in agents.agents()],
                  on_done=self.composer.set_agents, on_error=quiet)  # fmt: skip

    def _warm_up_when_typing(self) -> None:
        model = self.composer.model()
        provider = model.partition(":")[0].lower() if model and ":" in model else ""
        registry = self.services.registry
        if not provider or provider == "local":
            return
        state = self._warmed.get(provider)
        if state in ("asked", "failed") or (state == "ready" and registry.network.alive):
            return  # (ready, but the network process stopped while idle: warmed again)
        if not self.composer.editor.toPlainText().strip():
            return
        self._warmed[provider] = "asked"

        def failed(failure: ops.Failure) -> None:  # no key yet, an unknown provider: sending will say so
            self._warmed[provider] = "failed"
            log.info("warming %s up failed: %s", provider, failure.text)

        ops.query(self, f"warm up {provider}", partial(registry.warm_up, provider),
                  on_done=lambda _none: self._warmed.__setitem__(provider, "ready"), on_error=failed)  # fmt: skip

    def _show_models(self) -> None:
        self.composer.set_models(sorted({*self._listed_models, *self._recent_models}))

    # -- the model's context ----------------------------------------------------------------

    def refresh_context(self) -> None:
        """Count how full the model's context is with the branch on show (core counts, off this thread)."""
        conversation_id, model = self.conversation_id, self.composer.model() or None
        if conversation_id is None or model is None or ":" not in model:  # (a name half typed: nothing yet)
            self.meter.clear()
            return
        chat, params = self.services.chat, self.params()

        async def count():
            return await chat.context_usage(conversation_id, model, params)

        def failed(failure: ops.Failure) -> None:
            self.meter.clear()
            log.info("context not counted: %s", failure.text)

        ops.query(self, "context", count, on_done=self.meter.show_usage, on_error=failed)

    def choose_overflow(self, value: str) -> None:
        """This conversation's choice for when it is longer than the context (drop or summarise)."""
        if self.conversation_id is None:
            return
        change = partial(
            self.services.store.set_conversation_setting, self.conversation_id, OVERFLOW_SETTING, value
        )
        ops.change(self, change, on_done=lambda _view: self.refresh_context())

    # -- sending and streaming ------------------------------------------------------------

    def params(self) -> GenerationParams:
        return GenerationParams(
            temperature=self.composer.temperature_value(), max_tokens=self.composer.max_tokens_value()
        )

    def busy(self) -> bool:
        """A reply is being written, or an agent's run is between two turns (running tools)."""
        return (self.generation is not None and not self.generation.done) or (
            self.agent_run is not None and not self.agent_run.done
        )

    def send(self, text: str, attachments: list) -> None:
        if self.busy():
            self.shell.say("A reply is still being written — stop it first (Esc).", 5000)
            return
        model = self.composer.model()
        if not model:
            QMessageBox.information(
                self._widget(),
                "Choose a model",
                "Choose a model first, for example openai:gpt-4o-mini or a local GGUF file.",
            )
            return
        chat, params, project = self.services.chat, self.params(), self.shell.current_project() or None
        if self.composer.agent_id():
            self._send_with_agent(text, self.composer.agent_id(), model, params, project)
            return

        async def go():
            if self.conversation_id is None:
                conversation = await chat.start_conversation(project_id=project, model=model)
                self.conversation_id = conversation.id
            return await chat.send(
                self.conversation_id, text, model=model, params=params, attachments=attachments
            )

        self.composer.clear_after_send()
        ops.change(self, go, on_done=self._started)

    def regenerate(self, message_id: str) -> None:
        chat, model, params = self.services.chat, self.composer.model() or None, self.params()

        async def go():
            return await chat.regenerate(message_id, model=model, params=params)

        ops.change(self, go, on_done=self._started)

    def edit_message(self, message_id: str) -> None:
        def ask(old) -> None:
            text, ok = QInputDialog.getMultiLineText(
                self._widget(), "Edit message", "Your message (sent as a new branch):", old.content
            )
            if ok and text.strip() and text != old.content:
                chat, model, params = self.services.chat, self.composer.model() or None, self.params()

                async def go():
                    return await chat.edit(message_id, text, model=model, params=params)

                ops.change(self, go, on_done=self._started)

        ops.query(self, "dialog", partial(self.services.store.message, message_id), on_done=ask)

    def switch_branch(self, message_id: str, step: int) -> None:
        ops.change(self, partial(self.services.store.switch_branch, message_id, step))

    def _send_with_agent(self, text: str, agent_id: str, model: str, params, project) -> None:
        """An agent answers: each of its turns is shown as it streams, each tool call as a block; a
        call that needs approval asks with a dialog (the window stays responsive meanwhile)."""
        from ...core.agents.service import agent_chat, agent_store, sources_for  # (lazy: feature edge)
        from ..agents.approval_dialog import window_approver

        services, approve = self.services, window_approver(self._widget())

        async def go():
            agent = await ops.blocking(agent_store(services).agent, agent_id)
            if self.conversation_id is None:
                conversation = await services.chat.start_conversation(project_id=project, model=model)
                self.conversation_id = conversation.id
            sources = await sources_for(services, agent)
            run = await agent_chat(services).send(
                self.conversation_id, text, sources, agent=agent, approve=approve,
                model=agent.model or model, params=params,
            )  # fmt: skip
            run.on_turn.append(self._started)  # (before the run's first step: nothing is missed)
            return run

        ops.change(self, go, on_done=self._agent_started)  # (the text stays until the message is saved)

    def _agent_started(self, run) -> None:
        self.composer.clear_after_send()
        self.agent_run = run
        self.chat_view.set_agent_running(True)
        self.composer.set_streaming(True)
        if run.problems:  # a tool source that did not start: the run goes on without its tools
            self.shell.say(" ".join(run.problems), 10000)
        run.task.add_done_callback(lambda _task: self._agent_finished(run))

    def _agent_finished(self, run) -> None:
        if run is not self.agent_run:
            return
        self.chat_view.set_agent_running(False)
        self.composer.set_streaming(self.busy())
        task = run.task
        result = None if task.cancelled() or task.exception() is not None else task.result()
        if task.exception() is not None:
            QMessageBox.warning(self._widget(), "Dataelan", ops.sentence(task.exception()))
        elif result is not None and result.notice:
            # why the agent stopped (a limit, Stop) stays until something else is said: a person who
            # looked away from a long run still reads it
            self.shell.say(result.notice)
        self.reload()

    def _started(self, generation) -> None:
        self.generation = generation
        # the end is awaited, not noticed by the paint tick: a short reply can end before the
        # conversation is shown and the tick starts
        ops.query(self, "generation end", generation.wait, on_done=self._generation_ended)
        self.open(generation.conversation_id)
        self.started.emit()

    def _generation_ended(self, generation) -> None:
        if generation is not self.generation:
            return
        self.composer.set_streaming(self.busy())
        fitted = generation.context
        if fitted is not None and fitted.left_out:
            self.shell.say(fitted.describe(), 10000)

    def _attach_stream(self) -> None:
        g = self.generation
        streaming = g is not None and not g.done and g.conversation_id == self.conversation_id
        self.composer.set_streaming(self.busy())
        if streaming:
            self._painted_length = -1
            self.paint_timer.start()
        else:
            self.paint_timer.stop()

    def _paint_stream(self) -> None:
        g = self.generation
        if g is None:
            self.paint_timer.stop()
            return
        if len(g.text) != self._painted_length:
            self._painted_length = len(g.text)
            self.chat_view.update_streaming(g.message_id, g.text)
        if g.done:
            self.paint_timer.stop()
            self.composer.set_streaming(self.busy())

    def stop(self) -> None:
        if self.agent_run is not None and not self.agent_run.done:
            self.agent_run.stop()
            self.shell.say("Stopping the agent. Everything so far is kept.", 4000)
        elif self.generation is not None and not self.generation.done:
            self.generation.stop()
            self.shell.say("Stopped. The text so far is kept.", 4000)

    # -- copying ---------------------------------------------------------------------------

    def copy_message(self, message_id: str) -> None:
        def copy(message) -> None:
            QGuiApplication.clipboard().setText(message.content)
            self.shell.say("Copied.", 2000)

        ops.query(self, "copy", partial(self.services.store.message, message_id), on_done=copy)

    def copy_last_reply(self) -> None:
        replies = [v for v in self.chat_view.views() if v.role == "assistant"]
        if replies:
            g = self.generation
            text = g.text if g is not None and g.message_id == replies[-1].id else replies[-1].content
            QGuiApplication.clipboard().setText(text)
            self.shell.say("Copied the last reply.", 2000)

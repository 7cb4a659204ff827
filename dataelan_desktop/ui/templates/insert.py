"""Insert a template into the composer: pick one, fill in its variables; its system prompt sets up a
conversation not yet begun."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from .. import ops

if TYPE_CHECKING:
    from ...core.templates import RenderedPrompt, TemplateView
    from ..chat.pane import ConversationPane
    from ..main.shell import Shell
    from .fill_dialog import TemplateFillDialog


class TemplateInserter(QObject):
    def __init__(self, shell: Shell, pane: ConversationPane):
        super().__init__(shell.window)
        self.shell = shell
        self.services = shell.services
        self.pane = pane
        self.dialog: TemplateFillDialog | None = None

    def choose(self) -> None:
        """Pick a template, fill in its variables, and put the prompt in the composer."""
        from .fill_dialog import TemplateFillDialog  # a feature edge: loaded when first used, not at start-up

        def show(templates: list[TemplateView]) -> None:
            if not templates:
                self.shell.say("No templates yet: add one in Tools → Prompt templates….", 6000)
                return
            dialog = TemplateFillDialog(templates, parent=self.shell.window)
            dialog.accepted.connect(lambda: self.use(dialog.template().name, dialog.rendered()))
            self.dialog = dialog
            dialog.open()

        ops.query(self, "templates", self.services.templates.list, on_done=show)

    def use(self, name: str, rendered: RenderedPrompt) -> None:
        """The prompt goes in the composer; the system prompt sets up only a conversation not yet begun
        (put under earlier replies, it would change what they were answers to)."""
        pane = self.pane
        pane.composer.insert_text(rendered.prompt)
        if not rendered.system:
            self.shell.say(f"Inserted the template “{name}”.", 6000)
            return
        store, conversation_id = self.services.store, pane.conversation_id
        project_id, model = self.shell.current_project() or None, pane.composer.model() or None

        def apply() -> str | None:
            if conversation_id is None:
                return store.create_conversation(project_id, rendered.system, model).id
            return (
                conversation_id if store.set_system_prompt_if_new(conversation_id, rendered.system) else None
            )

        def done(applied_to: str | None) -> None:
            if applied_to is None:
                self.shell.say(
                    f"Inserted “{name}”. Its system prompt was not used: this conversation has already begun.",
                    8000,
                )
                return
            if pane.conversation_id is None:
                pane.conversation_id = applied_to  # a message sent right now goes to this conversation
                pane.open(applied_to)
            self.shell.say(f"Inserted “{name}”; its system prompt sets up this conversation.", 8000)

        ops.change(self, apply, on_done=done)

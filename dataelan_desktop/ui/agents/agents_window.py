"""Tools → Agents…: the saved agents, and a form to add, edit or remove one (its model, instructions,
tools, a rule per tool and its limits). Every read and write goes through ``ui/ops``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import ops

if TYPE_CHECKING:
    from ...core.agents.store import AgentView
    from ...core.services import Services

RULES = ("always", "ask", "deny")


def rules_text(policies: dict[str, str]) -> str:
    return ", ".join(f"{tool}={rule}" for tool, rule in sorted(policies.items()))


def parse_rules(text: str) -> dict[str, str]:
    """``calculator=always, write_file=ask`` as a policy; a malformed entry is said, not dropped."""
    rules: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        tool, sep, rule = (part.strip() for part in entry.partition("="))
        if not sep or not tool or rule not in RULES:
            raise ValueError(f"'{entry}' is not a rule: write tool=always, tool=ask or tool=deny.")
        rules[tool] = rule
    return rules


class AgentsWindow(QWidget):
    def __init__(self, services: Services, parent: QWidget | None = None):
        super().__init__(parent)
        from ...core.agents.service import agent_store  # (lazy: the agents feature loads when used)

        self.setWindowTitle("Agents")
        self.store = agent_store(services)
        self.services = services
        self.agents: list[AgentView] = []
        self.editing: str | None = None  # the id of the agent in the form; None: a new one
        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._chosen)
        left.addWidget(self.list, 1)
        self.new_button = QPushButton("New agent")
        self.new_button.clicked.connect(self.new_agent)
        left.addWidget(self.new_button)
        layout.addLayout(left, 1)

        right = QVBoxLayout()
        form = QFormLayout()
        self.name = QLineEdit()
        self.model = QLineEdit()
        self.model.setPlaceholderText("provider:model (empty: the conversation's model)")
        self.instructions = QPlainTextEdit()
        self.instructions.setPlaceholderText("Added to the system prompt")
        self.tools = QLineEdit()
        self.tools.setPlaceholderText("calc, time, search, fetch, files:~/notes, mcp:github")
        self.rules = QLineEdit()
        self.rules.setPlaceholderText("calculator=always, write_file=ask (unlisted: read-only tools always)")
        self.max_steps = QSpinBox()
        self.max_steps.setRange(1, 1000)
        self.tool_timeout = QDoubleSpinBox()
        self.tool_timeout.setRange(1, 24 * 3600)
        self.tool_timeout.setSuffix(" s")
        self.max_cost = QDoubleSpinBox()
        self.max_cost.setRange(0, 1000)
        self.max_cost.setDecimals(
            4
        )  # (a cent-sized limit set with `agents add --max-cost` survives an edit here)
        self.max_cost.setPrefix("$")
        self.max_cost.setSpecialValueText("no limit")
        self.total_time = QDoubleSpinBox()  # (a limit of 90.5 s set from the CLI is kept, not cut to 90)
        self.total_time.setRange(0, 24 * 3600)
        self.total_time.setDecimals(1)
        self.total_time.setSuffix(" s")
        self.total_time.setSpecialValueText("no limit")
        self.max_result = QSpinBox()  # longer tool results reach the model cut, with a note saying so
        self.max_result.setRange(100, 100_000_000)
        self.max_result.setSingleStep(10_000)
        self.max_result.setSuffix(" characters")
        for label, widget in (
            ("Name", self.name), ("Model", self.model), ("Instructions", self.instructions),
            ("Tools", self.tools), ("Approvals", self.rules), ("Maximum steps", self.max_steps),
            ("Time per tool call", self.tool_timeout), ("Maximum cost", self.max_cost), ("Total time", self.total_time),
            ("Longest tool result", self.max_result),
        ):  # fmt: skip
            form.addRow(label, widget)
        right.addLayout(form)
        self.error = QLabel()
        self.error.setObjectName("messageStatus")
        self.error.setWordWrap(True)
        right.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.save_button)
        right.addLayout(buttons)
        layout.addLayout(right, 2)
        self.resize(760, 460)
        self.new_agent()
        self.refresh()

    # -- reading ---------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        def show(agents: list[AgentView]) -> None:
            self.agents = agents
            self.list.blockSignals(True)
            self.list.clear()
            for agent in agents:
                item = QListWidgetItem(agent.name)
                item.setData(256, agent.id)
                self.list.addItem(item)
                if agent.id == (select or self.editing):
                    self.list.setCurrentItem(item)
            self.list.blockSignals(False)

        ops.query(self, "agents", self.store.agents, on_done=show)

    def _chosen(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        agent = next((a for a in self.agents if item is not None and a.id == item.data(256)), None)
        if agent is not None:
            self.show_agent(agent)

    def new_agent(self) -> None:
        from ...core.agents.loop import Limits

        self.editing = None
        self.list.setCurrentRow(-1)  # (choosing the same agent again then shows it again)
        for field in (self.name, self.model, self.tools, self.rules):
            field.clear()
        self.instructions.clear()
        defaults = Limits()
        self.max_steps.setValue(defaults.max_steps)
        self.tool_timeout.setValue(defaults.tool_timeout)
        self.max_cost.setValue(0)
        self.total_time.setValue(0)
        self.max_result.setValue(defaults.max_result_chars)
        self.delete_button.setEnabled(False)
        self.error.clear()
        self.name.setFocus()

    def show_agent(self, agent: AgentView) -> None:
        self.editing = agent.id
        self.name.setText(agent.name)
        self.model.setText(agent.model or "")
        self.instructions.setPlainText(agent.instructions or "")
        self.tools.setText(", ".join(agent.tools))
        self.rules.setText(rules_text(agent.policies))
        limits = agent.loop_limits
        self.max_steps.setValue(limits.max_steps)
        self.tool_timeout.setValue(limits.tool_timeout)
        self.max_cost.setValue(limits.max_cost or 0)
        self.total_time.setValue(limits.total_seconds or 0)
        self.max_result.setValue(limits.max_result_chars)
        self.delete_button.setEnabled(True)
        self.error.clear()

    # -- writing -----------------------------------------------------------------------------

    def _fields(self) -> dict[str, Any]:
        from ...core.agents.builtin import parse_tool_sets
        from ...core.connections.registry import parse_model_ref

        tools = [t.strip() for t in self.tools.text().split(",") if t.strip()]
        parse_tool_sets(tools)  # an unknown tool or a missing folder: said before saving
        model = self.model.text().strip()
        return {
            "name": self.name.text().strip(),
            "model": str(parse_model_ref(model)) if model else None,
            "instructions": self.instructions.toPlainText().strip() or None,
            "tools": tools,
            "policies": parse_rules(self.rules.text()),
            "limits": {
                "max_steps": self.max_steps.value(),
                "tool_timeout": self.tool_timeout.value(),
                "max_cost": self.max_cost.value() or None,
                "total_seconds": self.total_time.value() or None,
                "max_result_chars": self.max_result.value(),
            },  # fmt: skip
        }

    def _failed(self, failure: ops.Failure) -> None:
        self.error.setText(failure.text)

    def save(self) -> None:
        try:
            fields = self._fields()
        except ValueError as error:  # what the person typed: said here, nothing saved
            self.error.setText(str(error))
            return
        fields["limits"] = {k: v for k, v in fields["limits"].items() if v is not None}
        editing, store = self.editing, self.store

        def write() -> AgentView:
            if editing is None:
                return store.add(fields.pop("name"), **fields)
            return store.update(editing, **fields)

        def saved(agent: AgentView) -> None:
            self.editing = agent.id
            self.delete_button.setEnabled(True)
            self.error.clear()
            self.refresh(select=agent.id)

        ops.change(self, write, on_done=saved, on_error=self._failed)

    def delete(self) -> None:
        if self.editing is None:
            return
        agent_id, store = self.editing, self.store
        ops.change(self, lambda: store.remove(agent_id), on_done=lambda _a: (self.new_agent(), self.refresh()),
                   on_error=self._failed)  # fmt: skip

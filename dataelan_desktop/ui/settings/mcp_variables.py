"""The environment variables (or HTTP headers) of an MCP server: name, value, and whether it is a secret.

A secret's value is typed masked and goes to the keyring; a stored secret is never shown back (its
field stays empty, saying a value is kept; typing replaces it).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ...core.agents.mcp.config import looks_secret

KEPT = "kept in the keyring — type to replace"


@dataclass(frozen=True)
class Variables:
    plain: dict[str, str]
    secret_names: frozenset[str]
    secret_values: dict[str, str]  # only the secrets a value was typed for


class VariableRow(QWidget):
    def __init__(self, name: str = "", value: str = "", secret: bool = False, stored: bool = False):
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.name = QLineEdit(name)
        self.name.setPlaceholderText("NAME")
        self.value = QLineEdit(value)
        self.secret = QCheckBox("secret")
        self.secret.setToolTip("Kept in the system keyring, never in the app's files, and not shown again")
        self.remove = QPushButton("✕")
        self.remove.setAccessibleName("Remove this variable")
        self.remove.setFixedWidth(28)
        layout.addWidget(self.name, 2)
        layout.addWidget(self.value, 3)
        layout.addWidget(self.secret)
        layout.addWidget(self.remove)
        self.secret.toggled.connect(self._masked)
        self.name.editingFinished.connect(self._guess_secret)
        self.secret.setChecked(secret)
        self._masked(secret)
        self._guessed = secret
        if stored:
            self.value.setPlaceholderText(KEPT)

    def _guess_secret(self) -> None:
        # GITHUB_TOKEN, Authorization…: a secret unless the person unticks it
        if looks_secret(self.name.text().strip()) and not self.secret.isChecked() and not self._guessed:
            self._guessed = True
            self.secret.setChecked(True)

    def _masked(self, secret: bool) -> None:
        self.value.setEchoMode(QLineEdit.EchoMode.Password if secret else QLineEdit.EchoMode.Normal)


class VariablesEditor(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._rows_box = QVBoxLayout()
        self._layout.addLayout(self._rows_box)
        self.add_button = QPushButton("Add variable")
        self.add_button.clicked.connect(lambda: self.add_row().name.setFocus())
        self._layout.addWidget(self.add_button)
        self.rows: list[VariableRow] = []

    def set_label(self, noun: str) -> None:
        self.add_button.setText(f"Add {noun}")

    def add_row(
        self, name: str = "", value: str = "", secret: bool = False, stored: bool = False
    ) -> VariableRow:
        row = VariableRow(name, value, secret, stored)
        row.remove.clicked.connect(lambda: self._drop(row))
        self.rows.append(row)
        self._rows_box.addWidget(row)
        return row

    def _drop(self, row: VariableRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()

    def load(self, plain: dict[str, str], secret_names: frozenset[str]) -> None:
        for row in list(self.rows):
            self._drop(row)
        for name, value in sorted(plain.items()):
            self.add_row(name, value)
        for name in sorted(secret_names):
            self.add_row(name, secret=True, stored=True)

    def read(self) -> Variables:
        """What the rows say; a row with a value but no name is an error (ValueError, for the page)."""
        plain: dict[str, str] = {}
        names: set[str] = set()
        values: dict[str, str] = {}
        for row in self.rows:
            name, value = row.name.text().strip(), row.value.text()
            if not name:
                if value.strip():
                    raise ValueError("A variable has a value but no name.")
                continue
            if name in plain or name in names:
                raise ValueError(f"{name} is given twice.")
            if row.secret.isChecked():
                names.add(name)
                if value.strip():
                    values[name] = value.strip()
            else:
                plain[name] = value
        return Variables(plain, frozenset(names), values)

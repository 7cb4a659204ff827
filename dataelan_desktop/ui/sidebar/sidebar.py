"""Projects and their conversations, with search over every message."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.search import MARK_END, MARK_START, SearchHit

ID_ROLE = Qt.ItemDataRole.UserRole
KIND_ROLE = Qt.ItemDataRole.UserRole + 1
NO_PROJECT = ""


@dataclass(frozen=True)
class ConversationRow:
    id: str
    title: str
    pinned: bool
    project_id: str | None


@dataclass(frozen=True)
class ProjectRow:
    id: str
    name: str


class Sidebar(QWidget):
    conversation_selected = Signal(str)
    project_selected = Signal(str)  # "" for "no project"
    new_conversation_requested = Signal(str)  # project id or ""
    new_project_requested = Signal()
    rename_requested = Signal(str)
    pin_requested = Signal(str, bool)
    archive_requested = Signal(str)
    unarchive_requested = Signal(str)
    archived_view_toggled = Signal(bool)  # the Archived view was opened (True) or left
    delete_requested = Signal(str)
    project_settings_requested = Signal(str)
    project_delete_requested = Signal(str)
    search_changed = Signal(str)
    more_requested = Signal()  # list older conversations too
    hit_activated = Signal(object)  # SearchHit

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search all messages  (Ctrl+K)")
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        buttons = QHBoxLayout()
        self.new_chat = QPushButton("New chat")
        self.new_chat.setToolTip("New conversation (Ctrl+N)")
        self.new_chat.clicked.connect(lambda: self.new_conversation_requested.emit(self.current_project_id()))
        self.new_project = QPushButton("New project")
        self.new_project.clicked.connect(self.new_project_requested)
        self.archived_button = QPushButton("Archived")
        self.archived_button.setObjectName("archivedButton")
        self.archived_button.setCheckable(True)
        self.archived_button.setToolTip("Show the archived conversations (and unarchive them)")
        self.archived_button.toggled.connect(self._archived_toggled)
        buttons.addWidget(self.new_chat)
        buttons.addWidget(self.new_project)
        buttons.addWidget(self.archived_button)
        layout.addLayout(buttons)

        self.archived_heading = QLabel("Archived conversations — right-click one to unarchive it")
        self.archived_heading.setObjectName("messageHeader")
        self.archived_heading.setWordWrap(True)
        self.archived_heading.setVisible(False)
        layout.addWidget(self.archived_heading)
        self.stack = QStackedWidget()
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemClicked.connect(self._activated)
        self.results = QListWidget()
        self.results.setObjectName("searchResults")
        self.results.setWordWrap(True)
        self.results.itemActivated.connect(self._hit)
        self.results.itemClicked.connect(self._hit)
        self.archived = QListWidget()
        self.archived.setObjectName("archivedList")
        self.archived.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.archived.customContextMenuRequested.connect(self._archived_menu)
        self.archived.itemActivated.connect(self._archived_activated)
        self.archived.itemClicked.connect(self._archived_activated)
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.results)
        self.stack.addWidget(self.archived)
        layout.addWidget(self.stack, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)  # search as you type, without a query per keystroke
        self._debounce.timeout.connect(lambda: self.search_changed.emit(self.search.text()))
        self.search.textChanged.connect(self._typed)
        self.search.returnPressed.connect(self._first_hit)

    # -- tree ----------------------------------------------------------------------

    def set_content(
        self,
        projects: list[ProjectRow],
        conversations: list[ConversationRow],
        selected: str | None,
        more: int = 0,
    ) -> None:
        """Fill the tree; ``more`` older conversations exist beyond those given (a "Show more" row)."""
        expanded = {
            self.tree.topLevelItem(i).data(0, ID_ROLE)
            for i in range(self.tree.topLevelItemCount())
            if self.tree.topLevelItem(i).isExpanded()
        }
        first_fill = self.tree.topLevelItemCount() == 0
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for project_id, name in [(NO_PROJECT, "Chats"), *((p.id, p.name) for p in projects)]:
            item = QTreeWidgetItem([name])
            item.setData(0, ID_ROLE, project_id)
            item.setData(0, KIND_ROLE, "project")
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            self.tree.addTopLevelItem(item)
            groups[project_id] = item
        for c in conversations:
            parent = groups.get(c.project_id or NO_PROJECT)
            if parent is None:
                continue
            child = QTreeWidgetItem([("★ " if c.pinned else "") + c.title])
            child.setData(0, ID_ROLE, c.id)
            child.setData(0, KIND_ROLE, "conversation")
            child.setToolTip(0, c.title)
            parent.addChild(child)
            if c.id == selected:
                self.tree.setCurrentItem(child)
        for project_id, item in groups.items():
            item.setExpanded(
                first_fill or project_id in expanded or project_id == NO_PROJECT or item.childCount() < 30
            )
        if more > 0:
            item = QTreeWidgetItem([f"Show {more:,} older conversation{'s' if more != 1 else ''}…"])
            item.setData(0, KIND_ROLE, "more")
            item.setToolTip(0, "Older conversations are listed on request; search finds them all")
            self.tree.addTopLevelItem(item)

    def select_conversation(self, conversation_id: str) -> None:
        """Mark the conversation on show (a new one too) as the current row, where it is listed."""
        for item in self.conversation_items():
            if item.data(0, ID_ROLE) == conversation_id:
                self.tree.setCurrentItem(item)
                return
        for row in range(self.archived.count()):
            if self.archived.item(row).data(ID_ROLE) == conversation_id:
                self.archived.setCurrentRow(row)
                return

    def current_project_id(self) -> str:
        item = self.tree.currentItem()
        if item is None:
            return NO_PROJECT
        if item.data(0, KIND_ROLE) == "project":
            return item.data(0, ID_ROLE)
        return item.parent().data(0, ID_ROLE) if item.parent() else NO_PROJECT

    def conversation_items(self) -> list[QTreeWidgetItem]:
        items = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            items += [group.child(j) for j in range(group.childCount())]
        return items

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        if item.data(0, KIND_ROLE) == "more":
            self.more_requested.emit()
        elif item.data(0, KIND_ROLE) == "conversation":
            self.conversation_selected.emit(item.data(0, ID_ROLE))
        else:
            self.project_selected.emit(item.data(0, ID_ROLE))

    def _menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None or item.data(0, KIND_ROLE) == "more":
            return
        menu = QMenu(self)
        item_id = item.data(0, ID_ROLE)
        if item.data(0, KIND_ROLE) == "conversation":
            pinned = item.text(0).startswith("★ ")
            for text, slot in (
                ("Rename…", lambda: self.rename_requested.emit(item_id)),
                ("Unpin" if pinned else "Pin", lambda: self.pin_requested.emit(item_id, not pinned)),
                ("Archive", lambda: self.archive_requested.emit(item_id)),
                ("Delete", lambda: self.delete_requested.emit(item_id)),
            ):
                menu.addAction(QAction(text, menu, triggered=slot))
        else:
            menu.addAction(
                QAction(
                    "New conversation here",
                    menu,
                    triggered=lambda: self.new_conversation_requested.emit(item_id),
                )
            )
            if item_id:
                menu.addAction(
                    QAction(
                        "Project settings…",
                        menu,
                        triggered=lambda: self.project_settings_requested.emit(item_id),
                    )
                )
                menu.addAction(
                    QAction(
                        "Delete project", menu, triggered=lambda: self.project_delete_requested.emit(item_id)
                    )
                )
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    # -- the archived view ------------------------------------------------------------

    def showing_archived(self) -> bool:
        return self.archived_button.isChecked()

    def _archived_toggled(self, shown: bool) -> None:
        self.archived_button.setText("Back to chats" if shown else "Archived")
        self.archived_heading.setVisible(shown)
        if not self.search.text().strip():
            self.stack.setCurrentWidget(self.archived if shown else self.tree)
        self.archived_view_toggled.emit(shown)

    def set_archived(self, conversations: list[ConversationRow], selected: str | None) -> None:
        self.archived.clear()
        if not conversations:
            item = QListWidgetItem("No archived conversations.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.archived.addItem(item)
            return
        for c in conversations:
            item = QListWidgetItem(c.title)
            item.setData(ID_ROLE, c.id)
            item.setToolTip(f"{c.title}\nRight-click to unarchive")
            self.archived.addItem(item)
            if c.id == selected:
                self.archived.setCurrentItem(item)

    def archived_items(self) -> list[QListWidgetItem]:
        items = [self.archived.item(i) for i in range(self.archived.count())]
        return [item for item in items if item.data(ID_ROLE) is not None]

    def _archived_activated(self, item: QListWidgetItem) -> None:
        if item.data(ID_ROLE) is not None:
            self.conversation_selected.emit(item.data(ID_ROLE))

    def _archived_menu(self, pos) -> None:
        item = self.archived.itemAt(pos)
        if item is None or item.data(ID_ROLE) is None:
            return
        item_id = item.data(ID_ROLE)
        menu = QMenu(self)
        menu.addAction(QAction("Unarchive", menu, triggered=lambda: self.unarchive_requested.emit(item_id)))
        menu.addAction(QAction("Delete", menu, triggered=lambda: self.delete_requested.emit(item_id)))
        menu.exec(self.archived.viewport().mapToGlobal(pos))

    # -- search --------------------------------------------------------------------

    def _typed(self, text: str) -> None:
        if not text.strip():
            self.stack.setCurrentWidget(self.archived if self.showing_archived() else self.tree)
            self.results.clear()
            return
        self._debounce.start()

    def show_hits(self, hits: list[SearchHit]) -> None:
        self.results.clear()
        self.stack.setCurrentWidget(self.results)
        if not hits:
            item = QListWidgetItem("No messages match.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.results.addItem(item)
            return
        for hit in hits:
            snippet = hit.snippet.replace(MARK_START, "«").replace(MARK_END, "»").replace("\n", " ")
            title = f"{hit.conversation_title} (archived)" if hit.archived else hit.conversation_title
            item = QListWidgetItem(f"{title}\n{'You' if hit.role == 'user' else 'Reply'}: {snippet}")
            item.setData(ID_ROLE, hit)
            self.results.addItem(item)

    def _hit(self, item: QListWidgetItem) -> None:
        hit = item.data(ID_ROLE)
        if hit is not None:
            self.hit_activated.emit(hit)

    def _first_hit(self) -> None:
        if self.results.count() and self.results.item(0).data(ID_ROLE) is not None:
            self._hit(self.results.item(0))

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

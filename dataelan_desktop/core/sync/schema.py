"""What syncs: the declared tables and fields (names as in ``core/db/tables.py``).

Each table has *immutable* fields, written once when the row is inserted (a message's text, its
parent), and *mutable* fields, each a last-writer-wins register (a title, a pin, ``deleted_at``,
the tombstone). *Sealed* fields hold people's words and are encrypted on the device when a sync
passphrase is set. Adding a table to sync (workflows, agents) is one entry in ``TABLES``.

Never synced: API keys (keyring), local model files and their table, provider settings, and
per-device view state such as which branch a conversation shows (``conversation_views``), and MCP
servers (``mcp_servers``: a command and its folders only make sense on the machine that has them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncTable:
    name: str
    immutable: frozenset[str]
    mutable: frozenset[str]
    sealed: frozenset[str] = frozenset()

    def __post_init__(self):
        assert not self.immutable & self.mutable, self.name
        assert self.sealed <= self.immutable | self.mutable, self.name
        assert "deleted_at" in self.mutable, f"{self.name} needs its tombstone"


def _table(name: str, immutable: str, mutable: str, sealed: str = "") -> SyncTable:
    return SyncTable(
        name,
        frozenset(immutable.split()),
        frozenset(mutable.split() + ["deleted_at"]),
        frozenset(sealed.split()),
    )


TABLES: dict[str, SyncTable] = {
    t.name: t
    for t in (
        _table(
            "projects",
            "created_at",
            "name instructions default_model sort_order agent_id",
            "name instructions",
        ),
        _table(
            "conversations",
            "created_at",
            "project_id title title_is_automatic system_prompt model pinned archived settings agent_id",
            "title system_prompt",
        ),
        # Messages never change: an edit or a regeneration is a new message on a new branch.
        _table(
            "messages",
            "created_at conversation_id parent_id role content reasoning status model error stop_reason "
            "input_tokens output_tokens ttft_ms duration_ms attachments tool",
            "",
            "content reasoning attachments error tool",
        ),
        _table(
            "prompt_templates",
            "created_at builtin_key",
            "name body system_prompt category description",
            "name body system_prompt description",
        ),
        _table(
            "tester_runs",
            "created_at kind prompt system_prompt category blind settings columns",
            "",
            "prompt system_prompt columns",
        ),
        _table("tester_votes", "created_at run_id left_model right_model outcome category", ""),
        # Workflow definitions sync; their runs stay on the device that ran them (a run names its
        # process, and a resume belongs where the models it used are).
        _table(
            "workflows", "created_at builtin_key", "name description version yaml", "name description yaml"
        ),
        # an agent's folder grants (files:DIR) are paths of this machine, synced as written
        _table("agents", "created_at", "name model instructions tools policies limits", "name instructions"),
    )
}


def table(name: str) -> SyncTable:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a synced table") from None

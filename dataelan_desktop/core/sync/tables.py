"""The sync client's own tables in the app database (written only by ``core/sync/store.py`` and the
capture hook it installs): the outbox of stamped operations, the device's sync state, and per synced
row and field the stamp last applied (the last-writer-wins registers' stamps, and their values).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db.tables import Base

#: the register "field" that marks a row's insert as recorded (sent or received): not a column name
INSERTED = ""


class SyncOutboxRow(Base):
    """One operation waiting to be pushed; removed only once the server has answered for it."""

    __tablename__ = "sync_outbox"

    op_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(8))  # insert | set
    field: Mapped[str | None] = mapped_column(String(64), default=None)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    hlc: Mapped[str] = mapped_column(String(60))


class SyncStateRow(Base):
    """This device's sync settings and progress: one row (id 1). The token is in the keyring, not here."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    server_url: Mapped[str | None] = mapped_column(String(500), default=None)
    user: Mapped[str | None] = mapped_column(String(200), default=None)
    #: this device's id, kept across sign-outs (its op ids go on counting on the server)
    device_id: Mapped[str | None] = mapped_column(String(36), default=None)
    device_name: Mapped[str | None] = mapped_column(String(200), default=None)
    #: capture runs only while signed in; a sign-in records what changed while signed out
    signed_in: Mapped[bool] = mapped_column(default=False)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    clock: Mapped[str | None] = mapped_column(String(60), default=None)
    next_op_id: Mapped[int] = mapped_column(Integer, default=1)
    encrypted: Mapped[bool] = mapped_column(default=False)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class SyncRegisterRow(Base):
    """The stamp (and value) of a synced field as this device last wrote or applied it."""

    __tablename__ = "sync_registers"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)  # INSERTED for the row's insert
    hlc: Mapped[str] = mapped_column(String(60))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)

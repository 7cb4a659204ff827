"""The server's tables, each keyed by user first so the server can shard by user (Citus)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ServerBase(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


def _stamp_column() -> String:
    # Stamps compare as strings in SQL; on PostgreSQL the C collation makes that byte order.
    return String(64).with_variant(String(64, collation="C"), "postgresql")


class User(ServerBase):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: salt, KDF cost and check value of the person's sync passphrase (not secret); None: not encrypted
    seal_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class UserVersion(ServerBase):
    """The user's change counter, locked by every push: sequence numbers are given in commit order."""

    __tablename__ = "user_versions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Device(ServerBase):
    __tablename__ = "devices"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # made on the device
    name: Mapped[str] = mapped_column(String(200), default="")
    #: SHA-256 of the device's token; the token itself is never stored
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_op_id: Mapped[int] = mapped_column(BigInteger, default=0)


class OpLog(ServerBase):
    """Which device operations are stored: a replayed push finds its op ids here and changes nothing."""

    __tablename__ = "op_log"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    op_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class Row(ServerBase):
    """An inserted row's immutable fields, as first inserted."""

    __tablename__ = "sync_rows"
    __table_args__ = (Index("ix_sync_rows_user_seq", "user_id", "seq"),)

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    hlc: Mapped[str] = mapped_column(_stamp_column())
    seq: Mapped[int] = mapped_column(BigInteger)


class Register(ServerBase):
    """A mutable field's current value and stamp, and the seq it last changed at (what a pull reads)."""

    __tablename__ = "sync_registers"
    __table_args__ = (Index("ix_sync_registers_user_seq", "user_id", "seq"),)

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON(none_as_null=False), nullable=True)
    hlc: Mapped[str] = mapped_column(_stamp_column())
    seq: Mapped[int] = mapped_column(BigInteger)


class LoginThrottle(ServerBase):
    """Failed sign-ins per key ("user:NAME", "ip:ADDRESS"), in the database so every worker agrees."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))

"""The sync server's first schema: users, devices, the op log, rows, registers, sign-in throttle.

Revision ID: s0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "s0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamp():
    return sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seal_params", sa.JSON(), nullable=True),
    )
    op.create_table(
        "user_versions",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_op_id", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "op_log",
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.String(36), primary_key=True),
        sa.Column("op_id", sa.BigInteger(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "sync_rows",
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("table_name", sa.String(64), primary_key=True),
        sa.Column("row_id", sa.String(36), primary_key=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("hlc", _stamp(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_sync_rows_user_seq", "sync_rows", ["user_id", "seq"])
    op.create_table(
        "sync_registers",
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("table_name", sa.String(64), primary_key=True),
        sa.Column("row_id", sa.String(36), primary_key=True),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("hlc", _stamp(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_sync_registers_user_seq", "sync_registers", ["user_id", "seq"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in (
        "login_throttle",
        "sync_registers",
        "sync_rows",
        "op_log",
        "devices",
        "user_versions",
        "users",
    ):
        op.drop_table(name)

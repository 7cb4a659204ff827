"""sync client: the outbox of stamped operations, the device's sync state, and field registers

Revision ID: 0008_sync_client
Revises: 0009_last_message_at
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_sync_client"
down_revision = "0009_last_message_at"  # chained after the migrations that landed first
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_outbox",
        sa.Column("op_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("hlc", sa.String(length=60), nullable=False),
    )
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("server_url", sa.String(length=500), nullable=True),
        sa.Column("user", sa.String(length=200), nullable=True),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("device_name", sa.String(length=200), nullable=True),
        sa.Column("signed_in", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("clock", sa.String(length=60), nullable=True),
        sa.Column("next_op_id", sa.Integer(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_table(
        "sync_registers",
        sa.Column("table_name", sa.String(length=64), primary_key=True),
        sa.Column("row_id", sa.String(length=36), primary_key=True),
        sa.Column("field", sa.String(length=64), primary_key=True),
        sa.Column("hlc", sa.String(length=60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("sync_registers")
    op.drop_table("sync_state")
    op.drop_table("sync_outbox")

"""per-device view state: which branch a conversation shows leaves the synced conversations table

Revision ID: 0004_view_state
Revises: 0004_reply_measures
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_view_state"
down_revision = "0004_reply_measures"  # both 0004s were written at once
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_views",
        sa.Column(
            "conversation_id",
            sa.String(length=36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("current_leaf_id", sa.String(length=36), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO conversation_views (conversation_id, current_leaf_id, updated_at) "
        "SELECT id, current_leaf_id, updated_at FROM conversations WHERE current_leaf_id IS NOT NULL"
    )
    # SQLite (3.35+) drops a plain column in place: no table rebuild, the messages' foreign keys stay
    op.execute("ALTER TABLE conversations DROP COLUMN current_leaf_id")


def downgrade() -> None:
    op.execute("ALTER TABLE conversations ADD COLUMN current_leaf_id VARCHAR(36)")
    op.execute(
        "UPDATE conversations SET current_leaf_id = "
        "(SELECT v.current_leaf_id FROM conversation_views v WHERE v.conversation_id = conversations.id)"
    )
    op.drop_table("conversation_views")

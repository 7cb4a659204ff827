"""first-hour fixes, second part: when each conversation last had a message (lists order by it, not
by the last change); a revision of its own because 0009_context_fit had already landed

Revision ID: 0009_last_message_at
Revises: 0006_agents
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_last_message_at"
down_revision = "0006_agents"  # chained after the migrations that landed first
branch_labels = None
depends_on = None


def upgrade() -> None:
    # derived from the messages by ChatStore (never synced): filled in for the conversations there are
    op.add_column("conversations", sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE conversations SET last_message_at = (SELECT max(m.created_at) FROM messages m "
        "WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL)"
    )


def downgrade() -> None:
    op.drop_column("conversations", "last_message_at")

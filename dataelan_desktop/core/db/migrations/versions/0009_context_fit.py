"""first-hour fixes: remember, per message, which child (reply or edit) this device showed last

Revision ID: 0009_context_fit
Revises: 0007_mcp_servers
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_context_fit"
down_revision = "0007_mcp_servers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # per-device view state, like current_leaf_id beside it: never synced
    op.add_column(
        "conversation_views", sa.Column("chosen", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    )


def downgrade() -> None:
    op.drop_column("conversation_views", "chosen")

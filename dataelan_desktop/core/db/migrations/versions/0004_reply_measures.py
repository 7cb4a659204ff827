"""a reply's generation time and whether its token count is an estimate

Revision ID: 0004_reply_measures
Revises: 0003_templates
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_reply_measures"
down_revision = "0003_templates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the speed shown for a reply is its tokens over the generating side's first-to-last-token time;
    # replies saved before have none and keep the speed measured on arrival
    # plain ADD COLUMN (no table copy): the full-text triggers on messages stay as they are
    op.add_column("messages", sa.Column("generation_ms", sa.Double(), nullable=True))
    op.add_column(
        "messages", sa.Column("usage_estimated", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("messages", "usage_estimated")  # SQLite 3.35+ drops a column in place
    op.drop_column("messages", "generation_ms")

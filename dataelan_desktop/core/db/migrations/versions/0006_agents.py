"""agents: saved agent profiles; tool calls and results on messages; a conversation's or project's agent

Revision ID: 0006_agents
Revises: 0005_workflows
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_agents"
down_revision = "0005_workflows"  # chained after the migrations that landed first
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("tools", sa.JSON(), nullable=False),
        sa.Column("policies", sa.JSON(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
    )
    # plain columns added in place (no table rebuild): the messages' foreign keys stay as they are
    op.execute("ALTER TABLE messages ADD COLUMN tool JSON")
    op.execute("ALTER TABLE conversations ADD COLUMN agent_id VARCHAR(36)")
    op.execute("ALTER TABLE projects ADD COLUMN agent_id VARCHAR(36)")


def downgrade() -> None:
    op.execute("ALTER TABLE projects DROP COLUMN agent_id")
    op.execute("ALTER TABLE conversations DROP COLUMN agent_id")
    op.execute("ALTER TABLE messages DROP COLUMN tool")
    op.drop_table("agents")

"""model tester: runs and votes

Revision ID: 0002_tester
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_tester"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "tester_runs",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        *_stamps(),
    )
    op.create_table(
        "tester_votes",
        sa.Column("run_id", sa.String(length=36), sa.ForeignKey("tester_runs.id"), nullable=False),
        sa.Column("left_model", sa.String(length=300), nullable=False),
        sa.Column("right_model", sa.String(length=300), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        *_stamps(),
    )
    op.create_index("ix_tester_votes_run_id", "tester_votes", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_tester_votes_run_id", "tester_votes")
    op.drop_table("tester_votes")
    op.drop_table("tester_runs")

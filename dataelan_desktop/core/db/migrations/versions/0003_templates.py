"""prompt templates

Revision ID: 0003_templates
Revises: 0002_tester
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_templates"
down_revision = "0002_tester"
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
        "prompt_templates",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("builtin_key", sa.String(length=100), nullable=True),
        *_stamps(),
    )
    # unique: two processes seeding the built-ins at once cannot both insert one
    op.create_index("ix_prompt_templates_builtin_key", "prompt_templates", ["builtin_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_prompt_templates_builtin_key", "prompt_templates")
    op.drop_table("prompt_templates")

"""task instance: a mapped task instance's label, its task's map_index_template rendered

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, without a default: adding it rewrites no row on PostgreSQL or SQLite.
    with op.batch_alter_table("task_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rendered_map_index", sa.String(length=250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_instance", schema=None) as batch_op:
        batch_op.drop_column("rendered_map_index")

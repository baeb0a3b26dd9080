"""task instance: an index of each run's scheduled task instances, best first

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SCHEDULED = sa.text("coalesce(state, '') = 'scheduled'")


def upgrade() -> None:
    op.create_index(
        "idx_task_instance_scheduled",
        "task_instance",
        ["dag_id", "run_id", sa.text("priority_weight DESC"), "task_id", "map_index"],
        unique=False,
        postgresql_where=_SCHEDULED,
        sqlite_where=_SCHEDULED,
    )


def downgrade() -> None:
    op.drop_index("idx_task_instance_scheduled", table_name="task_instance")

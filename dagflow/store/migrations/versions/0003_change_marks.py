"""marks that tell cheaply whether a run or a DAG's task instances changed

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dag_run") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("idx_dag_run_updated_at", "dag_run", ["updated_at"])
    op.create_index("idx_task_instance_dag_updated_at", "task_instance", ["dag_id", "updated_at"])
    op.create_index("idx_dag_last_parsed_at", "dag", ["last_parsed_at"])
    op.create_index("idx_dag_active_paused", "dag", ["is_active", "is_paused"])


def downgrade() -> None:
    op.drop_index("idx_dag_active_paused", table_name="dag")
    op.drop_index("idx_dag_last_parsed_at", table_name="dag")
    op.drop_index("idx_task_instance_dag_updated_at", table_name="task_instance")
    op.drop_index("idx_dag_run_updated_at", table_name="dag_run")
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_column("updated_at")

"""compensation: the run's compensation state, each compensation's current try and its history

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.String(length=250)
_WHEN = sa.DateTime(timezone=True)


def _run_fkey(name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], name=name, ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("dag_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("compensation_state", sa.String(length=32), server_default="none", nullable=False)
        )
        batch_op.create_index("idx_dag_run_compensation_state", ["compensation_state"], unique=False)
    op.create_table(
        "compensation_instance",
        sa.Column("dag_id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("forward_try_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("queued_at", _WHEN, nullable=True),
        sa.Column("start_date", _WHEN, nullable=True),
        sa.Column("end_date", _WHEN, nullable=True),
        sa.Column("not_before", _WHEN, nullable=True),
        sa.Column("hostname", _ID, nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("heartbeat_at", _WHEN, nullable=True),
        sa.Column("attempt_token", sa.String(length=64), nullable=True),
        sa.Column("queued_by_job_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_path", sa.Text(), nullable=True),
        _run_fkey("compensation_instance_dag_run_fkey"),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index"),
    )
    op.create_index("idx_compensation_instance_state", "compensation_instance", ["state"], unique=False)
    op.create_table(
        "compensation_try",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("task_id", _ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("start_date", _WHEN, nullable=True),
        sa.Column("end_date", _WHEN, nullable=True),
        sa.Column("hostname", _ID, nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_path", sa.Text(), nullable=True),
        _run_fkey("compensation_try_dag_run_fkey"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "dag_id", "run_id", "task_id", "map_index", "try_number", name="compensation_try_key"
        ),
    )


def downgrade() -> None:
    op.drop_table("compensation_try")
    op.drop_index("idx_compensation_instance_state", table_name="compensation_instance")
    op.drop_table("compensation_instance")
    with op.batch_alter_table("dag_run", schema=None) as batch_op:
        batch_op.drop_index("idx_dag_run_compensation_state")
        batch_op.drop_column("compensation_state")

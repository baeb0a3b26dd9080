"""where a try's log is served from while it runs on another machine, and after

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The base URL of the worker's log server (http://host:port), recorded by a Celery worker when it
    # claims a try: the web UI and `dagflow tasks logs` read the log from there.
    with op.batch_alter_table("task_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_url", sa.String(length=500), nullable=True))
    with op.batch_alter_table("task_instance_try", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_instance_try", schema=None) as batch_op:
        batch_op.drop_column("log_url")
    with op.batch_alter_table("task_instance", schema=None) as batch_op:
        batch_op.drop_column("log_url")

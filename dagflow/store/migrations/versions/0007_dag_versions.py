"""DAG versions: one row per change of a DAG's structure or source; each run records its version

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dag_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("structure_hash", sa.String(length=64), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("serialized", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dag_id", "version_number", name="dag_version_dag_id_number_key"),
    )
    with op.batch_alter_table("dag", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dag_version_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("dag_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dag_version_id", sa.Integer(), nullable=True))
    _first_versions()


def _first_versions() -> None:
    """Each DAG already parsed gets its version 1 (its current structure and file), and its runs that."""
    connection = op.get_bind()
    dags = connection.execute(
        sa.text(
            "SELECT d.dag_id, d.fileloc, d.serialized, d.source_hash, c.source, c.source_hash "
            "FROM dag d LEFT JOIN dag_code c ON c.fileloc = d.fileloc"
        )
    ).all()
    version = sa.table(
        "dag_version",
        sa.column("dag_id"),
        sa.column("version_number"),
        sa.column("structure_hash"),
        sa.column("source_hash"),
        sa.column("source"),
        sa.column("fileloc"),
        sa.column("serialized", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    for dag_id, fileloc, serialized, structure_hash, source, source_hash in dags:
        connection.execute(
            version.insert().values(
                dag_id=dag_id,
                version_number=1,
                structure_hash=structure_hash or "",
                source_hash=source_hash,
                source=source,
                fileloc=fileloc,
                serialized=json.loads(serialized) if isinstance(serialized, str) else (serialized or {}),
                created_at=sa.func.current_timestamp(),
            )
        )
        params = {"d": dag_id}
        first = sa.text("SELECT id FROM dag_version WHERE dag_id = :d AND version_number = 1")
        version_id = connection.execute(first, params).scalar()
        connection.execute(
            sa.text("UPDATE dag SET dag_version_id = :v WHERE dag_id = :d"), {**params, "v": version_id}
        )
        connection.execute(
            sa.text("UPDATE dag_run SET dag_version_id = :v WHERE dag_id = :d"), {**params, "v": version_id}
        )


def downgrade() -> None:
    with op.batch_alter_table("dag_run", schema=None) as batch_op:
        batch_op.drop_column("dag_version_id")
    with op.batch_alter_table("dag", schema=None) as batch_op:
        batch_op.drop_column("dag_version_id")
    op.drop_table("dag_version")

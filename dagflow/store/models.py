"""The metadata store's tables (SQLAlchemy 2). Only :mod:`dagflow.store` writes SQL; no other layer does.

Times are stored as timezone-aware UTC (``UtcDateTime``), with microseconds, on SQLite and
PostgreSQL alike. Task instance states are stored as their string values, ``"none"`` included, so
set-based queries never need to special-case NULL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from dagflow.core.clock import utcnow

ID_LENGTH = 250


class UtcDateTime(TypeDecorator[datetime]):
    """A datetime stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        str: String(ID_LENGTH),
    }


class DagRow(Base):
    """A DAG as the DAG processor last parsed it, with its serialized structure."""

    __tablename__ = "dag"
    __table_args__ = (
        # what the DAGs list's change mark reads (store.change_marks), without scanning the rows
        Index("idx_dag_last_parsed_at", "last_parsed_at"),
        Index("idx_dag_active_paused", "is_active", "is_paused"),
    )

    dag_id: Mapped[str] = mapped_column(primary_key=True)
    fileloc: Mapped[str] = mapped_column(Text)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    schedule: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    owners: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    max_active_runs: Mapped[int] = mapped_column(Integer, default=16)
    max_active_tasks: Mapped[int] = mapped_column(Integer, default=16)
    #: Deferred: loaded only when read, since it is large and most queries of DAG rows do not need it.
    serialized: Mapped[dict[str, Any]] = mapped_column(default=dict, deferred=True)
    source_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    last_parsed_at: Mapped[datetime | None] = mapped_column(default=None)
    next_dagrun: Mapped[datetime | None] = mapped_column(default=None)
    next_dagrun_data_interval_start: Mapped[datetime | None] = mapped_column(default=None)
    next_dagrun_data_interval_end: Mapped[datetime | None] = mapped_column(default=None)
    next_dagrun_create_after: Mapped[datetime | None] = mapped_column(default=None, index=True)
    #: The DAG's latest version (:class:`DagVersionRow`): what new runs start on.
    dag_version_id: Mapped[int | None] = mapped_column(Integer, default=None)


class DagVersionRow(Base):
    """One version of a DAG: recorded each time its serialized structure or its file's source changes.

    A run keeps the version it started with and is decided on that version's structure to its end.
    """

    __tablename__ = "dag_version"
    __table_args__ = (UniqueConstraint("dag_id", "version_number", name="dag_version_dag_id_number_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str]
    version_number: Mapped[int] = mapped_column(Integer)
    #: The fingerprint of the serialized structure.
    structure_hash: Mapped[str] = mapped_column(String(64))
    #: The SHA-256 of the DAG file's source when this version was parsed.
    source_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    source: Mapped[str | None] = mapped_column(Text, default=None)
    fileloc: Mapped[str] = mapped_column(Text)
    serialized: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    created_at: Mapped[datetime]


class DagCodeRow(Base):
    """The source of a DAG file as last parsed, for the UI's Code page."""

    __tablename__ = "dag_code"

    fileloc: Mapped[str] = mapped_column(String(1000), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class DagRunRow(Base):
    """One run of a DAG."""

    __tablename__ = "dag_run"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", name="dag_run_dag_id_run_id_key"),
        UniqueConstraint("dag_id", "logical_date", name="dag_run_dag_id_logical_date_key"),
        Index("idx_dag_run_state", "state", "dag_id"),
        Index("idx_dag_run_dag_run_after", "dag_id", "run_after"),
        Index("idx_dag_run_compensation_state", "compensation_state"),
        Index("idx_dag_run_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str]
    run_id: Mapped[str]
    logical_date: Mapped[datetime | None] = mapped_column(default=None)
    data_interval_start: Mapped[datetime | None] = mapped_column(default=None)
    data_interval_end: Mapped[datetime | None] = mapped_column(default=None)
    run_after: Mapped[datetime]
    run_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    conf: Mapped[dict[str, Any]] = mapped_column(default=dict)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    start_date: Mapped[datetime | None] = mapped_column(default=None)
    end_date: Mapped[datetime | None] = mapped_column(default=None)
    backfill_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: The DAG-level success/failure callback of this run was handed to a worker.
    callback_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    triggered_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    #: none, compensating, compensated or compensation_failed; the run's state stays as it was.
    compensation_state: Mapped[str] = mapped_column(String(32), default="none", server_default="none")
    #: Set by every write of the row (``onupdate``), so a page can tell cheaply that a run changed.
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)
    #: The DAG version the run started with (:class:`DagVersionRow`), kept to its end.
    dag_version_id: Mapped[int | None] = mapped_column(Integer, default=None)


class TaskInstanceRow(Base):
    """One task (one map index) of one run: its current try."""

    __tablename__ = "task_instance"
    __table_args__ = (
        ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            ondelete="CASCADE",
            name="task_instance_dag_run_fkey",
        ),
        Index("idx_task_instance_state", "state"),
        Index("idx_task_instance_dag_state", "dag_id", "state"),
        Index("idx_task_instance_updated_at", "updated_at"),
        Index("idx_task_instance_dag_updated_at", "dag_id", "updated_at"),
    )

    dag_id: Mapped[str] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True, default=-1)
    state: Mapped[str] = mapped_column(String(32), default="none")
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    start_date: Mapped[datetime | None] = mapped_column(default=None)
    end_date: Mapped[datetime | None] = mapped_column(default=None)
    duration: Mapped[float | None] = mapped_column(Float, default=None)
    #: For up_for_retry and up_for_reschedule: not to start again before this moment.
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    hostname: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The log server of the worker running the try (``http://host:port``), when it runs on another machine.
    log_url: Mapped[str | None] = mapped_column(String(500), default=None)
    #: Identifies the attempt a worker claimed: only its holder may record the outcome.
    attempt_token: Mapped[str | None] = mapped_column(String(64), default=None)
    queued_by_job_id: Mapped[int | None] = mapped_column(Integer, default=None)
    external_executor_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    pool: Mapped[str] = mapped_column(default="default_pool")
    pool_slots: Mapped[int] = mapped_column(Integer, default=1)
    priority_weight: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str] = mapped_column(default="default")
    operator: Mapped[str | None] = mapped_column(default=None)
    #: Length of the value this task pushed for mapped tasks to map over.
    map_length: Mapped[int | None] = mapped_column(Integer, default=None)
    rendered_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: A mapped task instance's label (its task's ``map_index_template``, rendered when it ran).
    rendered_map_index: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def map_label(self) -> str:
        """How its map index is shown (see :func:`map_index_label`)."""
        return map_index_label(self.map_index, self.rendered_map_index)


def map_index_label(map_index: int, rendered: str | None) -> str:
    """How a person sees a task instance's map index: its rendered ``map_index_template``, else the
    index; empty for a task that is not mapped."""
    if map_index < 0:
        return ""
    return rendered or str(map_index)


# Each run's scheduled task instances, best first: a pass reads the few it can queue of each run
# instead of sorting every one that waits (see dagflow.store.task_instances.scheduled).
Index(
    "idx_task_instance_scheduled",
    TaskInstanceRow.dag_id,
    TaskInstanceRow.run_id,
    TaskInstanceRow.priority_weight.desc(),
    TaskInstanceRow.task_id,
    TaskInstanceRow.map_index,
    # (an expression on ``state`` that only the pass's read writes: with a plain ``state =``,
    # statistics taken before a fan-out's task instances were scheduled had the planner read them
    # through idx_task_instance_state instead; with row_check's ``state || ''``, other statements
    # that find rows by key took this index for them)
    postgresql_where=text("coalesce(state, '') = 'scheduled'"),
    sqlite_where=text("coalesce(state, '') = 'scheduled'"),
)


class TaskInstanceTryRow(Base):
    """The history of a task instance: one row per try, kept when it is retried or cleared."""

    __tablename__ = "task_instance_try"
    __table_args__ = (
        UniqueConstraint(
            "dag_id", "run_id", "task_id", "map_index", "try_number", name="task_instance_try_key"
        ),
        ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            ondelete="CASCADE",
            name="task_instance_try_dag_run_fkey",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str]
    run_id: Mapped[str]
    task_id: Mapped[str]
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    start_date: Mapped[datetime | None] = mapped_column(default=None)
    end_date: Mapped[datetime | None] = mapped_column(default=None)
    duration: Mapped[float | None] = mapped_column(Float, default=None)
    hostname: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    log_path: Mapped[str | None] = mapped_column(Text, default=None)
    #: The log server of the worker that ran the try, if it ran on another machine.
    log_url: Mapped[str | None] = mapped_column(String(500), default=None)


class XComRow(Base):
    """A value a task instance pushed, as JSON text."""

    __tablename__ = "xcom"
    __table_args__ = (
        ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            ondelete="CASCADE",
            name="xcom_dag_run_fkey",
        ),
    )

    dag_id: Mapped[str] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime]


class ImportErrorRow(Base):
    """A DAG file that failed to load, as the DAG processor last saw it."""

    __tablename__ = "import_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(String(1000), unique=True)
    line: Mapped[int | None] = mapped_column(Integer, default=None)
    message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime]


class PoolRow(Base):
    """A pool of slots that limits how many task instances using it run at once."""

    __tablename__ = "slot_pool"

    name: Mapped[str] = mapped_column(primary_key=True)
    slots: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text, default=None)


class JobRow(Base):
    """A running scheduler (or other long-lived component) and its heartbeat."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    hostname: Mapped[str]
    pid: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[datetime]
    end_date: Mapped[datetime | None] = mapped_column(default=None)
    latest_heartbeat: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class BackfillRow(Base):
    """A request to run a DAG over a range of past schedule points."""

    __tablename__ = "backfill"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str]
    from_date: Mapped[datetime]
    to_date: Mapped[datetime]
    max_active_runs: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class EventLogRow(Base):
    """An audit line: who did what to which DAG, run or task instance (trigger, clear, pause...)."""

    __tablename__ = "event_log"
    __table_args__ = (Index("idx_event_log_dag", "dag_id", "dttm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dttm: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(64))
    dag_id: Mapped[str | None] = mapped_column(default=None)
    run_id: Mapped[str | None] = mapped_column(default=None)
    task_id: Mapped[str | None] = mapped_column(default=None)
    map_index: Mapped[int | None] = mapped_column(Integer, default=None)
    owner: Mapped[str | None] = mapped_column(default=None)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class UserRow(Base):
    """Someone who may log in to the web UI and the API, with one role: admin, op or viewer."""

    __tablename__ = "dagflow_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(512))
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login: Mapped[datetime | None] = mapped_column(default=None)


class ApiTokenRow(Base):
    """A bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id"], ["dagflow_user.id"], ondelete="CASCADE", name="api_token_user_fkey"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class CompensationInstanceRow(Base):
    """The compensation of one task instance (or of a task group: ``task_id`` is the group's id) of
    one run: its current try. A row exists once the compensation was first handed out."""

    __tablename__ = "compensation_instance"
    __table_args__ = (
        ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            ondelete="CASCADE",
            name="compensation_instance_dag_run_fkey",
        ),
        Index("idx_compensation_instance_state", "state"),
    )

    dag_id: Mapped[str] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer, primary_key=True, default=-1)
    #: The forward task instance's try this compensation undoes.
    forward_try_number: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(32), default="none")
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    start_date: Mapped[datetime | None] = mapped_column(default=None)
    end_date: Mapped[datetime | None] = mapped_column(default=None)
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    hostname: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    attempt_token: Mapped[str | None] = mapped_column(String(64), default=None)
    queued_by_job_id: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    log_path: Mapped[str | None] = mapped_column(Text, default=None)


class CompensationTryRow(Base):
    """The history of a compensation: one row per try, with its outcome and log."""

    __tablename__ = "compensation_try"
    __table_args__ = (
        UniqueConstraint(
            "dag_id", "run_id", "task_id", "map_index", "try_number", name="compensation_try_key"
        ),
        ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            ondelete="CASCADE",
            name="compensation_try_dag_run_fkey",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str]
    run_id: Mapped[str]
    task_id: Mapped[str]
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[datetime | None] = mapped_column(default=None)
    end_date: Mapped[datetime | None] = mapped_column(default=None)
    hostname: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    log_path: Mapped[str | None] = mapped_column(Text, default=None)


class VariableRow(Base):
    """A Variable: its value encrypted with ``[core] fernet_key`` when one is set (``is_encrypted``)."""

    __tablename__ = "variable"

    key: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    val: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)


class ConnectionRow(Base):
    """A Connection: its password and extra encrypted with ``[core] fernet_key`` when one is set."""

    __tablename__ = "connection"

    conn_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    host: Mapped[str | None] = mapped_column(String(500), default=None)
    schema: Mapped[str | None] = mapped_column(String(500), default=None)
    login: Mapped[str | None] = mapped_column(Text, default=None)
    password: Mapped[str | None] = mapped_column(Text, default=None)
    port: Mapped[int | None] = mapped_column(Integer, default=None)
    extra: Mapped[str | None] = mapped_column(Text, default=None)
    is_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_extra_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)


class CallbackRequestRow(Base):
    """A task's callbacks still to run for a try that ended without its worker recording it (the
    scheduler ended it, or the worker's watchdog killed its own process), recorded in the transaction
    that ended the try and deleted by the worker that ran them: a scheduler that dies before handing
    the callbacks to its executor leaves them here for the next one (as Airflow's ``callback_request``)."""

    __tablename__ = "callback_request"
    __table_args__ = (
        UniqueConstraint("token", name="callback_request_token_key"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            ondelete="CASCADE",
            name="callback_request_dag_run_fkey",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str]
    run_id: Mapped[str]
    task_id: Mapped[str]
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer)
    #: The callback workload's token (derived from the try's).
    token: Mapped[str] = mapped_column(String(100))
    fileloc: Mapped[str] = mapped_column(Text)
    #: How the try ended: ``up_for_retry`` runs ``on_retry_callback``, ``failed`` ``on_failure_callback``.
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    max_tries: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[datetime | None] = mapped_column(default=None)
    end_date: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    #: The scheduler whose executor it was handed to (None: nobody's; any scheduler hands it out).
    handed_out_by: Mapped[int | None] = mapped_column(Integer, default=None)
    handed_out_at: Mapped[datetime | None] = mapped_column(default=None)

"""Runs, task instances and tries as JSON-ready dicts: what the CLI prints and the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dagflow.runtime import xcom
from dagflow.store.models import (
    CompensationInstanceRow,
    DagRow,
    DagRunRow,
    ImportErrorRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
    UserRow,
    XComRow,
)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with microseconds."""
    return value.isoformat(timespec="microseconds") if value is not None else None


def run_json(run: DagRunRow) -> dict[str, Any]:
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "state": run.state,
        "run_type": run.run_type,
        "logical_date": iso(run.logical_date),
        "data_interval_start": iso(run.data_interval_start),
        "data_interval_end": iso(run.data_interval_end),
        "run_after": iso(run.run_after),
        "queued_at": iso(run.queued_at),
        "start_date": iso(run.start_date),
        "end_date": iso(run.end_date),
        "conf": run.conf,
        "note": run.note,
        "triggered_by": run.triggered_by,
        "dag_version_id": run.dag_version_id,
        "compensation_state": run.compensation_state,
    }


def compensation_json(row: CompensationInstanceRow) -> dict[str, Any]:
    """One compensation of a run: the forward task (or group) it undoes, and its current try."""
    return {
        "task_id": row.task_id,
        "map_index": row.map_index,
        "state": row.state,
        "try_number": row.try_number,
        "max_tries": row.max_tries,
        "forward_try_number": row.forward_try_number,
        "queued_at": iso(row.queued_at),
        "start_date": iso(row.start_date),
        "end_date": iso(row.end_date),
        "hostname": row.hostname,
        "error": row.error,
    }


def ti_json(ti: TaskInstanceRow) -> dict[str, Any]:
    return {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "state": ti.state,
        "try_number": ti.try_number,
        "max_tries": ti.max_tries,
        "queued_at": iso(ti.queued_at),
        "start_date": iso(ti.start_date),
        "end_date": iso(ti.end_date),
        "duration": ti.duration,
        "hostname": ti.hostname,
        "pid": ti.pid,
        "pool": ti.pool,
        "pool_slots": ti.pool_slots,
        "priority_weight": ti.priority_weight,
        "operator": ti.operator,
        "not_before": iso(ti.not_before),
        "error": ti.error,
        "note": ti.note,
        "rendered_fields": ti.rendered_fields,
        "rendered_map_index": ti.rendered_map_index,
    }


def try_json(row: TaskInstanceTryRow) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "map_index": row.map_index,
        "try_number": row.try_number,
        "state": row.state,
        "queued_at": iso(row.queued_at),
        "start_date": iso(row.start_date),
        "end_date": iso(row.end_date),
        "duration": row.duration,
        "hostname": row.hostname,
        "pid": row.pid,
        "error": row.error,
    }


def dag_json(row: DagRow) -> dict[str, Any]:
    return {
        "dag_id": row.dag_id,
        "is_paused": row.is_paused,
        "is_active": row.is_active,
        "description": row.description,
        "schedule": row.schedule,
        "timezone": row.timezone,
        "tags": list(row.tags or []),
        "owners": row.owners,
        "fileloc": row.fileloc,
        "max_active_runs": row.max_active_runs,
        "max_active_tasks": row.max_active_tasks,
        "next_dagrun": iso(row.next_dagrun),
        "next_dagrun_create_after": iso(row.next_dagrun_create_after),
        "last_parsed_at": iso(row.last_parsed_at),
    }


def import_error_json(row: ImportErrorRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "filename": row.filename,
        "line": row.line,
        "message": row.message,
        "traceback": row.traceback,
        "timestamp": iso(row.timestamp),
    }


def xcom_json(row: XComRow) -> dict[str, Any]:
    """An XCom with its value as a person reads it: plain JSON as the task pushed it, a value JSON
    cannot hold (a datetime, a set...) in its readable form rather than its stored envelope."""
    return {
        "task_id": row.task_id,
        "map_index": row.map_index,
        "key": row.key,
        "value": xcom.readable(row.value),
        "timestamp": iso(row.timestamp),
    }


def user_json(row: UserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "role": row.role,
        "email": row.email,
        "active": row.active,
        "created_at": iso(row.created_at),
        "last_login": iso(row.last_login),
    }

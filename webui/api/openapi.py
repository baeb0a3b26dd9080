"""The OpenAPI 3 document of ``/api/v1``, built from one table of operations (tested against the routes)."""

from __future__ import annotations

from typing import Any

VERSION = "1.0.0"


def _string(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


NULLABLE_STRING = {"type": ["string", "null"]}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
ERROR = {
    "type": "object",
    "required": ["status", "title", "detail"],
    "properties": {"status": {"type": "integer"}, "title": {"type": "string"}, "detail": {"type": "string"}},
}
DAG = {
    "type": "object",
    "required": ["dag_id", "is_paused"],
    "properties": {
        "dag_id": _string(),
        "is_paused": {"type": "boolean"},
        "is_active": {"type": "boolean"},
        "description": NULLABLE_STRING,
        "schedule": NULLABLE_STRING,
        "timezone": _string(),
        "tags": {"type": "array", "items": _string()},
        "owners": NULLABLE_STRING,
        "fileloc": _string(),
        "max_active_runs": {"type": "integer"},
        "max_active_tasks": {"type": "integer"},
        "next_dagrun": DATETIME,
        "next_dagrun_create_after": DATETIME,
        "last_parsed_at": DATETIME,
    },
}
DAG_RUN = {
    "type": "object",
    "required": ["dag_id", "run_id", "state"],
    "properties": {
        "dag_id": _string(),
        "run_id": _string(),
        "state": _string(enum=["queued", "running", "success", "failed"]),
        "run_type": _string(),
        "logical_date": DATETIME,
        "data_interval_start": DATETIME,
        "data_interval_end": DATETIME,
        "run_after": DATETIME,
        "queued_at": DATETIME,
        "start_date": DATETIME,
        "end_date": DATETIME,
        "conf": {"type": "object"},
        "note": NULLABLE_STRING,
        "triggered_by": NULLABLE_STRING,
    },
}
TASK_INSTANCE = {
    "type": "object",
    "required": ["dag_id", "run_id", "task_id", "map_index", "state", "try_number"],
    "properties": {
        "dag_id": _string(),
        "run_id": _string(),
        "task_id": _string(),
        "map_index": {"type": "integer"},
        "state": _string(),
        "try_number": {"type": "integer"},
        "max_tries": {"type": "integer"},
        "queued_at": DATETIME,
        "start_date": DATETIME,
        "end_date": DATETIME,
        "duration": {"type": ["number", "null"]},
        "hostname": NULLABLE_STRING,
        "pid": {"type": ["integer", "null"]},
        "pool": _string(),
        "pool_slots": {"type": "integer"},
        "priority_weight": {"type": "integer"},
        "operator": NULLABLE_STRING,
        "not_before": DATETIME,
        "error": NULLABLE_STRING,
        "note": NULLABLE_STRING,
    },
}


def _list_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [key, "total_entries"],
        "properties": {
            key: {"type": "array", "items": item},
            "total_entries": {"type": "integer"},
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
        },
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGE = [
    _query("offset", {"type": "integer", "minimum": 0}),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
]


def _responses(ok_status: str, ok_schema: dict[str, Any], *errors: str) -> dict[str, Any]:
    found: dict[str, Any] = {
        ok_status: {"description": "OK", "content": {"application/json": {"schema": ok_schema}}}
    }
    for status in ("401", *errors):
        found[status] = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
    return found


#: method, path, summary, parameters, request body schema (or None), success status and schema, error statuses
OPERATIONS: list[
    tuple[str, str, str, list[dict[str, Any]], dict[str, Any] | None, str, dict[str, Any], tuple[str, ...]]
] = [
    ("get", "/health", "Store and scheduler health", [], None, "200", {"type": "object"}, ()),
    (
        "get",
        "/importErrors",
        "DAG files that failed to import",
        [],
        None,
        "200",
        _list_of("import_errors", {"type": "object"}),
        (),
    ),
    (
        "get",
        "/pools",
        "Pools and their slots in use",
        [],
        None,
        "200",
        _list_of("pools", {"type": "object"}),
        (),
    ),
    (
        "get",
        "/dags",
        "List DAGs",
        [
            *PAGE,
            _query("dag_id_pattern", {"type": "string"}),
            _query("tags", {"type": "array", "items": {"type": "string"}}),
            _query("paused", {"type": "boolean"}),
        ],
        None,
        "200",
        _list_of("dags", DAG),
        ("400",),
    ),
    ("get", "/dags/{dag_id}", "One DAG", [_path_param("dag_id")], None, "200", DAG, ("404",)),
    (
        "patch",
        "/dags/{dag_id}",
        "Pause or unpause a DAG",
        [_path_param("dag_id")],
        {"type": "object", "required": ["is_paused"], "properties": {"is_paused": {"type": "boolean"}}},
        "200",
        DAG,
        ("400", "403", "404"),
    ),
    (
        "get",
        "/dags/{dag_id}/dagRuns",
        "List runs of a DAG (dag_id ~ for all DAGs)",
        [
            _path_param("dag_id"),
            *PAGE,
            _query("state", {"type": "string"}),
            _query("start_date_gte", {"type": "string", "format": "date-time"}),
            _query("start_date_lte", {"type": "string", "format": "date-time"}),
        ],
        None,
        "200",
        _list_of("dag_runs", DAG_RUN),
        ("400",),
    ),
    (
        "post",
        "/dags/{dag_id}/dagRuns",
        "Trigger a run",
        [_path_param("dag_id")],
        {
            "type": "object",
            "properties": {
                "conf": {"type": "object"},
                "logical_date": {"type": "string", "format": "date-time"},
                "dag_run_id": {"type": "string", "minLength": 1},
            },
        },
        "201",
        DAG_RUN,
        ("400", "403", "404", "409"),
    ),
    (
        "get",
        "/dags/{dag_id}/dagRuns/{run_id}",
        "One run",
        [_path_param("dag_id"), _path_param("run_id")],
        None,
        "200",
        DAG_RUN,
        ("404",),
    ),
    (
        "get",
        "/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
        "Task instances of a run",
        [_path_param("dag_id"), _path_param("run_id"), *PAGE, _query("state", {"type": "string"})],
        None,
        "200",
        _list_of("task_instances", TASK_INSTANCE),
        ("400", "404"),
    ),
    (
        "get",
        "/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
        "A try's log, from an offset",
        [
            _path_param("dag_id"),
            _path_param("run_id"),
            _path_param("task_id"),
            {
                "name": "try_number",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            },
            _query("map_index", {"type": "integer", "minimum": -1}),
            _query("offset", {"type": "integer", "minimum": 0}),
        ],
        None,
        "200",
        {
            "type": "object",
            "required": ["content", "next_offset", "finished"],
            "properties": {
                "content": {"type": "string"},
                "next_offset": {"type": "integer"},
                "finished": {"type": "boolean"},
            },
        },
        ("400", "404"),
    ),
]


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, parameters, body, status, schema, errors in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "parameters": parameters,
            "responses": _responses(status, schema, *errors),
        }
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "dagflow API", "version": VERSION},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            }
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }

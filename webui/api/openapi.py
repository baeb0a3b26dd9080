"""The OpenAPI 3 document of ``/api/v1``, built from one table of operations (tested against the routes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webui.api.schemas import (
    BOOLEAN,
    CLEAR_OPTIONS,
    CLEARED,
    COMPENSATION,
    CONN_ID,
    CONNECTION,
    CONNECTION_FIELDS,
    DAG,
    DAG_DETAIL,
    DAG_RUN,
    DAG_SOURCE,
    DAG_VERSION,
    DAG_VERSION_SOURCE,
    ERROR,
    HEALTH,
    IMPORT_ERROR,
    INTEGER,
    KEY,
    LOG,
    NULLABLE_STRING,
    POOL,
    RUN_MARKABLE,
    STRING,
    TASK_INSTANCE,
    TEXT,
    TI_MARKABLE,
    TRY,
    USER,
    VARIABLE,
    VERSION,
    WORKERS,
    XCOM,
    object_schema,
)


def _list_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return object_schema(
        [key, "total_entries", "offset", "limit"],
        **{key: {"type": "array", "items": item}},
        total_entries=INTEGER,
        offset=INTEGER,
        limit=INTEGER,
    )


def _path(name: str) -> dict[str, Any]:
    schema = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[^/]+$"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _key_path(name: str) -> dict[str, Any]:
    """A path parameter that may hold ``/`` (a Variable key such as ``team/db_url``)."""
    schema = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[^/].*$"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGE = [
    _query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
]
MAP_INDEX = _query(
    "map_index", {"type": "integer", "minimum": -1, "maximum": 2**31 - 1}, "-1 (the default): not mapped"
)
STATE_FILTER = _query("state", STRING, "states, comma-separated or repeated")
DAG_ID = [_path("dag_id")]
RUN = [_path("dag_id"), _path("run_id")]
TI = [*RUN, _path("task_id"), MAP_INDEX]
TI_BASE = "/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"


@dataclass(frozen=True)
class Op:
    """One operation: who may call it is said by its error statuses (403: a role is needed)."""

    method: str
    path: str
    summary: str
    ok: dict[str, Any] | None
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] | None = None
    status: str = "200"
    errors: tuple[str, ...] = ()
    public: bool = False

    def document(self) -> dict[str, Any]:
        ok: dict[str, Any] = {"description": "OK"}
        if self.ok is not None:
            ok["content"] = {"application/json": {"schema": self.ok}}
        responses = {self.status: ok}
        statuses = (*(() if self.public else ("401",)), *self.errors, *(("422",) if self.body else ()))
        for status in statuses:
            responses[status] = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
        name = self.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
        found: dict[str, Any] = {
            "summary": self.summary,
            "operationId": f"{self.method}_{name}",
            "parameters": self.parameters,
            "responses": responses,
        }
        if self.public:
            found["security"] = []
        if self.body is not None:
            closed = {**self.body, "additionalProperties": False}  # an unknown field is a 422 naming it
            found["requestBody"] = {"required": True, "content": {"application/json": {"schema": closed}}}
        return found


OPERATIONS = [
    Op("get", "/health", "Store and scheduler health (no login needed)", HEALTH, public=True),
    Op("get", "/openapi.json", "This document (no login needed)", {"type": "object"}, public=True),
    Op(
        "get",
        "/workers",
        "The live Celery workers, their queues and the attempts they run (empty unless [core] executor"
        " is celery; 503 when the broker cannot be reached)",
        WORKERS,
        errors=("503",),
    ),
    Op(
        "get",
        "/importErrors",
        "DAG files that failed to import",
        _list_of("import_errors", IMPORT_ERROR),
        PAGE,
        errors=("400",),
    ),
    Op("get", "/pools", "Pools and their slots in use", _list_of("pools", POOL), PAGE, errors=("400",)),
    Op(
        "post",
        "/pools",
        "Create a pool (admin)",
        POOL,
        body=object_schema(
            ["name", "slots"],
            name={"type": "string", "minLength": 1, "maxLength": 250},
            slots={"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            description=NULLABLE_STRING,
        ),
        status="201",
        errors=("400", "403", "409"),
    ),
    Op("get", "/pools/{name}", "One pool", POOL, [_path("name")], errors=("400", "404")),
    Op(
        "patch",
        "/pools/{name}",
        "Change a pool's slots or description (admin)",
        POOL,
        [_path("name")],
        body=object_schema(
            [], slots={"type": "integer", "minimum": 0, "maximum": 2**31 - 1}, description=NULLABLE_STRING
        ),
        errors=("400", "403", "404"),
    ),
    Op(
        "delete",
        "/pools/{name}",
        "Delete a pool (admin)",
        None,
        [_path("name")],
        status="204",
        errors=("400", "403", "404"),
    ),
    Op(
        "get",
        "/variables",
        "Variables (secret-looking values masked unless admin)",
        _list_of("variables", VARIABLE),
        PAGE,
        errors=("400",),
    ),
    Op(
        "post",
        "/variables",
        "Create a Variable (admin)",
        VARIABLE,
        body=object_schema(
            ["key", "value"], key=KEY, value={"type": "string", "maxLength": 1_000_000}, description=TEXT
        ),
        status="201",
        errors=("400", "403", "409"),
    ),
    Op("get", "/variables/{key}", "One Variable", VARIABLE, [_key_path("key")], errors=("400", "404")),
    Op(
        "patch",
        "/variables/{key}",
        "Change a Variable's value or description (admin)",
        VARIABLE,
        [_key_path("key")],
        body=object_schema([], value={"type": "string", "maxLength": 1_000_000}, description=TEXT),
        errors=("400", "403", "404"),
    ),
    Op(
        "delete",
        "/variables/{key}",
        "Delete a Variable (admin)",
        None,
        [_key_path("key")],
        status="204",
        errors=("400", "403", "404"),
    ),
    Op(
        "get",
        "/connections",
        "Connections (passwords and secret extras masked unless admin)",
        _list_of("connections", CONNECTION),
        PAGE,
        errors=("400",),
    ),
    Op(
        "post",
        "/connections",
        "Create a connection (admin)",
        CONNECTION,
        body=object_schema(["connection_id", "conn_type"], connection_id=CONN_ID, **CONNECTION_FIELDS),
        status="201",
        errors=("400", "403", "409"),
    ),
    Op(
        "get",
        "/connections/{connection_id}",
        "One connection",
        CONNECTION,
        [_path("connection_id")],
        errors=("400", "404"),
    ),
    Op(
        "patch",
        "/connections/{connection_id}",
        "Change a connection's fields (admin)",
        CONNECTION,
        [_path("connection_id")],
        body=object_schema([], **CONNECTION_FIELDS),
        errors=("400", "403", "404"),
    ),
    Op(
        "delete",
        "/connections/{connection_id}",
        "Delete a connection (admin)",
        None,
        [_path("connection_id")],
        status="204",
        errors=("400", "403", "404"),
    ),
    Op("get", "/users", "Users (admin)", _list_of("users", USER), PAGE, errors=("400", "403")),
    Op(
        "get",
        "/dags",
        "List DAGs",
        _list_of("dags", DAG),
        [
            *PAGE,
            _query("dag_id_pattern", STRING, "part of the DAG id"),
            _query("tags", {"type": "array", "items": STRING}, "DAGs with any of these tags"),
            _query("paused", BOOLEAN),
        ],
        errors=("400",),
    ),
    Op("get", "/dags/{dag_id}", "One DAG, with its params", DAG_DETAIL, DAG_ID, errors=("400", "404")),
    Op(
        "patch",
        "/dags/{dag_id}",
        "Pause or unpause a DAG (op)",
        DAG_DETAIL,
        DAG_ID,
        body=object_schema(["is_paused"], is_paused=BOOLEAN),
        errors=("400", "403", "404"),
    ),
    Op(
        "get",
        "/dags/{dag_id}/source",
        "The DAG file's source as last parsed",
        DAG_SOURCE,
        DAG_ID,
        errors=("400", "404"),
    ),
    Op(
        "get",
        "/dags/{dag_id}/dagVersions",
        "The DAG's versions, newest first",
        object_schema(
            ["dag_versions", "total_entries"],
            dag_versions={"type": "array", "items": DAG_VERSION},
            total_entries=INTEGER,
        ),
        DAG_ID,
        errors=("400", "404"),
    ),
    Op(
        "get",
        "/dags/{dag_id}/dagVersions/{version_number}",
        "One version of the DAG, with the source of its file",
        DAG_VERSION_SOURCE,
        [
            *DAG_ID,
            {
                "name": "version_number",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            },
        ],
        errors=("400", "404"),
    ),
    Op(
        "get",
        "/dags/{dag_id}/dagRuns",
        "List runs of a DAG (dag_id ~ for all DAGs)",
        _list_of("dag_runs", DAG_RUN),
        [
            *DAG_ID,
            *PAGE,
            STATE_FILTER,
            *(
                _query(f"{column}_{bound}", {"type": "string", "format": "date-time"})
                for column in ("start_date", "logical_date")
                for bound in ("gte", "lte")
            ),
        ],
        errors=("400", "404"),
    ),
    Op(
        "post",
        "/dags/{dag_id}/dagRuns",
        "Trigger a run (op)",
        DAG_RUN,
        DAG_ID,
        body={
            "type": "object",
            "properties": {
                "conf": {
                    "type": "object",
                    "description": "merged over the DAG's params, validated by their schemas",
                },
                "logical_date": {"type": "string", "format": "date-time"},
                "dag_run_id": {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[^/]+$"},
            },
        },
        status="201",
        errors=("400", "403", "404", "409"),
    ),
    Op("get", "/dags/{dag_id}/dagRuns/{run_id}", "One run", DAG_RUN, RUN, errors=("400", "404")),
    Op(
        "patch",
        "/dags/{dag_id}/dagRuns/{run_id}",
        "Mark a run success or failed (op)",
        DAG_RUN,
        RUN,
        body=object_schema(["state"], state={"type": "string", "enum": RUN_MARKABLE}),
        errors=("400", "403", "404"),
    ),
    Op(
        "delete",
        "/dags/{dag_id}/dagRuns/{run_id}",
        "Delete a run and its task instances (op)",
        None,
        RUN,
        status="204",
        errors=("400", "403", "404"),
    ),
    Op(
        "post",
        "/dags/{dag_id}/dagRuns/{run_id}/clear",
        "Clear task instances of a run (op)",
        CLEARED,
        RUN,
        body={
            **CLEAR_OPTIONS,
            "properties": {
                **CLEAR_OPTIONS["properties"],
                "task_ids": {"type": "array", "items": STRING, "description": "default: every task"},
            },
        },
        errors=("400", "403", "404"),
    ),
    Op(
        "post",
        "/dags/{dag_id}/dagRuns/{run_id}/compensate",
        "Compensate a finished run, or resume a failed compensation (op)",
        DAG_RUN,
        RUN,
        body=object_schema(
            [], resume={"type": "boolean", "description": "retry the compensations that failed"}
        ),
        errors=("400", "403", "404"),
    ),
    Op(
        "get",
        "/dags/{dag_id}/dagRuns/{run_id}/compensations",
        "The compensations of a run, each with its current try",
        _list_of("compensations", COMPENSATION),
        RUN,
        errors=("400", "404"),
    ),
    Op(
        "get",
        "/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
        "Task instances of a run",
        _list_of("task_instances", TASK_INSTANCE),
        [*RUN, *PAGE, STATE_FILTER],
        errors=("400", "404"),
    ),
    Op("get", TI_BASE, "One task instance", TASK_INSTANCE, TI, errors=("400", "404")),
    Op(
        "patch",
        TI_BASE,
        "Mark a task instance success, failed or skipped (op)",
        TASK_INSTANCE,
        TI,
        body=object_schema(["state"], state={"type": "string", "enum": TI_MARKABLE}),
        errors=("400", "403", "404"),
    ),
    Op(
        "post",
        f"{TI_BASE}/clear",
        "Clear a task (every map index of it) (op)",
        CLEARED,
        [*RUN, _path("task_id")],
        body=CLEAR_OPTIONS,
        errors=("400", "403", "404"),
    ),
    Op(
        "get",
        f"{TI_BASE}/tries",
        "The tries of a task instance",
        _list_of("tries", TRY),
        [*TI, *PAGE],
        errors=("400", "404"),
    ),
    Op(
        "get",
        f"{TI_BASE}/logs/{{try_number}}",
        "A try's log, from an offset",
        LOG,
        [
            *RUN,
            _path("task_id"),
            {
                "name": "try_number",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            },
            MAP_INDEX,
            _query("offset", {"type": "integer", "minimum": 0, "maximum": 2**62}),
        ],
        errors=("400", "404"),
    ),
    Op(
        "get",
        f"{TI_BASE}/xcomEntries",
        "The XComs a task instance pushed",
        _list_of("xcom_entries", XCOM),
        [*TI, *PAGE],
        errors=("400", "404"),
    ),
    Op("get", f"{TI_BASE}/xcomEntries/{{key}}", "One XCom", XCOM, [*TI, _path("key")], errors=("400", "404")),
]


def body_fields(method: str, path: str) -> frozenset[str] | None:
    """The fields the body of ``method path`` (a path as written here, ``/dags/{dag_id}``) may have;
    None for an operation not documented with a body."""
    return _BODY_FIELDS.get((method.lower(), path))


_BODY_FIELDS = {
    (op.method, op.path): frozenset(op.body.get("properties", {})) for op in OPERATIONS if op.body is not None
}


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = op.document()
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

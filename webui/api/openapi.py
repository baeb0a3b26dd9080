"""The OpenAPI 3 document of ``/api/v1``, built from one table of operations (tested against the routes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dagflow.actions import SETTABLE
from dagflow.core.saga import COMPENSATION_STATES as COMPENSATION_TASK_STATES
from dagflow.core.saga import RunCompensation
from dagflow.core.states import RunState, TaskState
from dagflow.store.users import ROLES

VERSION = "1.0.0"

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_INTEGER = {"type": ["integer", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
RUN_STATES = [s.value for s in RunState]
TASK_STATES = [s.value for s in TaskState]
COMPENSATION_STATES = [s.value for s in RunCompensation]
#: The states a run, and a task instance, may be marked with through the API.
RUN_MARKABLE = [RunState.SUCCESS.value, RunState.FAILED.value]
TI_MARKABLE = [s.value for s in SETTABLE]


def _object(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


ERROR = _object(["status", "title", "detail"], status=INTEGER, title=STRING, detail=STRING)
DAG = _object(
    ["dag_id", "is_paused", "is_active", "tags"],
    dag_id=STRING,
    is_paused=BOOLEAN,
    is_active=BOOLEAN,
    description=NULLABLE_STRING,
    schedule=NULLABLE_STRING,
    timezone=STRING,
    tags={"type": "array", "items": STRING},
    owners=NULLABLE_STRING,
    fileloc=STRING,
    max_active_runs=INTEGER,
    max_active_tasks=INTEGER,
    next_dagrun=DATETIME,
    next_dagrun_create_after=DATETIME,
    last_parsed_at=DATETIME,
)
DAG_DETAIL = {
    **DAG,
    "required": [*DAG["required"], "params"],
    "properties": {
        **DAG["properties"],
        "params": {"type": "object", "additionalProperties": {"type": "object"}},
        "doc_md": NULLABLE_STRING,
    },
}
DAG_SOURCE = _object(
    ["dag_id", "fileloc", "source"], dag_id=STRING, fileloc=STRING, source=STRING, updated_at=DATETIME
)
DAG_VERSION = _object(
    ["id", "dag_id", "version_number", "created_at"],
    id=INTEGER,
    dag_id=STRING,
    version_number=INTEGER,
    source_hash=NULLABLE_STRING,
    structure_hash=STRING,
    created_at=DATETIME,
)
DAG_VERSION_SOURCE = _object(
    ["id", "dag_id", "version_number", "source"],
    id=INTEGER,
    dag_id=STRING,
    version_number=INTEGER,
    source_hash=NULLABLE_STRING,
    structure_hash=STRING,
    created_at=DATETIME,
    source=NULLABLE_STRING,
)
DAG_RUN = _object(
    ["dag_id", "run_id", "state", "run_type", "conf"],
    dag_id=STRING,
    run_id=STRING,
    state={"type": "string", "enum": RUN_STATES},
    run_type=STRING,
    logical_date=DATETIME,
    data_interval_start=DATETIME,
    data_interval_end=DATETIME,
    run_after=DATETIME,
    queued_at=DATETIME,
    start_date=DATETIME,
    end_date=DATETIME,
    conf={"type": "object"},
    note=NULLABLE_STRING,
    triggered_by=NULLABLE_STRING,
    dag_version_id=NULLABLE_INTEGER,
    dag_version={"oneOf": [DAG_VERSION, {"type": "null"}]},
    compensation_state={"type": "string", "enum": COMPENSATION_STATES},
)
COMPENSATION = _object(
    ["task_id", "map_index", "state", "try_number"],
    task_id={"type": "string", "description": "the forward task (or task group) it undoes"},
    map_index=INTEGER,
    state={"type": "string", "enum": [s.value for s in COMPENSATION_TASK_STATES]},
    try_number=INTEGER,
    max_tries=INTEGER,
    forward_try_number=INTEGER,
    queued_at=DATETIME,
    start_date=DATETIME,
    end_date=DATETIME,
    hostname=NULLABLE_STRING,
    error=NULLABLE_STRING,
)
TASK_INSTANCE = _object(
    ["dag_id", "run_id", "task_id", "map_index", "state", "try_number"],
    dag_id=STRING,
    run_id=STRING,
    task_id=STRING,
    map_index=INTEGER,
    state={"type": "string", "enum": TASK_STATES},
    try_number=INTEGER,
    max_tries=INTEGER,
    queued_at=DATETIME,
    start_date=DATETIME,
    end_date=DATETIME,
    duration=NULLABLE_NUMBER,
    hostname=NULLABLE_STRING,
    pid=NULLABLE_INTEGER,
    pool=STRING,
    pool_slots=INTEGER,
    priority_weight=INTEGER,
    operator=NULLABLE_STRING,
    not_before=DATETIME,
    error=NULLABLE_STRING,
    note=NULLABLE_STRING,
    rendered_fields={"type": ["object", "null"]},
)
TRY = _object(
    ["task_id", "map_index", "try_number", "state"],
    task_id=STRING,
    map_index=INTEGER,
    try_number=INTEGER,
    state=STRING,
    queued_at=DATETIME,
    start_date=DATETIME,
    end_date=DATETIME,
    duration=NULLABLE_NUMBER,
    hostname=NULLABLE_STRING,
    pid=NULLABLE_INTEGER,
    error=NULLABLE_STRING,
)
XCOM = _object(
    ["task_id", "map_index", "key", "value"],
    task_id=STRING,
    map_index=INTEGER,
    key=STRING,
    value={"type": "string", "description": "the value as the JSON text the task pushed"},
    timestamp=DATETIME,
)
IMPORT_ERROR = _object(
    ["id", "filename", "message"],
    id=INTEGER,
    filename=STRING,
    line=NULLABLE_INTEGER,
    message=STRING,
    traceback=STRING,
    timestamp=DATETIME,
)
POOL = _object(
    ["name", "slots", "occupied_slots"],
    name=STRING,
    slots=INTEGER,
    description=NULLABLE_STRING,
    occupied_slots=INTEGER,
)
VARIABLE = _object(
    ["key", "value", "description", "is_encrypted"],
    key=STRING,
    value={**NULLABLE_STRING, "description": "*** for a secret-looking key unless the caller is admin"},
    description=NULLABLE_STRING,
    is_encrypted={**BOOLEAN, "description": "stored encrypted with [core] fernet_key"},
)
CONNECTION = _object(
    ["connection_id", "conn_type"],
    connection_id=STRING,
    conn_type=STRING,
    description=NULLABLE_STRING,
    host=NULLABLE_STRING,
    login=NULLABLE_STRING,
    schema=NULLABLE_STRING,
    port=NULLABLE_INTEGER,
    password={**NULLABLE_STRING, "description": "*** unless the caller is admin"},
    extra={**NULLABLE_STRING, "description": "a JSON object as text; secret-looking keys *** unless admin"},
)
TEXT = {"type": ["string", "null"], "maxLength": 10_000}
CONNECTION_FIELDS: dict[str, Any] = {
    "conn_type": {"type": "string", "minLength": 1, "maxLength": 500},
    "description": TEXT,
    "host": TEXT,
    "login": TEXT,
    "password": TEXT,
    "schema": TEXT,
    "port": {"type": ["integer", "null"], "minimum": 0, "maximum": 65535},
    "extra": {**TEXT, "description": "a JSON object as text"},
}
KEY = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[^/]+$"}
CONN_ID = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[A-Za-z0-9_.-]+$"}
USER = _object(
    ["username", "role", "active"],
    username=STRING,
    role={"type": "string", "enum": list(ROLES)},
    email=NULLABLE_STRING,
    active=BOOLEAN,
    created_at=DATETIME,
    last_login=DATETIME,
)
LIVE_JOB = _object(
    ["id", "job_type", "hostname", "pid", "latest_heartbeat", "heartbeat_age_seconds"],
    id=INTEGER,
    job_type=STRING,
    hostname=STRING,
    pid=INTEGER,
    start_date=DATETIME,
    latest_heartbeat=DATETIME,
    heartbeat_age_seconds={"type": "number"},
)
HEALTH = _object(
    ["metadatabase", "scheduler", "schedulers", "workers"],
    metadatabase=_object(["status"], status=STRING),
    scheduler=_object(["status"], status={"type": "string", "enum": ["healthy", "unhealthy"]}),
    schedulers={"type": "array", "items": LIVE_JOB},
    workers={"type": "array", "items": LIVE_JOB},
)
LOG = _object(["content", "next_offset", "finished"], content=STRING, next_offset=INTEGER, finished=BOOLEAN)
CLEARED = _object(
    ["dry_run", "task_instances", "total_entries"],
    dry_run=BOOLEAN,
    task_instances={
        "type": "array",
        "items": _object(["task_id", "map_index"], task_id=STRING, map_index=INTEGER),
    },
    total_entries=INTEGER,
)
CLEAR_OPTIONS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "downstream": {**BOOLEAN, "description": "also the tasks downstream of these"},
        "upstream": {**BOOLEAN, "description": "also the tasks upstream of these"},
        "only_failed": {**BOOLEAN, "description": "only task instances that failed or are upstream_failed"},
        "dry_run": {**BOOLEAN, "description": "only say which task instances would be cleared"},
        "run_on_latest_version": {
            **BOOLEAN,
            "description": "move the run to the DAG's latest version first (default: its own version)",
        },
    },
}


def _list_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return _object(
        [key, "total_entries", "offset", "limit"],
        **{key: {"type": "array", "items": item}},
        total_entries=INTEGER,
        offset=INTEGER,
        limit=INTEGER,
    )


def _path(name: str) -> dict[str, Any]:
    schema = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[^/]+$"}
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


RUNNING_ATTEMPT = _object(
    ["dag_id", "run_id", "task_id", "map_index", "try_number", "celery_task_id", "label"],
    dag_id=STRING,
    run_id=STRING,
    task_id=STRING,
    map_index=INTEGER,
    try_number=INTEGER,
    celery_task_id=STRING,
    label=STRING,
)
WORKERS = _object(
    ["executor", "workers", "error"],
    executor=STRING,
    workers={
        "type": "array",
        "items": _object(
            ["name", "queues", "concurrency", "running"],
            name=STRING,
            queues={"type": "array", "items": STRING},
            concurrency=NULLABLE_INTEGER,
            running={"type": "array", "items": RUNNING_ATTEMPT},
        ),
    },
    error=NULLABLE_STRING,
)

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
        body=_object(
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
        body=_object(
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
        body=_object(
            ["key", "value"], key=KEY, value={"type": "string", "maxLength": 1_000_000}, description=TEXT
        ),
        status="201",
        errors=("400", "403", "409"),
    ),
    Op("get", "/variables/{key}", "One Variable", VARIABLE, [_path("key")], errors=("400", "404")),
    Op(
        "patch",
        "/variables/{key}",
        "Change a Variable's value or description (admin)",
        VARIABLE,
        [_path("key")],
        body=_object([], value={"type": "string", "maxLength": 1_000_000}, description=TEXT),
        errors=("400", "403", "404"),
    ),
    Op(
        "delete",
        "/variables/{key}",
        "Delete a Variable (admin)",
        None,
        [_path("key")],
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
        body=_object(["connection_id", "conn_type"], connection_id=CONN_ID, **CONNECTION_FIELDS),
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
        body=_object([], **CONNECTION_FIELDS),
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
        body=_object(["is_paused"], is_paused=BOOLEAN),
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
        _object(
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
        body=_object(["state"], state={"type": "string", "enum": RUN_MARKABLE}),
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
        body=_object([], resume={"type": "boolean", "description": "retry the compensations that failed"}),
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
        body=_object(["state"], state={"type": "string", "enum": TI_MARKABLE}),
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

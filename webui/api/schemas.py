"""The schemas of the ``/api/v1`` OpenAPI document: what each answer and body holds."""

from __future__ import annotations

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


def object_schema(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


ERROR = object_schema(["status", "title", "detail"], status=INTEGER, title=STRING, detail=STRING)
DAG = object_schema(
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
DAG_SOURCE = object_schema(
    ["dag_id", "fileloc", "source"], dag_id=STRING, fileloc=STRING, source=STRING, updated_at=DATETIME
)
DAG_VERSION = object_schema(
    ["id", "dag_id", "version_number", "created_at"],
    id=INTEGER,
    dag_id=STRING,
    version_number=INTEGER,
    source_hash=NULLABLE_STRING,
    structure_hash=STRING,
    created_at=DATETIME,
)
DAG_VERSION_SOURCE = object_schema(
    ["id", "dag_id", "version_number", "source"],
    id=INTEGER,
    dag_id=STRING,
    version_number=INTEGER,
    source_hash=NULLABLE_STRING,
    structure_hash=STRING,
    created_at=DATETIME,
    source=NULLABLE_STRING,
)
DAG_RUN = object_schema(
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
COMPENSATION = object_schema(
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
TASK_INSTANCE = object_schema(
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
TRY = object_schema(
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
XCOM = object_schema(
    ["task_id", "map_index", "key", "value"],
    task_id=STRING,
    map_index=INTEGER,
    key=STRING,
    value={
        "type": "string",
        "description": "the value as a person reads it: plain JSON as the task pushed it; a datetime as its "
        "ISO text, a set as {1,2}, a tuple as (1,2), a dataclass as Name(field=...)",
    },
    timestamp=DATETIME,
)
IMPORT_ERROR = object_schema(
    ["id", "filename", "message"],
    id=INTEGER,
    filename=STRING,
    line=NULLABLE_INTEGER,
    message=STRING,
    traceback=STRING,
    timestamp=DATETIME,
)
POOL = object_schema(
    ["name", "slots", "occupied_slots"],
    name=STRING,
    slots=INTEGER,
    description=NULLABLE_STRING,
    occupied_slots=INTEGER,
)
VARIABLE = object_schema(
    ["key", "value", "description", "is_encrypted"],
    key=STRING,
    value={**NULLABLE_STRING, "description": "*** for a secret-looking key unless the caller is admin"},
    description=NULLABLE_STRING,
    is_encrypted={**BOOLEAN, "description": "stored encrypted with [core] fernet_key"},
)
CONNECTION = object_schema(
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
USER = object_schema(
    ["username", "role", "active"],
    username=STRING,
    role={"type": "string", "enum": list(ROLES)},
    email=NULLABLE_STRING,
    active=BOOLEAN,
    created_at=DATETIME,
    last_login=DATETIME,
)
LIVE_JOB = object_schema(
    [
        "id",
        "job_type",
        "hostname",
        "pid",
        "latest_heartbeat",
        "heartbeat_age_seconds",
        "executor",
        "scheduler_job_id",
    ],
    id={**NULLABLE_INTEGER, "description": "The job row's id; null for a local worker (it has none)."},
    job_type={"type": "string", "enum": ["scheduler", "worker"]},
    hostname=STRING,
    pid=INTEGER,
    start_date=DATETIME,
    latest_heartbeat={
        **DATETIME,
        "description": "A local worker's is its scheduler's, whose heartbeat reports it alive.",
    },
    heartbeat_age_seconds={"type": "number"},
    executor={**NULLABLE_STRING, "enum": ["local", "celery", None]},
    scheduler_job_id={**NULLABLE_INTEGER, "description": "A local worker's scheduler."},
    name={**NULLABLE_STRING, "description": "A Celery worker's name."},
)
HEALTH = object_schema(
    ["metadatabase", "scheduler", "schedulers", "workers"],
    metadatabase=object_schema(["status"], status=STRING),
    scheduler=object_schema(["status"], status={"type": "string", "enum": ["healthy", "unhealthy"]}),
    schedulers={"type": "array", "items": LIVE_JOB},
    workers={"type": "array", "items": LIVE_JOB},
)
LOG = object_schema(
    ["content", "next_offset", "finished"], content=STRING, next_offset=INTEGER, finished=BOOLEAN
)
CLEARED = object_schema(
    ["dry_run", "task_instances", "total_entries"],
    dry_run=BOOLEAN,
    task_instances={
        "type": "array",
        "items": object_schema(["task_id", "map_index"], task_id=STRING, map_index=INTEGER),
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


RUNNING_ATTEMPT = object_schema(
    ["dag_id", "run_id", "task_id", "map_index", "try_number", "celery_task_id", "label"],
    dag_id=STRING,
    run_id=STRING,
    task_id=STRING,
    map_index=INTEGER,
    try_number=INTEGER,
    celery_task_id=STRING,
    label=STRING,
)
WORKERS = object_schema(
    ["executor", "workers", "error"],
    executor=STRING,
    workers={
        "type": "array",
        "items": object_schema(
            ["name", "queues", "concurrency", "running"],
            name=STRING,
            queues={"type": "array", "items": STRING},
            concurrency=NULLABLE_INTEGER,
            running={"type": "array", "items": RUNNING_ATTEMPT},
        ),
    },
    error=NULLABLE_STRING,
)

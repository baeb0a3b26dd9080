"""Every route of the app with a request that exercises it on the seeded store, and who may make it.

``test_the_route_tables_cover_every_route`` keeps these tables complete: a new route fails it until
it is listed here, so the role, 404 and 405 tests below reach every route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.webui.seeding import DAG_ID, RUN_ID

RUN = quote(RUN_ID, safe="")
API = "/api/v1"
API_RUN = f"{API}/dags/{DAG_ID}/dagRuns/{RUN}"
API_TI = f"{API_RUN}/taskInstances/extract"
TI_QUERY = f"run_id={RUN}"

#: GET pages: endpoint -> (url, the least role that may read it).
PAGES: dict[str, tuple[str, str]] = {
    "views.dags": ("/", "viewer"),
    "views.grid": (f"/dags/{DAG_ID}/grid", "viewer"),
    "views.graph": (f"/dags/{DAG_ID}/graph?run_id={RUN}", "viewer"),
    "views.gantt": (f"/dags/{DAG_ID}/gantt?run_id={RUN}", "viewer"),
    "views.calendar": (f"/dags/{DAG_ID}/calendar?year=2024", "viewer"),
    "views.durations": (f"/dags/{DAG_ID}/durations", "viewer"),
    "views.details": (f"/dags/{DAG_ID}/details", "viewer"),
    "views.code": (f"/dags/{DAG_ID}/code", "viewer"),
    "views.run": (f"/dags/{DAG_ID}/runs/{RUN}", "viewer"),
    "views.task_instance": (f"/dags/{DAG_ID}/tasks/extract?{TI_QUERY}", "viewer"),
    "views.log": (f"/dags/{DAG_ID}/tasks/extract/logs?{TI_QUERY}&try=1", "viewer"),
    "views.compensation": (f"/dags/{DAG_ID}/tasks/extract/compensation?{TI_QUERY}", "viewer"),
    "views.runs": ("/runs", "viewer"),
    "views.import_errors": ("/import-errors", "viewer"),
    "views.workers": ("/workers", "viewer"),
    "views.pools": ("/pools", "viewer"),
    "views.users": ("/users", "admin"),
    "views.variables": ("/variables", "viewer"),
    "views.connections": ("/connections", "viewer"),
    "views.trigger": (f"/dags/{DAG_ID}/trigger", "op"),
    "auth.login": ("/login", "viewer"),
    "docs.api_docs": ("/api/docs", "viewer"),
}

#: GET API routes: endpoint -> (url, the least role that may read it).
API_READS: dict[str, tuple[str, str]] = {
    "api.health": (f"{API}/health", "viewer"),
    "api.openapi": (f"{API}/openapi.json", "viewer"),
    "api.workers": (f"{API}/workers", "viewer"),
    "api.import_errors": (f"{API}/importErrors", "viewer"),
    "api.list_pools": (f"{API}/pools", "viewer"),
    "api.get_pool": (f"{API}/pools/default_pool", "viewer"),
    "api.list_users": (f"{API}/users", "admin"),
    "api.list_variables_api": (f"{API}/variables", "viewer"),
    "api.get_variable": (f"{API}/variables/region", "viewer"),
    "api.list_connections_api": (f"{API}/connections", "viewer"),
    "api.get_connection": (f"{API}/connections/warehouse", "viewer"),
    "api.list_dags": (f"{API}/dags", "viewer"),
    "api.get_dag": (f"{API}/dags/{DAG_ID}", "viewer"),
    "api.dag_source": (f"{API}/dags/{DAG_ID}/source", "viewer"),
    "api.dag_versions": (f"{API}/dags/{DAG_ID}/dagVersions", "viewer"),
    "api.dag_version": (f"{API}/dags/{DAG_ID}/dagVersions/1", "viewer"),
    "api.list_runs": (f"{API}/dags/{DAG_ID}/dagRuns", "viewer"),
    "api.get_run": (API_RUN, "viewer"),
    "api.list_task_instances": (f"{API_RUN}/taskInstances", "viewer"),
    "api.get_task_instance": (API_TI, "viewer"),
    "api.list_tries": (f"{API_TI}/tries", "viewer"),
    "api.task_log": (f"{API_TI}/logs/1", "viewer"),
    "api.list_xcoms": (f"{API_TI}/xcomEntries", "viewer"),
    "api.get_xcom": (f"{API_TI}/xcomEntries/return_value", "viewer"),
    "api.list_compensations": (f"{API_RUN}/compensations", "viewer"),
}


@dataclass(frozen=True)
class Action:
    """A state-changing request: a page form (``form``) or an API call (``json``)."""

    endpoint: str
    method: str
    url: str
    role: str
    form: dict[str, str] | None = None
    json: dict[str, Any] | None = field(default=None)

    @property
    def is_api(self) -> bool:
        return self.url.startswith(API)


ACTIONS = [
    Action("views.toggle_pause", "POST", f"/dags/{DAG_ID}/pause", "op", form={"paused": "false"}),
    Action("views.trigger", "POST", f"/dags/{DAG_ID}/trigger", "op", form={"param.count": "4"}),
    Action(
        "views.clear",
        "POST",
        f"/dags/{DAG_ID}/actions/clear",
        "op",
        form={"run_id": RUN_ID, "confirm": "yes"},
    ),
    Action(
        "views.mark_task",
        "POST",
        f"/dags/{DAG_ID}/actions/mark-task",
        "op",
        form={"run_id": RUN_ID, "task_id": "load", "state": "success", "confirm": "yes"},
    ),
    Action(
        "views.mark_run",
        "POST",
        f"/dags/{DAG_ID}/actions/mark-run",
        "op",
        form={"run_id": RUN_ID, "state": "failed", "confirm": "yes"},
    ),
    Action(
        "views.delete_run",
        "POST",
        f"/dags/{DAG_ID}/actions/delete-run",
        "op",
        form={"run_id": RUN_ID, "confirm": "yes"},
    ),
    Action(
        "views.compensate_run",
        "POST",
        f"/dags/{DAG_ID}/actions/compensate",
        "op",
        form={"run_id": RUN_ID, "confirm": "yes"},
    ),
    Action("views.set_pool", "POST", "/pools", "admin", form={"name": "big", "slots": "3"}),
    Action("views.delete_pool", "POST", "/pools/default_pool/delete", "admin", form={}),
    Action("views.add_user", "POST", "/users", "admin", form={"username": "someone", "role": "viewer"}),
    Action("views.set_variable", "POST", "/variables", "admin", form={"key": "k", "value": "v"}),
    Action("views.delete_variable", "POST", "/variables/region/delete", "admin", form={}),
    Action(
        "views.save_connection",
        "POST",
        "/connections",
        "admin",
        form={"connection_id": "c", "conn_type": "http", "host": "example.org"},
    ),
    Action("views.delete_connection", "POST", "/connections/warehouse/delete", "admin", form={}),
    Action("api.patch_dag", "PATCH", f"{API}/dags/{DAG_ID}", "op", json={"is_paused": False}),
    Action("api.trigger", "POST", f"{API}/dags/{DAG_ID}/dagRuns", "op", json={"conf": {"count": 5}}),
    Action("api.patch_run", "PATCH", API_RUN, "op", json={"state": "success"}),
    Action("api.delete_run", "DELETE", API_RUN, "op"),
    Action("api.clear_run", "POST", f"{API_RUN}/clear", "op", json={}),
    Action("api.compensate_run", "POST", f"{API_RUN}/compensate", "op", json={}),
    Action("api.patch_task_instance", "PATCH", API_TI, "op", json={"state": "failed"}),
    Action("api.clear_task_instance", "POST", f"{API_TI}/clear", "op", json={}),
    Action("api.create_pool", "POST", f"{API}/pools", "admin", json={"name": "big", "slots": 3}),
    Action("api.patch_pool", "PATCH", f"{API}/pools/default_pool", "admin", json={"slots": 7}),
    Action("api.delete_pool", "DELETE", f"{API}/pools/default_pool", "admin"),
    Action("api.create_variable", "POST", f"{API}/variables", "admin", json={"key": "k", "value": "v"}),
    Action("api.patch_variable", "PATCH", f"{API}/variables/region", "admin", json={"value": "us"}),
    Action("api.delete_variable", "DELETE", f"{API}/variables/region", "admin"),
    Action(
        "api.create_connection",
        "POST",
        f"{API}/connections",
        "admin",
        json={"connection_id": "c", "conn_type": "http", "host": "example.org"},
    ),
    Action("api.patch_connection", "PATCH", f"{API}/connections/warehouse", "admin", json={"port": 5433}),
    Action("api.delete_connection", "DELETE", f"{API}/connections/warehouse", "admin"),
]

#: POST-only page URLs: a GET on them must be refused (405), never act.
POST_ONLY_PAGES = [
    a.url
    for a in ACTIONS
    if a.endpoint
    in (
        "views.toggle_pause",
        "views.clear",
        "views.mark_task",
        "views.mark_run",
        "views.delete_run",
        "views.delete_pool",
        "views.compensate_run",
        "views.delete_variable",
        "views.delete_connection",
    )
] + ["/logout"]
#: API URLs that only act.
POST_ONLY_API = [f"{API_RUN}/clear", f"{API_TI}/clear"]
#: Routes outside the tables: static files, and the login/logout forms (tested in test_login).
UNLISTED = {"static", "auth.logout", "docs.favicon", "metrics.metrics"}

"""Fuzzing /api/v1 with schemathesis from the OpenAPI document, as an op, over a seeded store.

(The operations only an admin may call, on pools and users, are fuzzed as an admin, so that they get
past the 403 too.)

For every operation, schemathesis generates requests that follow the document (positive) and requests
that break it (negative); half of the positive ones name the seeded DAG, run, task, pool and XCom, so
the actions really act. A positive request must get a documented status, content type and body; no
request may get a 5xx. Examples are few per operation, so this runs in seconds on each backend.

schemathesis' own pytest integration (``schema.parametrize()``) does not run under pytest 9 yet, so
each operation gets a Hypothesis test built here from ``operation.as_strategy()``.
"""

from __future__ import annotations

import traceback

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.webui.seeding import DAG_ID, RUN_ID

POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: A request that breaks the document may land on another route (a "/" in an id): only no 5xx is required.
NEGATIVE_CHECKS = [not_a_server_error]
KNOWN = {
    "dag_id": DAG_ID,
    "run_id": RUN_ID,
    "task_id": "extract",
    "try_number": 1,
    "name": "default_pool",
    "key": "return_value",
}
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}


def cases(operation, mode: GenerationMode):
    """Generated requests; positive ones name the seeded objects half of the time."""
    known = {name: value for name, value in KNOWN.items() if f"{{{name}}}" in operation.path}
    found = operation.as_strategy(generation_mode=mode)
    if known and mode is GenerationMode.POSITIVE:
        found = st.one_of(found, operation.as_strategy(generation_mode=mode, path_parameters=known))
    return found


def breakable(operation) -> bool:
    """Whether a request can break the document: it has parameters or a body to get wrong."""
    return bool(operation.definition.raw.get("parameters")) or "requestBody" in operation.definition.raw


def fuzz(operation, mode: GenerationMode, headers: dict[str, str]) -> None:
    if mode is GenerationMode.NEGATIVE and not breakable(operation):
        return
    checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(operation, mode))
    def run(case) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    run()


def test_the_api_answers_generated_requests_as_documented_and_never_with_a_5xx(seeded, app, token):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    tokens = {role: {"Authorization": f"Bearer {token(role)}"} for role in ("op", "admin")}
    failures = []
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation the document does not describe well enough to call
        operations.append(result.ok())
    documented = {
        f"{m.upper()} {path}" for path, methods in schema.raw_schema["paths"].items() for m in methods
    }
    assert {o.label for o in operations} == documented - {
        "GET /openapi.json"
    }  # the document itself is skipped
    for operation in sorted(operations, key=lambda o: o.method.upper() == "DELETE"):  # delete the run last
        for mode in EXAMPLES:
            try:
                role = "admin" if operation.definition.raw["summary"].endswith("(admin)") else "op"
                fuzz(operation, mode, tokens[role])
            except Exception:  # every operation is fuzzed; all failures are reported together
                failures.append(f"{mode.value} {operation.label}:\n{traceback.format_exc(limit=1)}")
    assert not failures, "\n\n".join(failures)

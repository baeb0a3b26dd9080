"""DAG versions: a run goes on to its end on the structure of the version it started with; a clear
chooses that version or the latest; a worker refuses a DAG file that matches no version of the run."""

from __future__ import annotations

from click.testing import CliRunner

from dagflow import actions
from dagflow.cli import cli
from dagflow.store import versions as version_store
from tests.scheduler.conftest import Orchestrator

V1 = """
from datetime import datetime

from dagflow import DAG, task

with DAG("versioned", schedule=None, start_date=datetime(2024, 1, 1)):

    @task
    def a():
        return 1

    @task
    def b():
        return "b as version 1 has it"

    a() >> b()
"""

#: Version 2 adds ``c`` and changes what ``b`` returns.
V2 = (
    V1.replace("b as version 1 has it", "b as version 2 has it")
    + """
    @task
    def c():
        return "c"

    c()
"""
)


def versions(orchestrator: Orchestrator) -> list[int]:
    with orchestrator.db.session() as session:
        return [v.version_number for v in version_store.versions_of(session, "versioned")]


def run_version(orchestrator: Orchestrator, run_id: str) -> int | None:
    with orchestrator.db.session() as session:
        found = version_store.version_of_run(session, "versioned", run_id)
    return found.version_number if found is not None else None


def test_each_change_of_structure_or_source_makes_a_version_and_a_reparse_does_not(orchestrator):
    first_source = orchestrator.write("versioned.py", V1).read_text()
    orchestrator.record_dags()
    orchestrator.record_dags()
    assert versions(orchestrator) == [1]
    orchestrator.write("versioned.py", V1 + "# a comment changes the source only\n")
    orchestrator.record_dags()
    orchestrator.write("versioned.py", V2)
    orchestrator.record_dags()
    assert versions(orchestrator) == [3, 2, 1]
    with orchestrator.db.session() as session:
        info, source = version_store.version_by_number(session, "versioned", 1) or (None, None)
    assert source == first_source
    assert info is not None and info.source_hash == version_store.source_digest(first_source)


def test_a_run_ends_on_the_structure_of_the_version_it_started_with(orchestrator):
    orchestrator.write("versioned.py", V1)
    orchestrator.record_dags()
    first = orchestrator.trigger("versioned")
    with orchestrator.running() as driver:
        driver.until(lambda: orchestrator.states("versioned", first)["a"] == "success")
    orchestrator.write("versioned.py", V2)  # changed mid-run, and parsed: version 2
    orchestrator.record_dags()
    second = orchestrator.trigger("versioned")
    orchestrator.run_until_idle()  # a new scheduler: it reads version 1 back for the first run

    assert orchestrator.states("versioned", first) == {"a": "success", "b": "success"}
    assert orchestrator.run("versioned", first).state == "success"
    # the worker ran the code in the file (version 2's), as Airflow 3 does with a local DAG folder
    assert orchestrator.xcoms("versioned", first)[("b", "return_value")] == "b as version 2 has it"
    assert orchestrator.states("versioned", second) == {"a": "success", "b": "success", "c": "success"}
    assert (run_version(orchestrator, first), run_version(orchestrator, second)) == (1, 2)

    result = CliRunner().invoke(cli, ["runs", "show", "versioned", first, "--json"])
    assert result.exit_code == 0, result.output
    assert '"version_number": 1' in result.output


def test_a_clear_runs_again_on_the_runs_version_or_moves_the_run_to_the_latest(orchestrator):
    orchestrator.write("versioned.py", V1)
    orchestrator.record_dags()
    run_id = orchestrator.trigger("versioned")
    orchestrator.run_until_idle()
    orchestrator.write("versioned.py", V2)
    orchestrator.record_dags()

    with orchestrator.db.session(write=True) as session:
        actions.clear_task_instances(session, "versioned", run_id, ["b"], owner="test")
    orchestrator.run_until_idle()
    assert orchestrator.states("versioned", run_id) == {"a": "success", "b": "success"}
    assert run_version(orchestrator, run_id) == 1

    with orchestrator.db.session(write=True) as session:
        actions.clear_task_instances(session, "versioned", run_id, ["b"], owner="test", dag_version="latest")
    orchestrator.run_until_idle()
    assert orchestrator.states("versioned", run_id) == {"a": "success", "b": "success", "c": "success"}
    assert run_version(orchestrator, run_id) == 2


def test_a_worker_refuses_a_dag_file_that_matches_no_version_of_the_run(orchestrator):
    orchestrator.write("versioned.py", V1)
    orchestrator.record_dags()
    run_id = orchestrator.trigger("versioned")
    orchestrator.write("versioned.py", V1.replace("return 1", "return 'other code'"))  # not parsed
    orchestrator.run_until_idle()

    assert orchestrator.states("versioned", run_id) == {"a": "failed", "b": "upstream_failed"}
    log = orchestrator.log("versioned", run_id, "a")
    assert "does not match version 1 of DAG 'versioned'" in log
    assert "Update the DAG files on this machine" in log
    assert ("a", "return_value") not in orchestrator.xcoms("versioned", run_id)

    orchestrator.record_dags()  # the edit becomes version 2: a later version than the run's
    with orchestrator.db.session(write=True) as session:
        actions.clear_task_instances(session, "versioned", run_id, [], owner="test")
    orchestrator.run_until_idle()
    assert orchestrator.states("versioned", run_id) == {"a": "success", "b": "success"}
    assert orchestrator.xcoms("versioned", run_id)[("a", "return_value")] == "other code"

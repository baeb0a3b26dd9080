"""The inspection commands Airflow users type: same names, arguments and output formats."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml

from dagflow.cli import cli
from dagflow.core.clock import utcnow
from tests.scheduler.conftest import Orchestrator, orchestrator  # noqa: F401 - the fixture

BERLIN = """
from datetime import datetime
from zoneinfo import ZoneInfo

from dagflow import DAG, TaskGroup
from dagflow.operators import BashOperator, EmptyOperator

with DAG(
    "berlin",
    schedule="0 */6 * * *",
    start_date=datetime(2024, 10, 26, tzinfo=ZoneInfo("Europe/Berlin")),
    catchup=True,
    tags=["tz"],
):
    with TaskGroup("prepare"):
        first = BashOperator(
            task_id="say", bash_command='echo "{{ ds }} {{ params.who }}"', params={"who": "me"}
        )
    first >> EmptyOperator(task_id="done")

with DAG("manual", schedule=None):
    EmptyOperator(task_id="only")
"""

DAILY = """
from datetime import datetime

from dagflow import DAG, task

with DAG("daily", schedule="@daily", start_date=datetime.fromisoformat("{start}"), catchup=True):

    @task
    def hello(ds=None):
        return ds

    hello()
"""


def run(cli_runner, *args: str):
    return cli_runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def recorded(orchestrator: Orchestrator) -> Orchestrator:  # noqa: F811
    orchestrator.write("berlin.py", BERLIN)
    orchestrator.record_dags(paused=True)
    return orchestrator


@pytest.fixture
def daily(orchestrator: Orchestrator) -> Orchestrator:  # noqa: F811
    """``daily``, run by the scheduler from two days ago until now: three runs."""
    start = (utcnow() - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    orchestrator.write("daily.py", DAILY, start=start.isoformat())
    orchestrator.record_dags()
    orchestrator.run_until_idle()
    return orchestrator


def test_next_execution_prints_the_next_logical_dates_with_airflows_dst_rules(recorded, cli_runner):
    result = run(cli_runner, "dags", "next-execution", "berlin", "-n", "7")

    assert result.exit_code == 0
    assert result.stdout.splitlines()[4:] == [
        "2024-10-26T22:00:00+00:00",
        "2024-10-27T05:00:00+00:00",  # 06:00 local on the fall-back day, as the cron names
        "2024-10-27T11:00:00+00:00",
    ]
    assert "PAUSED" in result.stderr


def test_next_execution_continues_after_the_last_scheduled_run(daily, cli_runner):
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    result = run(cli_runner, "dags", "next-execution", "daily", "--num-executions", "2")

    assert result.stdout.splitlines() == [tomorrow.isoformat(), (tomorrow + timedelta(days=1)).isoformat()]


def test_next_execution_of_an_unscheduled_dag_says_none(recorded, cli_runner):
    result = run(cli_runner, "dags", "next-execution", "manual")

    assert result.stdout == "None\n"
    assert "No following schedule can be found" in result.stderr


def test_dags_show_prints_dot_with_groups_as_clusters(recorded, cli_runner, tmp_path):
    result = run(cli_runner, "dags", "show", "berlin")

    assert result.exit_code == 0
    assert result.stdout.startswith('digraph "berlin" {\n\tgraph [label="berlin" labelloc=t rankdir=LR]\n')
    assert '\tsubgraph "cluster_prepare" {\n\t\tlabel="prepare"\n\t\t"prepare.say" [' in result.stdout
    assert '\t"prepare.say" -> "done"\n}\n' in result.stdout
    target = tmp_path / "graph.dot"
    assert run(cli_runner, "dags", "show", "berlin", "--save", str(target)).exit_code == 0
    assert target.read_text() == result.stdout


def test_dags_show_as_an_image_without_graphviz_says_to_install_it(
    recorded, cli_runner, tmp_path, monkeypatch
):
    from dagflow.cli import dags_inspect

    monkeypatch.setattr(dags_inspect.shutil, "which", lambda name: None)
    target = tmp_path / "graph.svg"

    result = run(cli_runner, "dags", "show", "berlin", "--save", str(target))

    assert result.exit_code == 2
    assert "install graphviz" in result.stderr and str(target) in result.stderr
    assert not target.exists()


def test_dags_details_shows_the_schedule_and_limits_in_each_format(recorded, cli_runner):
    as_json = json.loads(run(cli_runner, "dags", "details", "berlin", "-o", "json").stdout)
    as_yaml = yaml.safe_load(run(cli_runner, "dags", "details", "berlin", "--output", "yaml").stdout)
    table = run(cli_runner, "dags", "details", "berlin").stdout

    assert as_json == as_yaml
    details = as_json[0]
    assert details["timetable_summary"] == "0 */6 * * *"
    assert details["timetable_class"] == "CronTriggerTimetable"
    assert (details["timezone"], details["catchup"], details["is_paused"]) == ("Europe/Berlin", True, True)
    assert details["tags"] == ["tz"] and details["task_ids"] == ["prepare.say", "done"]
    assert "timetable_summary         0 */6 * * *" in table
    assert "task_ids                  prepare.say,done" in table  # a list: its items, comma-joined
    assert "description               None" in table  # a missing value, as Airflow's table shows it


def test_dags_details_of_an_unknown_dag_fails_naming_it(recorded, cli_runner):
    result = run(cli_runner, "dags", "details", "nope")

    assert result.exit_code != 0 and "'nope'" in result.stderr


def test_list_runs_lists_a_dags_runs_newest_first_with_filters(daily, cli_runner):
    rows = json.loads(run(cli_runner, "dags", "list-runs", "daily", "-o", "json").stdout)
    same = yaml.safe_load(run(cli_runner, "dags", "list-runs", "-d", "daily", "-o", "yaml").stdout)

    assert rows == same
    assert [r["state"] for r in rows] == ["success"] * 3
    assert list(rows[0]) == [
        "dag_id",
        "run_id",
        "state",
        "run_after",
        "logical_date",
        "start_date",
        "end_date",
    ]
    assert rows[0]["logical_date"] > rows[1]["logical_date"] > rows[2]["logical_date"]
    newest = rows[0]["logical_date"]
    recent = json.loads(run(cli_runner, "dags", "list-runs", "daily", "-s", newest, "-o", "json").stdout)
    assert [r["logical_date"] for r in recent] == [newest]
    assert run(cli_runner, "dags", "list-runs", "daily", "--state", "failed").stdout == "No data found\n"


def test_states_for_dag_run_lists_every_task_instance(daily, cli_runner):
    run_id = json.loads(run(cli_runner, "dags", "list-runs", "daily", "-o", "json").stdout)[0]["run_id"]

    rows = json.loads(run(cli_runner, "tasks", "states-for-dag-run", "daily", run_id, "-o", "json").stdout)

    assert [(r["task_id"], r["state"]) for r in rows] == [("hello", "success")]
    assert list(rows[0]) == ["dag_id", "logical_date", "task_id", "state", "start_date", "end_date"]
    assert rows[0]["start_date"] <= rows[0]["end_date"]
    missing = run(cli_runner, "tasks", "states-for-dag-run", "daily", "no_such_run")
    assert missing.exit_code != 0 and "no_such_run" in missing.stderr


def test_tasks_render_prints_each_rendered_template_field(recorded, cli_runner):
    result = run(cli_runner, "tasks", "render", "berlin", "prepare.say", "2024-03-05T10:00:00+00:00")

    assert result.exit_code == 0
    assert "# property: bash_command\n# ----" in result.stdout
    assert 'echo "2024-03-05 me"' in result.stdout


def test_config_get_value_prints_a_setting_or_fails_naming_it(orchestrator, cli_runner, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DAGFLOW__CORE__PARALLELISM", "7")
    assert run(cli_runner, "config", "get-value", "core", "parallelism").stdout == "7\n"

    missing = run(cli_runner, "config", "get-value", "core", "no_such_key")
    assert missing.exit_code == 1
    assert "The option [core/no_such_key] is not found in config." in missing.stderr


def test_info_reports_settings_with_the_database_password_masked(orchestrator, cli_runner, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DAGFLOW__DATABASE__URL", "postgresql+psycopg://user:s3cret@db:5432/dagflow")

    result = run(cli_runner, "info", "-o", "json")

    sections = json.loads(result.stdout)
    assert sections["dagflow info"]["database_url"] == "postgresql+psycopg://user:****@db:5432/dagflow"
    assert sections["dagflow info"]["plugins_folder"].endswith("plugins")
    assert {"System info", "Tools info", "Paths info", "Plugins info"} <= set(sections)
    assert "s3cret" not in run(cli_runner, "info").stdout


def test_info_says_no_data_found_under_an_empty_section(orchestrator, cli_runner):  # noqa: F811
    table = run(cli_runner, "info").stdout
    plain = run(cli_runner, "info", "-o", "plain").stdout

    assert "Plugins info\n------------\nNo data found\n" in table
    assert "Plugins info\nNo data found\n" in plain
    assert json.loads(run(cli_runner, "info", "-o", "json").stdout)["Plugins info"] == {}

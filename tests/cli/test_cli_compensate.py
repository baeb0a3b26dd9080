"""``dagflow runs compensate`` and the compensation in ``dags test --json`` and ``runs show``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from dagflow.store.models import DagRunRow
from tests.cli.test_cli_store import assert_one_line_error, invoke
from tests.store.conftest import snapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "dags"

SHOP = """
from dagflow import DAG
from dagflow.operators import EmptyOperator, PythonOperator

with DAG("shop", schedule=None):
    PythonOperator(task_id="charge", python_callable=lambda: 1, compensate=lambda: None)

with DAG("plain", schedule=None):
    EmptyOperator(task_id="only")
"""


@pytest.fixture
def shop(database, dags_folder, cli_runner, monkeypatch):
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    dags_folder.write("shop.py", SHOP)
    assert invoke(cli_runner, "dags", "reserialize").exit_code == 0
    return database


def _trigger(cli_runner, dag_id: str) -> str:
    result = invoke(cli_runner, "dags", "trigger", dag_id)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def _finish(database, run_id: str, state: str, compensation: str = "none") -> None:
    with database.session(write=True) as session:
        run = session.scalars(select(DagRunRow).where(DagRunRow.run_id == run_id)).one()
        run.state, run.compensation_state = state, compensation


def test_runs_compensate_starts_a_finished_successful_run(shop, cli_runner):
    run_id = _trigger(cli_runner, "shop")
    _finish(shop, run_id, "success")
    result = invoke(cli_runner, "runs", "compensate", "shop", run_id)
    assert result.exit_code == 0, result.stderr
    assert "started" in result.stdout
    shown = json.loads(invoke(cli_runner, "runs", "show", "shop", run_id, "--json").stdout)
    assert (shown["state"], shown["compensation_state"]) == ("success", "compensating")


@pytest.mark.parametrize(
    ("dag_id", "state", "compensation", "args", "fragments"),
    [
        ("shop", "running", "none", (), ("'shop'", "is running", "wait until it has finished")),
        ("shop", "failed", "compensating", (), ("is being compensated already",)),
        ("shop", "failed", "compensation_failed", (), ("compensated already", "--resume")),
        ("plain", "failed", "none", (), ("'plain'", "no task of the DAG has compensate=")),
    ],
)
def test_runs_compensate_refuses_in_one_line_and_changes_nothing(
    shop, cli_runner, dag_id, state, compensation, args, fragments
):
    run_id = _trigger(cli_runner, dag_id)
    _finish(shop, run_id, state, compensation)
    before = snapshot(shop)
    result = invoke(cli_runner, "runs", "compensate", dag_id, run_id, *args)
    assert_one_line_error(result, *fragments)
    assert snapshot(shop) == before


def test_runs_compensate_refuses_an_unknown_run(shop, cli_runner):
    before = snapshot(shop)
    assert_one_line_error(invoke(cli_runner, "runs", "compensate", "shop", "nope"), "'shop'", "no run 'nope'")
    assert snapshot(shop) == before


def test_runs_compensate_resume_restarts_a_failed_compensation(shop, cli_runner):
    run_id = _trigger(cli_runner, "shop")
    _finish(shop, run_id, "failed", "compensation_failed")
    result = invoke(cli_runner, "runs", "compensate", "shop", run_id, "--resume")
    assert result.exit_code == 0, result.stderr
    assert "resumed" in result.stdout


def test_dags_test_json_reports_the_example_order_saga_compensated(cli_runner, tmp_path):
    warehouse = tmp_path / "warehouse.sqlite"
    conf = json.dumps({"fail_shipping": True, "warehouse": str(warehouse)})
    result = invoke(
        cli_runner,
        "dags",
        "test",
        "example_order_saga",
        "--dags-folder",
        str(EXAMPLES),
        "--conf",
        conf,
        "--json",
    )
    report = json.loads(result.stdout)
    assert report["run_state"] == "failed"
    assert report["compensation"] == {
        "state": "compensated",
        "tasks": {"charge_card": "success", "reserve_stock": "success"},
        "order": ["charge_card", "reserve_stock"],
    }
    with sqlite3.connect(warehouse) as db:
        assert db.execute("SELECT quantity FROM stock").fetchall() == [(10,)]
        assert db.execute("SELECT refunded FROM payment").fetchall() == [(1,)]
        assert db.execute("SELECT COUNT(*) FROM reservation").fetchall() == [(0,)]


def test_dags_test_says_what_was_undone_in_its_table_output(cli_runner, tmp_path):
    conf = json.dumps({"fail_shipping": True, "warehouse": str(tmp_path / "w.sqlite")})
    result = invoke(
        cli_runner, "dags", "test", "example_order_saga", "--dags-folder", str(EXAMPLES), "--conf", conf
    )
    assert result.exit_code == 1
    assert (
        "Compensation: compensated; undone in this order: charge_card (success), reserve_stock (success)"
        in result.stdout
    )


def test_tasks_why_compensation_says_what_it_waits_for(shop, cli_runner):
    run_id = _trigger(cli_runner, "shop")
    result = invoke(cli_runner, "tasks", "why", "shop", run_id, "charge", "--compensation")
    assert result.exit_code == 0, result.stderr
    assert "Compensation of charge (none):" in result.stdout
    assert "only task instances that succeeded are compensated" in result.stdout
    assert_one_line_error(
        invoke(cli_runner, "tasks", "why", "shop", "nope", "charge", "--compensation"), "no run 'nope'"
    )

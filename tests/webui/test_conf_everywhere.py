"""A run's conf is checked against the DAG's params on every path — the API, ``dags trigger --conf``, the
trigger form's conf box and its fields — by one function (``actions.trigger_dag``), with the same
one-line message, and nothing is written when it fails."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from dagflow import actions
from dagflow.cli import cli
from dagflow.exceptions import ParamValidationError
from tests.store.conftest import snapshot as whole_snapshot
from tests.webui.conftest import csrf

DAG_FILE = """
from datetime import datetime

from dagflow import DAG, Param
from dagflow.operators import EmptyOperator

with DAG(
    "orders",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    params={
        "min_total": 10,
        "region": Param("eu", enum=["eu", "us"]),
        "owner": Param(type="string"),
        "window": Param(
            {"days": 1},
            schema={"type": "object", "properties": {"days": {"type": "integer", "minimum": 1}}},
        ),
    },
):
    EmptyOperator(task_id="only")
"""
GOOD = {"owner": "ann"}
#: conf -> the one message every path gives.
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "type of a plain-value param": (
        {**GOOD, "min_total": "lots"},
        "DAG 'orders': param 'min_total': 'lots' is not of type 'integer'",
    ),
    "enum": ({**GOOD, "region": "mars"}, "DAG 'orders': param 'region': 'mars' is not one of ['eu', 'us']"),
    "required": ({}, "DAG 'orders': param 'owner' has no default and no value was given for it"),
    "JSON schema": (
        {**GOOD, "window": {"days": 0}},
        "DAG 'orders': param 'window': 0 is less than the minimum of 1",
    ),
}
URL = "/dags/orders/trigger"


def snapshot(database):
    """The store's rows, but for the users' tokens and logins (a request records their use)."""
    return {k: v for k, v in whole_snapshot(database).items() if k not in ("api_token", "dagflow_user")}


@pytest.fixture
def orders(app, dags_folder, cli_runner, monkeypatch):
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder.path))
    dags_folder.write("orders.py", DAG_FILE)
    assert cli_runner.invoke(cli, ["dags", "reserialize"]).exit_code == 0
    return app.config["DAGFLOW_DATABASE"]


@pytest.mark.parametrize("case", list(BAD))
def test_the_action_refuses_a_conf_its_params_refuse(orders, case):
    conf, message = BAD[case]
    with orders.session() as session, pytest.raises(ParamValidationError) as refused:
        actions.trigger_dag(session, "orders", conf=conf)
    assert str(refused.value) == message


@pytest.mark.parametrize("case", list(BAD))
def test_the_api_refuses_it_with_the_same_message_and_writes_nothing(orders, client, token, case):
    conf, message = BAD[case]
    headers = {"Authorization": f"Bearer {token('op')}"}
    before = snapshot(orders)

    response = client.post("/api/v1/dags/orders/dagRuns", json={"conf": conf}, headers=headers)

    assert response.status_code == 400
    assert response.get_json()["detail"] == message
    assert snapshot(orders) == before


@pytest.mark.parametrize("case", list(BAD))
def test_the_cli_refuses_it_with_the_same_message_and_writes_nothing(orders, cli_runner, case):
    import json

    conf, message = BAD[case]
    before = snapshot(orders)

    result = cli_runner.invoke(cli, ["dags", "trigger", "orders", "--conf", json.dumps(conf)])

    assert result.exit_code == 2
    assert result.stderr == f"Error: {message}\n"
    assert snapshot(orders) == before


def form_error(page: str) -> str:
    found = re.search(r'id="form-error"[^>]*>([^<]*)<', page)
    assert found, page
    return unescape(found.group(1)).strip()


@pytest.mark.parametrize("case", list(BAD))
def test_the_forms_conf_box_refuses_it_with_the_same_message_and_writes_nothing(orders, logged_in, case):
    import json

    conf, message = BAD[case]
    op = logged_in("op")
    fields = {
        "param.owner": "ann",
        "param.min_total": "10",
        "param.region": '"eu"',
        "param.window": '{"days": 1}',
    }
    if case == "required":  # its input left empty: not given, as in the conf
        fields["param.owner"] = ""
    before = snapshot(orders)

    response = op.post(URL, data={**fields, "conf": json.dumps(conf), "csrf_token": csrf(op, URL)})

    assert response.status_code == 400
    assert form_error(response.get_data(as_text=True)) == message
    assert snapshot(orders) == before


def test_a_good_conf_makes_a_run_with_it(orders, client, token):
    response = client.post(
        "/api/v1/dags/orders/dagRuns",
        json={"conf": {**GOOD, "min_total": 25}},
        headers={"Authorization": f"Bearer {token('op')}"},
    )

    assert response.status_code == 201
    assert response.get_json()["conf"] == {"owner": "ann", "min_total": 25}

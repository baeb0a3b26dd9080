"""Task code run by the scheduler's workers reads Variables and Connections from the environment and the
metadata store, and what it prints of their secrets is masked in the attempt's log."""

from __future__ import annotations

from dagflow.models.connection import Connection
from dagflow.secrets.fernet import FernetCodec
from dagflow.store.connections import save_connection
from dagflow.store.variables import set_variable
from tests.scheduler.conftest import Orchestrator

DAG_FILE = """
from datetime import datetime
from dagflow import DAG, task
from dagflow.models.connection import Connection
from dagflow.models.variable import Variable

with DAG("reads_secrets", start_date=datetime(2024, 1, 1), schedule=None):

    @task
    def read():
        conn = Connection.get("warehouse")
        print("password is", conn.password)
        return [Variable.get("region"), Variable.get("tier"), conn.host]

    read()
"""


def test_workers_read_the_store_and_the_environment_and_mask_secrets(orchestrator: Orchestrator):
    codec = FernetCodec("")
    with orchestrator.db.session(write=True) as session:
        set_variable(session, "region", "eu-west", codec)
        set_variable(session, "tier", "stored-tier", codec)
        conn = Connection(
            conn_id="warehouse", conn_type="postgres", host="db.internal", password="hunter2-pw"
        )
        save_connection(session, conn, codec)
    orchestrator.monkeypatch.setenv("DAGFLOW_VAR_TIER", "env-tier")
    orchestrator.write("reads.py", DAG_FILE)
    orchestrator.record_dags()
    run_id = orchestrator.trigger("reads_secrets")
    orchestrator.run_until_idle()
    assert orchestrator.states("reads_secrets", run_id) == {"read": "success"}
    assert orchestrator.xcoms("reads_secrets", run_id)[("read", "return_value")] == [
        "eu-west",
        "env-tier",
        "db.internal",
    ]
    log = orchestrator.log("reads_secrets", run_id, "read")
    assert "password is ***" in log and "hunter2-pw" not in log

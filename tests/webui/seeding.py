"""A store with something to show: one DAG parsed from a real file, one run, task instances in known states.

The DAG ``shop`` has params of every widget kind, a task group, and HTML in its description, doc and a
tag; its run ``manual__2024-01-01T00:00:00+00:00`` has ``extract`` succeeded (one try, a log and an
XCom, both holding HTML), ``process.transform`` failed, ``load`` upstream_failed and ``report`` not
started. Nothing here needs a scheduler: rows are written the way the store functions write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from dagflow import actions
from dagflow.config import Settings
from dagflow.core.clock import utcnow
from dagflow.models.connection import Connection
from dagflow.runtime.tasklog import attempt_log_path
from dagflow.runtime.xcom import encode
from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.secrets.fernet import FernetCodec
from dagflow.store.connections import save_connection
from dagflow.store.engine import Database
from dagflow.store.models import (
    ConnectionRow,
    DagRow,
    DagRunRow,
    PoolRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
    UserRow,
    VariableRow,
    XComRow,
)
from dagflow.store.variables import set_variable

XSS = "<script>alert(1)</script>"
DAG_ID = "shop"
LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)
RUN_ID = f"manual__{LOGICAL_DATE.isoformat()}"
TASKS = ("extract", "process.transform", "load", "report")

SOURCE = f'''
from datetime import datetime

from dagflow import DAG, Param, TaskGroup
from dagflow.operators.empty import EmptyOperator

XSS = {XSS!r}

with DAG(
    "{DAG_ID}",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    description="Orders " + XSS,
    doc_md="Docs " + XSS,
    tags=["nightly", XSS],
    params={{
        "who": Param("world", type="string", description="whom to greet " + XSS),
        "count": Param(3, type="integer", minimum=1, maximum=10),
        "ratio": Param(0.5, type="number"),
        "loud": Param(False, type="boolean"),
        "colour": Param("red", enum=["red", "green"]),
        "items": Param([1, 2], type="array"),
    }},
) as dag:
    extract = EmptyOperator(task_id="extract", compensate=lambda: None)
    with TaskGroup("process"):
        transform = EmptyOperator(task_id="transform")
    load = EmptyOperator(task_id="load")
    report = EmptyOperator(task_id="report")
    extract >> transform >> load >> report
'''


@dataclass(frozen=True)
class Seeded:
    dag_id: str
    run_id: str
    database: Database

    def ti_state(self, task_id: str, run_id: str | None = None) -> str | None:
        with self.database.session() as session:
            row = session.get(TaskInstanceRow, (self.dag_id, run_id or self.run_id, task_id, -1))
            return row.state if row is not None else None

    def run_state(self, run_id: str | None = None) -> str | None:
        with self.database.session() as session:
            return session.scalar(
                select(DagRunRow.state).where(
                    DagRunRow.dag_id == self.dag_id, DagRunRow.run_id == (run_id or self.run_id)
                )
            )

    def push_xcoms(self, task_id: str, values: dict[str, object]) -> None:
        """XComs of ``task_id`` in the seeded run, stored as a task's push stores them."""
        with self.database.session(write=True) as session:
            for key, value in values.items():
                session.add(
                    XComRow(
                        dag_id=self.dag_id,
                        run_id=self.run_id,
                        task_id=task_id,
                        map_index=-1,
                        key=key,
                        value=encode(value, where="test"),
                        timestamp=utcnow(),
                    )
                )

    def snapshot(self) -> dict[str, list[tuple[object, ...]]]:
        """Everything an action could change: to show that a refused request changed nothing."""
        ti = TaskInstanceRow
        queries = {
            "runs": select(DagRunRow.run_id, DagRunRow.state, DagRunRow.conf),
            "task_instances": select(
                ti.run_id, ti.task_id, ti.map_index, ti.state, ti.try_number, ti.max_tries
            ),
            "dags": select(DagRow.dag_id, DagRow.is_paused),
            "pools": select(PoolRow.name, PoolRow.slots),
            "users": select(UserRow.username, UserRow.role),
            "variables": select(VariableRow.key, VariableRow.val, VariableRow.description),
            "connections": select(ConnectionRow.conn_id, ConnectionRow.host, ConnectionRow.password),
        }
        with self.database.session() as session:
            return {name: sorted(map(tuple, session.execute(q)), key=repr) for name, q in queries.items()}

    def run_ids(self) -> list[str]:
        with self.database.session() as session:
            return list(
                session.scalars(
                    select(DagRunRow.run_id).where(DagRunRow.dag_id == self.dag_id).order_by(DagRunRow.id)
                )
            )


def seed(database: Database, dags_folder: Path, settings: Settings) -> Seeded:
    """Parse the DAG file, trigger its run and put its task instances in the states above."""
    (dags_folder / "shop.py").write_text(SOURCE)
    DagFileProcessor(ProcessorSettings(database.url, str(dags_folder)), db=database).scan()
    now = datetime(2024, 1, 1, 1, tzinfo=UTC)
    with database.session(write=True) as session:
        run = actions.trigger_dag(
            session, DAG_ID, conf={"note": XSS}, logical_date=LOGICAL_DATE, owner="seed", now=now
        )
        run.state, run.start_date = "running", now
        for task_id, state, tries in (
            ("extract", "success", 1),
            ("process.transform", "failed", 1),
            ("load", "upstream_failed", 0),
        ):
            ti = session.get(TaskInstanceRow, (DAG_ID, RUN_ID, task_id, -1))
            assert ti is not None
            ti.state, ti.try_number, ti.start_date, ti.end_date = state, tries, now, now
        codec = FernetCodec(settings.get("core", "fernet_key", ""))
        set_variable(session, "region", "eu-west", codec, description="where the shop runs")
        save_connection(
            session,
            Connection(
                conn_id="warehouse",
                conn_type="postgres",
                host="db.example",
                login="shop",
                password="hunter22",
            ),
            codec,
        )
        log = attempt_log_path(settings.log_folder, DAG_ID, RUN_ID, "extract", -1, 1)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"starting\nlog line {XSS}\n")
        session.add(
            TaskInstanceTryRow(
                dag_id=DAG_ID,
                run_id=RUN_ID,
                task_id="extract",
                map_index=-1,
                try_number=1,
                state="success",
                start_date=now,
                end_date=now,
                duration=0.5,
                hostname="worker-1",
                log_path=str(log),
            )
        )
        session.add(
            XComRow(
                dag_id=DAG_ID,
                run_id=RUN_ID,
                task_id="extract",
                map_index=-1,
                key="return_value",
                value=f'"{XSS}"',
                timestamp=now,
            )
        )
    return Seeded(DAG_ID, RUN_ID, database)

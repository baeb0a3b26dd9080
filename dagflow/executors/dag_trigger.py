"""The metadata store's answer to :class:`dagflow.runtime.dag_trigger.DagTrigger`: a worker creating,
resetting and reading other DAGs' runs for a running TriggerDagRunOperator.

Each call is one short transaction of its own through :mod:`dagflow.actions`, the same operations as
a trigger or a clear from the CLI or the web UI, so the new run is checked the same way and the
scheduler is woken when it commits.
"""

from __future__ import annotations

from datetime import datetime

from dagflow import actions
from dagflow.exceptions import DagflowError, DagNotFound
from dagflow.runtime.dag_trigger import DagRunAlreadyExists, TriggerRequest
from dagflow.store import dags as dag_store
from dagflow.store import runs as run_store
from dagflow.store.engine import Database


class DbDagTrigger:
    """Creates and reads runs in the store; see the module docstring."""

    def __init__(self, db: Database):
        self.db = db

    def is_paused(self, dag_id: str) -> bool:
        with self.db.session() as session:
            row = dag_store.get_dag_row(session, dag_id)
            if row is None:
                raise DagNotFound(f"DAG {dag_id!r} is not known to the store")
            return bool(row.is_paused)

    def trigger(self, request: TriggerRequest) -> str:
        try:
            with self.db.session(write=True) as session:
                run = actions.trigger_dag(
                    session,
                    request.dag_id,
                    conf=request.conf,
                    logical_date=request.logical_date,
                    run_id=request.run_id,
                    owner=request.triggered_by,
                )
                return str(run.run_id)
        except actions.RunExists as exc:
            raise DagRunAlreadyExists(str(exc)) from None

    def reset(self, dag_id: str, run_id: str, logical_date: datetime) -> str:
        with self.db.session(write=True) as session:
            run = run_store.get_run(session, dag_id, run_id) or run_store.run_with_logical_date(
                session, dag_id, logical_date
            )
            if run is None:
                raise DagflowError(f"DAG {dag_id!r} has no run {run_id!r} to reset")
            found = str(run.run_id)
            actions.clear_task_instances(session, dag_id, found, [], owner="TriggerDagRunOperator")
            return found

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        with self.db.session() as session:
            run = run_store.get_run(session, dag_id, run_id)
            return None if run is None else str(run.state)

"""The web UI's old entry point for "why is this task instance not running", kept for the views that
call it: the reasoning lives in :mod:`dagflow.core.waiting` (pure) and :mod:`dagflow.explain` (the
facts from the store), shared with ``dagflow tasks why``."""

from __future__ import annotations

from dagflow.core.waiting import explain
from dagflow.explain import situation
from dagflow.serialization import StoredDag
from dagflow.store import Session
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow


def why_not_running(
    session: Session, stored: StoredDag, dag: DagRow, run: DagRunRow, ti: TaskInstanceRow, *, parallelism: int
) -> list[str]:
    """The sentences ``dagflow tasks why`` prints for this task instance."""
    return list(explain(situation(session, stored, dag, run, ti, parallelism=parallelism)).reasons)

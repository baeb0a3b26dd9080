"""The DAGs the scheduler works with, as the DAG processor stored them, kept between passes."""

from __future__ import annotations

from collections.abc import Iterable

from dagflow.serialization import StoredDag
from dagflow.store import Session
from dagflow.store import dags as dag_store
from dagflow.store.scheduling import active_dag_ids


class DagCache:
    """Stored DAGs by id; a DAG not loaded yet is read from the store on first use."""

    def __init__(self) -> None:
        self.dags: dict[str, StoredDag] = {}

    def get(self, session: Session, dag_id: str) -> StoredDag | None:
        stored = self.dags.get(dag_id)
        if stored is None:
            stored = dag_store.stored_dags(session, [dag_id]).get(dag_id)
            if stored is not None:
                self.dags[dag_id] = stored
        return stored

    def peek(self, dag_id: str) -> StoredDag | None:
        """The DAG if it is loaded, without reading the store."""
        return self.dags.get(dag_id)

    def reload(self, session: Session, dag_ids: Iterable[str] | None) -> None:
        """Read these DAGs (all if None) again, and drop those no longer active."""
        found = dag_store.stored_dags(session, dag_ids)
        if dag_ids is None:
            self.dags = found
        else:
            self.dags.update(found)
        active = active_dag_ids(session)
        for dag_id in list(self.dags):
            if dag_id not in active:
                del self.dags[dag_id]

    def max_active_tasks(self) -> dict[str, int]:
        return {dag_id: stored.max_active_tasks for dag_id, stored in self.dags.items()}

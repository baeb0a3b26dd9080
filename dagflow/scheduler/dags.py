"""The DAGs the scheduler works with, as the DAG processor stored them, kept between passes."""

from __future__ import annotations

from collections.abc import Iterable

from dagflow.serialization import StoredDag
from dagflow.store import Session, versions
from dagflow.store import dags as dag_store
from dagflow.store.scheduling import active_dag_ids

#: Versions other than the latest kept in memory (runs that started on an older version).
MAX_OLD_VERSIONS = 256


class DagCache:
    """Stored DAGs by id (their latest version), and the older versions runs still go on with;
    what is not loaded yet is read from the store on first use."""

    def __init__(self) -> None:
        self.dags: dict[str, StoredDag] = {}
        self.versions: dict[int, StoredDag] = {}

    def for_run(self, session: Session, dag_id: str, version_id: int | None) -> StoredDag | None:
        """The DAG as the version a run started with has it (the latest for a run without one).

        None when the DAG is no longer active: its runs are left alone, as before versions existed.
        """
        latest = self.get(session, dag_id)
        if latest is None or version_id is None or latest.version_id == version_id:
            return latest
        found = self.versions.get(version_id)
        if found is None:
            found = versions.stored_version(session, version_id) or latest
            if len(self.versions) >= MAX_OLD_VERSIONS:
                self.versions.clear()
            self.versions[version_id] = found
        return found

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

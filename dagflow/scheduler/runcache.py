"""The task instances of the runs the scheduler is working on, kept in memory between passes.

Each pass reads back only the rows changed since the last one (every writer stamps ``updated_at``),
and the whole run now and then, so deciding a big run costs a few changed rows, not the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dagflow.decisions import Key, TIRecord
from dagflow.store import task_instances as ti_store

#: Rows stamped within this margin before the last read are read again: a writer stamps its rows
#: once it holds the write lock, so a commit lands well within it after the stamp.
MARGIN = timedelta(seconds=0.5)
#: A run is read whole at least this often, whatever the stamps say.
FULL_RELOAD = timedelta(seconds=30)

RunKey = tuple[str, str]


@dataclass
class CachedRun:
    records: dict[Key, TIRecord] = field(default_factory=dict)
    read_at: datetime | None = None
    full_read_at: datetime | None = None
    #: Tasks whose task instances others changed since the run was last decided (None: unknown, so all).
    changed: set[str] | None = None


class RunCache:
    def __init__(self) -> None:
        self.runs: dict[RunKey, CachedRun] = {}

    def records(self, session: Any, run: RunKey, now: datetime) -> dict[Key, TIRecord]:
        """The run's task instances, refreshed from the store."""
        cached = self.runs.get(run)
        if cached is None or cached.full_read_at is None or now - cached.full_read_at > FULL_RELOAD:
            cached = CachedRun({r.key: r for r in ti_store.load_records(session, *run)}, now, now, None)
            self.runs[run] = cached
            return cached.records
        assert cached.read_at is not None
        for record in ti_store.load_records(session, *run, changed_since=cached.read_at - MARGIN):
            known = cached.records.get(record.key)
            moved = known is None or known.state != record.state or known.not_before != record.not_before
            if moved and cached.changed is not None:
                cached.changed.add(record.task_id)
            cached.records[record.key] = record
        cached.read_at = now
        return cached.records

    def take_changes(self, run: RunKey) -> set[str] | None:
        """The tasks changed by others since the last call (None after a whole read: decide everything)."""
        cached = self.runs.get(run)
        if cached is None:
            return None
        changed, cached.changed = cached.changed, set()
        return changed

    def forget_changes(self, run: RunKey) -> None:
        """Decide the whole run next time (it must be looked at for a reason its rows do not show)."""
        cached = self.runs.get(run)
        if cached is not None:
            cached.changed = None

    def forget(self, run: RunKey) -> None:
        self.runs.pop(run, None)

    def invalidate(self, run: RunKey) -> None:
        """Read the run whole next time (after a change the stamps may not show, such as a deletion)."""
        cached = self.runs.get(run)
        if cached is not None:
            cached.full_read_at = None

    def keep_only(self, runs: set[RunKey]) -> None:
        for run in list(self.runs):
            if run not in runs:
                del self.runs[run]

"""The task instances of the runs the scheduler is working on, kept in memory between passes.

Each pass brings the cache up to date with one read of the rows changed since its last read (every
writer stamps ``updated_at``), whatever the number and the size of the runs, and reads a run whole
only when it is new to the cache and now and then; so deciding a big run costs a few changed rows,
not the whole run.

A row is stamped before its transaction commits, so a read also takes the rows stamped a little
before the last one: a short margin on every pass (writers stamp once they hold the write lock, and
commit within milliseconds), and at least every tenth of a second a long one, back from the last such
read, for a commit that came late. A late commit is then seen within a tenth of a second, as other
changes made without telling the scheduler are (see ``poll_interval``), and the rows read on every
pass stay few when many change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dagflow.core.decisions import RunRecords
from dagflow.core.keys import RunKey
from dagflow.store import Session
from dagflow.store import task_instances as ti_store

#: Rows stamped within this margin before the last thorough read are read again: a writer stamps its
#: rows once it holds the write lock, so a commit lands well within it after the stamp.
MARGIN = timedelta(seconds=0.5)
#: The margin of the reads between thorough ones.
QUICK_MARGIN = timedelta(seconds=0.05)
#: How often a read looks back ``MARGIN`` from the last thorough read.
THOROUGH_EVERY = timedelta(seconds=0.1)
#: A run is read whole at least this often, whatever the stamps say.
FULL_RELOAD = timedelta(seconds=30)


@dataclass
class CachedRun:
    records: RunRecords
    full_read_at: datetime | None
    #: Tasks whose task instances others changed since the run was last decided (None: unknown, so all).
    changed: set[str] | None = None


class RunCache:
    def __init__(self) -> None:
        self.runs: dict[RunKey, CachedRun] = {}
        #: When the cache last read the changed rows, and last did so looking back ``MARGIN``.
        self.read_at: datetime | None = None
        self.thorough_at: datetime | None = None

    def refresh(self, session: Session, runs: Iterable[RunKey], now: datetime) -> None:
        """Bring the cache up to date before deciding ``runs``.

        Each of ``runs`` that is new to the cache, or due for a whole read, is read whole; then the
        rows changed since the last read (see the module docstring for the margin) are read at once
        and applied to every run cached (rows of other runs are passed over).
        """
        for run in runs:
            cached = self.runs.get(run)
            if cached is None or cached.full_read_at is None or now - cached.full_read_at > FULL_RELOAD:
                self.runs[run] = CachedRun(RunRecords(ti_store.load_records(session, *run)), now)
        thorough = self.thorough_at is None or now - self.thorough_at >= THOROUGH_EVERY
        if self.read_at is not None and self.thorough_at is not None:
            since = self.thorough_at - MARGIN if thorough else self.read_at - QUICK_MARGIN
            for dag_id, run_id, record in ti_store.changed_records(session, since):
                found = self.runs.get(RunKey(dag_id, run_id))
                if found is not None and found.records.put(record) and found.changed is not None:
                    found.changed.add(record.task_id)
        self.read_at = now
        if thorough:
            self.thorough_at = now

    def records(self, run: RunKey) -> RunRecords:
        """The run's task instances as of the last :meth:`refresh` that included it."""
        return self.runs[run].records

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

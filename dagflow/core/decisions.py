"""Scheduling decisions for one DAG run: which task instances may run, which are decided without
running, which mapped tasks expand, and whether the run is over.

A pure function over the run's task instance states and the DAG's :class:`~dagflow.core.spec.DagSpec`.
The in-process runner (``dag.test()``) and the scheduler daemon both call it, so a DAG behaves the
same in a test as in production. Task instances are visited in topological order and a state
decided during the pass is seen by the tasks after it, so a skip or an upstream failure cascades
down the whole DAG in one call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from heapq import heappop, heappush
from math import prod

from dagflow.core.spec import DagSpec, MapSourceSpec, TaskSpec
from dagflow.core.states import FAILED_STATES, FINISHED, IN_FLIGHT, SCHEDULABLE, RunState, TaskState
from dagflow.core.trigger_rules import UpstreamCounts, evaluate

Key = tuple[str, int]
#: How many values a task's output offers to map over (None while unknown).
LengthOf = Callable[[str], "int | None"]


@dataclass(slots=True)
class TIRecord:
    """What the decisions need to know about one task instance."""

    task_id: str
    map_index: int = -1
    state: TaskState = TaskState.NONE
    try_number: int = 0
    max_tries: int = 0
    #: For ``up_for_retry`` and ``up_for_reschedule``: not to run before this moment.
    not_before: datetime | None = None

    @property
    def key(self) -> Key:
        return (self.task_id, self.map_index)


@dataclass
class Decisions:
    """The outcome of one pass over a run."""

    new_states: dict[Key, TaskState] = field(default_factory=dict)
    ready: list[Key] = field(default_factory=list)
    expansions: dict[str, int] = field(default_factory=dict)
    reasons: dict[Key, str] = field(default_factory=dict)
    run_state: RunState | None = None
    #: The earliest moment a task instance waiting for a retry or a reschedule becomes due.
    waiting_until: datetime | None = None


def literal_map_length(task: TaskSpec) -> int | None:
    """The number of map indexes of a mapped task whose values are all literals, else None."""
    if not task.is_mapped or any(s.upstreams() for s in task.map_sources):
        return None
    return map_length(task, lambda _: None)


def source_length(source: MapSourceSpec, length_of: LengthOf) -> int | None:
    """How many items one mapped argument offers, None while an upstream's output is not known.

    As Airflow's: ``zip`` is as long as its shortest part (its longest with a ``fillvalue``),
    ``concat`` as all its parts together.
    """
    if source.upstream is not None:
        return length_of(source.upstream)
    if source.combine is None:
        return source.literal_length or 0
    lengths = [source_length(part, length_of) for part in source.parts]
    if any(length is None for length in lengths):
        return None
    known = [length for length in lengths if length is not None]
    if source.combine == "concat":
        return sum(known)
    return max(known) if source.combine == "zip_longest" else min(known)


def map_length(task: TaskSpec, length_of: LengthOf) -> int | None:
    """How many map indexes a mapped task gets, once every value it maps over is known."""
    lengths = []
    for source in task.map_sources:
        length = source_length(source, length_of)
        if length is None:
            return None
        lengths.append(length)
    return lengths[0] if task.map_kind == "list" else prod(lengths)


def expansion_upstreams(task: TaskSpec) -> tuple[str, ...]:
    """The tasks whose outputs a mapped task maps over."""
    return tuple(dict.fromkeys(u for source in task.map_sources for u in source.upstreams()))


def initial_task_instances(spec: DagSpec) -> list[TIRecord]:
    """The task instances a new run starts with: one per task, or one per map index when known."""
    records: list[TIRecord] = []
    for task_id in spec.order:
        task = spec.tasks[task_id]
        count = literal_map_length(task)
        if count:
            records.extend(TIRecord(task_id, i, max_tries=task.retries) for i in range(count))
        else:
            records.append(TIRecord(task_id, -1, max_tries=task.retries))
    return records


_TIMED = (TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE)


class RunRecords:
    """One run's task instances, indexed by key and by task, with a running count of their states.

    :func:`decide` builds one from any iterable of records. A caller that decides the same run again
    and again (the scheduler) keeps one between calls, and changes it only through :meth:`put` and
    :meth:`set_state`: deciding after a few changes then costs in proportion to those changes, since
    nothing has to be grouped or counted again.
    """

    def __init__(self, records: Iterable[TIRecord] = ()):
        self.by_key: dict[Key, TIRecord] = {}
        self.by_task: dict[str, list[TIRecord]] = {}
        #: How many task instances are in each state.
        self.counts: Counter[TaskState] = Counter()
        #: The task instances waiting for a retry or a reschedule (looked at on every decision).
        self.timed: dict[Key, TIRecord] = {}
        for record in records:
            self.put(record)

    def __iter__(self) -> Iterator[TIRecord]:
        return iter(self.by_key.values())

    def __len__(self) -> int:
        return len(self.by_key)

    def __getitem__(self, key: Key) -> TIRecord:
        return self.by_key[key]

    def get(self, key: Key) -> TIRecord | None:
        return self.by_key.get(key)

    def put(self, record: TIRecord) -> bool:
        """Add ``record``, or copy it onto the known one with its key; True if it is new or its state
        or ``not_before`` changed."""
        known = self.by_key.get(record.key)
        if known is None:
            self.by_key[record.key] = record
            self.by_task.setdefault(record.task_id, []).append(record)
            self._count(record, 1)
            return True
        moved = known.state is not record.state or known.not_before != record.not_before
        if known.state is not record.state:
            self.set_state(known.key, record.state)
        known.try_number, known.max_tries, known.not_before = (
            record.try_number,
            record.max_tries,
            record.not_before,
        )
        return moved

    def set_state(self, key: Key, state: TaskState) -> TIRecord:
        record = self.by_key[key]
        self._count(record, -1)
        record.state = state
        self._count(record, 1)
        return record

    def _count(self, record: TIRecord, step: int) -> None:
        self.counts[record.state] += step
        if record.state in _TIMED:
            if step > 0:
                self.timed[record.key] = record
            else:
                self.timed.pop(record.key, None)


class _Pass:
    """One evaluation pass: state lookups with this pass's decisions layered on top."""

    def __init__(self, spec: DagSpec, records: RunRecords):
        self.spec = spec
        self.records = records
        self.by_task = records.by_task
        self.overlay: dict[Key, TaskState] = {}
        #: The tasks to evaluate (None: all); a state decided here adds the tasks it affects.
        self.candidates: set[str] | None = None
        #: Tasks still to visit in this pass, by topological position (when not visiting all).
        self._queue: list[tuple[int, str]] = []
        self._at = -1
        self._tally: dict[str, Counter[TaskState]] = {}
        self._counts: dict[tuple[str, bool], UpstreamCounts] = {}

    def visits(self, candidates: set[str] | None) -> Iterator[tuple[str, bool]]:
        """The tasks to look at, in topological order, each with whether to evaluate all its task
        instances (a candidate) or only those waiting for a retry or a reschedule."""
        if candidates is None:
            for task_id in self.spec.order:
                yield task_id, True
            return
        self.candidates = set()
        self._add_candidates(candidates)
        position = self.spec.position
        for task_id in {record.task_id for record in self.records.timed.values()}:
            if task_id in position:
                heappush(self._queue, (position[task_id], task_id))
        while self._queue:
            index, task_id = heappop(self._queue)
            if index > self._at:  # (a task may be queued twice: as a candidate and for its timed ones)
                self._at = index
                yield task_id, task_id in self.candidates

    def _add_candidates(self, task_ids: Iterable[str]) -> None:
        """Tasks to evaluate; those whose turn in this pass has passed wait for the next decision."""
        assert self.candidates is not None
        position = self.spec.position
        for task_id in task_ids:
            index = position.get(task_id)
            if task_id in self.candidates or index is None:
                continue
            self.candidates.add(task_id)
            if index > self._at:
                heappush(self._queue, (index, task_id))

    def state(self, ti: TIRecord) -> TaskState:
        return self.overlay.get(ti.key, ti.state)

    def set_state(self, ti: TIRecord, state: TaskState) -> None:
        self.overlay[ti.key] = state
        self._tally.pop(ti.task_id, None)
        if self.candidates is not None:
            self._add_candidates(self.spec.tasks[ti.task_id].downstream)
            self._add_candidates(self.spec.setup_dependents.get(ti.task_id, ()))
        if self.spec.tasks[ti.task_id].is_setup:
            self._counts.clear()
        else:
            for down in self.spec.tasks[ti.task_id].downstream:
                self._counts.pop((down, False), None)

    def tally(self, task_id: str) -> Counter[TaskState]:
        found = self._tally.get(task_id)
        if found is None:
            found = Counter(self.state(ti) for ti in self.by_task.get(task_id, ()))
            self._tally[task_id] = found
        return found

    def counts(self, task: TaskSpec, *, setups: bool) -> UpstreamCounts:
        """Upstream counts of ``task``: its direct upstreams, or its indirect setups."""
        cache_key = (task.task_id, setups)
        found = self._counts.get(cache_key)
        if found is None:
            found = self._count(task.indirect_setups if setups else task.upstream)
            self._counts[cache_key] = found
        return found

    def indexed_counts(self, task: TaskSpec, map_index: int) -> UpstreamCounts:
        """Upstream counts of map index ``map_index`` of a task in an expanded group: an upstream in
        the same group counts with its own task instance of that index only."""
        tallies = []
        for up in task.upstream:
            same = self.spec.tasks[up].map_group == task.map_group
            record = self.records.get((up, map_index)) if same else None
            tallies.append((up, Counter([self.state(record)]) if record is not None else self.tally(up)))
        return self._count_tallies(tallies)

    def _count(self, task_ids: Iterable[str]) -> UpstreamCounts:
        return self._count_tallies((task_id, self.tally(task_id)) for task_id in task_ids)

    def _count_tallies(self, tallies: Iterable[tuple[str, Counter[TaskState]]]) -> UpstreamCounts:
        total = setup_total = 0
        merged: Counter[TaskState] = Counter()
        setup_merged: Counter[TaskState] = Counter()
        for task_id, tally in tallies:
            size = sum(tally.values())
            total += size
            merged.update(tally)
            if self.spec.tasks[task_id].is_setup:
                setup_total += size
                setup_merged.update(tally)
        return UpstreamCounts(
            total=total,
            success=merged[TaskState.SUCCESS],
            skipped=merged[TaskState.SKIPPED],
            failed=merged[TaskState.FAILED],
            upstream_failed=merged[TaskState.UPSTREAM_FAILED],
            removed=merged[TaskState.REMOVED],
            setup_total=setup_total,
            setup_success=setup_merged[TaskState.SUCCESS],
            setup_skipped=setup_merged[TaskState.SKIPPED],
        )


def decide(
    spec: DagSpec,
    tis: Iterable[TIRecord],
    *,
    now: datetime,
    length_of: LengthOf,
    explain: bool = False,
    changed: Iterable[str] | None = None,
) -> Decisions:
    """Evaluate the schedulable task instances of one run; see the module docstring.

    With ``changed`` (the tasks whose task instances changed state since the last call), only the
    tasks that could be affected are evaluated — those and their downstream — plus whatever waits for
    a retry or a reschedule; without it, every task is. A run that looks stuck is always evaluated
    whole before it is declared deadlocked.
    """
    records = tis if isinstance(tis, RunRecords) else RunRecords(tis)
    decisions = _evaluate(spec, records, now, length_of, explain, _affected(spec, changed))
    if changed is not None and decisions.run_state is RunState.FAILED and _unfinished(records, decisions):
        decisions = _evaluate(spec, records, now, length_of, explain, None)
    return decisions


def _affected(spec: DagSpec, changed: Iterable[str] | None) -> set[str] | None:
    if changed is None:
        return None
    affected = set()
    for task_id in changed:
        task = spec.tasks.get(task_id)
        if task is None:
            continue
        affected.add(task_id)
        affected.update(task.downstream)
        affected.update(spec.setup_dependents.get(task_id, ()))
    return affected


def _unfinished(records: RunRecords, decisions: Decisions) -> bool:
    return any(decisions.new_states.get(r.key, r.state) not in FINISHED for r in records)


def _evaluate(
    spec: DagSpec,
    records: RunRecords,
    now: datetime,
    length_of: LengthOf,
    explain: bool,
    candidates: set[str] | None,
) -> Decisions:
    run = _Pass(spec, records)
    decisions = Decisions()
    for task_id, evaluate_all in run.visits(candidates):
        task = spec.tasks[task_id]
        for ti in run.by_task.get(task_id, ()):
            if evaluate_all or ti.state in _TIMED:
                _decide_one(run, task, ti, now, length_of, decisions, explain)
    decisions.new_states = dict(run.overlay)
    decisions.run_state = _run_state(run, decisions)
    return decisions


def _decide_one(
    run: _Pass,
    task: TaskSpec,
    ti: TIRecord,
    now: datetime,
    length_of: LengthOf,
    decisions: Decisions,
    explain: bool,
) -> None:
    state = run.state(ti)
    if state not in SCHEDULABLE:
        return
    if (
        state in (TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE)
        and ti.not_before
        and ti.not_before > now
    ):
        if decisions.waiting_until is None or ti.not_before < decisions.waiting_until:
            decisions.waiting_until = ti.not_before
        if explain:
            decisions.reasons[ti.key] = f"{state.value}: waits until {ti.not_before.isoformat()}"
        return
    setups = run.counts(task, setups=True) if task.indirect_setups else None
    verdict = evaluate(task.trigger_rule, _upstream_counts(run, task, ti), setups, map_index=ti.map_index)
    if verdict.new_state is not None:
        run.set_state(ti, verdict.new_state)
        return
    if not verdict.met:
        if explain:
            decisions.reasons[ti.key] = verdict.reason
        return
    if task.is_mapped and ti.map_index < 0:
        _expand(run, task, ti, length_of, decisions)
        return
    decisions.ready.append(ti.key)


def _upstream_counts(run: _Pass, task: TaskSpec, ti: TIRecord) -> UpstreamCounts:
    """The upstream states ``ti``'s trigger rule looks at.

    In an expanded task group, as in Airflow: a task instance waits only for the same map index of
    its upstreams in the same group (each index flows through the group on its own), and a task not
    yet expanded waits only for the outputs the group maps over.
    """
    if task.map_group is None:
        return run.counts(task, setups=False)
    if ti.map_index < 0:
        return run._count(expansion_upstreams(task))
    return run.indexed_counts(task, ti.map_index)


def _expand(run: _Pass, task: TaskSpec, ti: TIRecord, length_of: LengthOf, decisions: Decisions) -> None:
    count = map_length(task, length_of)
    if count is None and task.map_group is not None and _sources_unfinished(run, task):
        return  # a task deeper in an expanded group: the group's values are not known yet
    if count is None:  # the upstream finished without pushing anything to map over
        run.set_state(ti, TaskState.UPSTREAM_FAILED)
    elif count == 0:
        run.set_state(ti, TaskState.SKIPPED)
    else:
        decisions.expansions[task.task_id] = count


def _sources_unfinished(run: _Pass, task: TaskSpec) -> bool:
    return any(
        run.state(ti) not in FINISHED for up in expansion_upstreams(task) for ti in run.by_task.get(up, ())
    )


def _state_counts(run: _Pass) -> Counter[TaskState]:
    """How many task instances are in each state, this pass's decisions included."""
    counts = run.records.counts.copy()
    for key, state in run.overlay.items():
        counts[run.records.by_key[key].state] -= 1
        counts[state] += 1
    return counts


def _run_state(run: _Pass, decisions: Decisions) -> RunState | None:
    counts = _state_counts(run)
    unfinished = [s for s, n in counts.items() if n > 0 and s not in FINISHED]
    if not unfinished and not decisions.expansions:
        leaf_states = [
            run.state(ti)
            for task_id in run.spec.state_leaves
            for ti in run.by_task.get(task_id, ())
            if run.state(ti) is not TaskState.REMOVED
        ]
        return RunState.FAILED if any(s in FAILED_STATES for s in leaf_states) else RunState.SUCCESS
    progress = decisions.ready or decisions.expansions or decisions.new_states or decisions.waiting_until
    if progress or any(s in IN_FLIGHT for s in unfinished):
        return None
    if any(
        run.spec.tasks[ti.task_id].depends_on_past
        for tis in run.by_task.values()
        for ti in tis
        if run.state(ti) not in FINISHED
    ):
        return None
    return RunState.FAILED  # deadlock: nothing can ever run again


def apply_expansion(records: Mapping[Key, TIRecord], task: TaskSpec, count: int) -> list[TIRecord]:
    """The task instances after expanding mapped ``task`` to ``count`` map indexes.

    The placeholder (map index -1) becomes index 0; the others are new; indexes beyond ``count``
    (left from an earlier, longer expansion) are marked removed.
    """
    result: list[TIRecord] = []
    placeholder = records.get((task.task_id, -1))
    for index in range(count):
        existing = records.get((task.task_id, index))
        if existing is not None:
            result.append(existing)
        elif index == 0 and placeholder is not None:
            placeholder.map_index = 0
            result.append(placeholder)
        else:
            result.append(TIRecord(task.task_id, index, max_tries=task.retries))
    for (task_id, index), record in records.items():
        if task_id == task.task_id and index >= count:
            record.state = TaskState.REMOVED
            result.append(record)
    return result

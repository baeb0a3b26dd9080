"""``dagflow tasks why`` and the web UI's task instance page: only the reasons that hold, in every state.

One table: each row puts a store in a state (as the scheduler and workers would leave it), asks why one
task instance is not running, and expects exactly these sentences — a paused DAG's answer is the pause
and nothing else, not also "16 active runs" and "will be scheduled next pass".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from dagflow.cli import cli
from dagflow.core.keys import TIKey
from dagflow.explain import why
from dagflow.store.models import BackfillRow, DagRow, DagRunRow, TaskInstanceRow

DAG_FILE = """
from datetime import datetime, timedelta

from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("why", schedule=None, start_date=datetime(2024, 1, 1), max_active_runs=2):
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b", retries=2, retry_delay=timedelta(minutes=5))
    c = EmptyOperator(task_id="c", depends_on_past=True)
    a >> b
"""
ZEROTH = "zeroth"  # logical date 2023-12-31
FIRST = "first"  # logical date 2024-01-01: the previous run
RUN = "second"  # logical date 2024-01-02: the run asked about
LATER = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
EARLIER = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


@dataclass
class Store:
    """The store of one row of the table: set its rows as a state would leave them."""

    database: object
    writes: list[Callable[..., object]] = field(default_factory=list)

    def ti(self, task_id: str, state: str | None, run_id: str = RUN, **values: object) -> Store:
        self._set(
            update(TaskInstanceRow)
            .where(
                TaskInstanceRow.dag_id == "why",
                TaskInstanceRow.run_id == run_id,
                TaskInstanceRow.task_id == task_id,
            )
            .values(state=state, **values)
        )
        return self

    def run(self, state: str, run_id: str = RUN) -> Store:
        self._set(update(DagRunRow).where(DagRunRow.run_id == run_id).values(state=state))
        return self

    def backfill(self, *run_ids: str, max_active_runs: int) -> Store:
        """Make these runs one backfill's."""
        with self.database.session(write=True) as session:  # type: ignore[attr-defined]
            row = BackfillRow(
                dag_id="why",
                from_date=EARLIER,
                to_date=EARLIER,
                max_active_runs=max_active_runs,
                created_at=EARLIER,
            )
            session.add(row)
            session.flush()
            session.execute(update(DagRunRow).where(DagRunRow.run_id.in_(run_ids)).values(backfill_id=row.id))
        return self

    def paused(self, paused: bool) -> Store:
        self._set(update(DagRow).where(DagRow.dag_id == "why").values(is_paused=paused))
        return self

    def _set(self, statement: object) -> None:
        with self.database.session(write=True) as session:  # type: ignore[attr-defined]
            session.execute(statement)


def running(store: Store) -> Store:
    """Unpaused, the runs before finished well, the run asked about running."""
    return (
        store.paused(False)
        .run("success", ZEROTH)
        .run("success", FIRST)
        .ti("c", "success", FIRST)
        .run("running")
    )


CASES: dict[str, tuple[Callable[[Store], object], str, list[str]]] = {
    "a paused DAG's queued run: the pause only": (
        lambda s: s.paused(True).run("failed", FIRST).run("success", ZEROTH).run("queued"),
        "b",
        ["The DAG is paused: no task instance of it starts until it is unpaused."],
    ),
    "a paused DAG's running run, dependencies met: the pause only": (
        lambda s: running(s).paused(True).ti("a", "success"),
        "b",
        ["The DAG is paused: no task instance of it starts until it is unpaused."],
    ),
    "a queued run waiting for max_active_runs": (
        lambda s: s.paused(False).run("running", ZEROTH).run("running", FIRST).run("queued"),
        "a",
        ["The run is queued: the DAG has 2 running run(s), as many as its max_active_runs (2) allows."],
    ),
    "a queued run of a backfill waiting for the backfill's max_active_runs": (
        lambda s: (
            s.paused(False)
            .run("success", ZEROTH)
            .run("running", FIRST)
            .run("queued")
            .backfill(FIRST, RUN, max_active_runs=1)
        ),
        "a",
        ["The run is queued: its backfill has 1 running run(s), as many as its max_active_runs (1) allows."],
    ),
    "a queued run with room: started on the next pass": (
        lambda s: s.paused(False).run("success", ZEROTH).run("running", FIRST).run("queued"),
        "a",
        ["The run is queued: the scheduler starts it on its next pass."],
    ),
    "none with its upstream not done": (
        lambda s: running(s).ti("a", "running"),
        "b",
        ["Its trigger rule all_success waits for all upstreams to succeed (1 not yet) (not finished: a)."],
    ),
    "none with its upstream failed: marked upstream_failed on the next pass": (
        lambda s: running(s).ti("a", "failed"),
        "b",
        [
            "It will not run: its trigger rule all_success marks it upstream_failed on the next pass "
            "(failed upstream: a)."
        ],
    ),
    "none with its dependencies met": (
        lambda s: running(s).ti("a", "success"),
        "b",
        ["Its dependencies are met: the scheduler schedules it on its next pass."],
    ),
    "upstream_failed names the failed upstream": (
        lambda s: running(s).ti("a", "failed").ti("b", "upstream_failed"),
        "b",
        ["It will not run: a failed, so it is upstream_failed (clear the failed task to retry)."],
    ),
    "scheduled, waiting for a parallelism slot": (
        lambda s: running(s).ti("a", "running").ti("c", "scheduled"),
        "c",
        [
            "Its dependencies are met, but it waits for a slot: parallelism reached (1 task instances "
            "queued or running)."
        ],
    ),
    "scheduled with a free slot": (
        lambda s: running(s).ti("c", "scheduled"),
        "c",
        ["Its dependencies are met and a slot is free: the scheduler queues it on its next pass."],
    ),
    "queued, waiting for a worker (a pause does not hold it)": (
        lambda s: running(s).paused(True).ti("a", "queued", queued_at=EARLIER),
        "a",
        ["Queued at 2024-03-01 09:30:00 UTC: waiting for a worker of the executor to start it."],
    ),
    "running": (
        lambda s: running(s).ti("a", "running", try_number=1, start_date=EARLIER),
        "a",
        ["It is running: try 1, started at 2024-03-01 09:30:00 UTC."],
    ),
    "up_for_retry with the time it may retry": (
        lambda s: running(s).ti("a", "success").ti("b", "up_for_retry", try_number=1, not_before=LATER),
        "b",
        ["Try 1 failed; try 2 of 3 may start at 2030-01-01 12:00:00 UTC (retry_delay)."],
    ),
    "up_for_retry past its delay": (
        lambda s: running(s).ti("a", "success").ti("b", "up_for_retry", try_number=1, not_before=EARLIER),
        "b",
        ["Try 1 failed and its retry_delay has passed: the next pass schedules it again."],
    ),
    "up_for_reschedule with its next poke": (
        lambda s: running(s).ti("a", "up_for_reschedule", try_number=1, not_before=LATER),
        "a",
        ["The sensor is rescheduled: its next poke is at 2030-01-01 12:00:00 UTC."],
    ),
    "deferred by depends_on_past": (
        lambda s: running(s).ti("c", "failed", FIRST),
        "c",
        [
            "Deferred by depends_on_past: its task instance in the previous run is failed, not success or "
            "skipped."
        ],
    ),
    "depends_on_past met: nothing said of it": (
        running,
        "c",
        ["Its dependencies are met: the scheduler schedules it on its next pass."],
    ),
    "success": (lambda s: running(s).ti("a", "success"), "a", ["It has finished: success."]),
    "skipped": (lambda s: running(s).ti("a", "skipped"), "a", ["It has finished: skipped."]),
    "failed with no retries left": (
        lambda s: running(s).ti("a", "failed", try_number=1),
        "a",
        ["It has finished: try 1 failed and no retries are left (it has 0)."],
    ),
    "an unfinished task instance of a finished run": (
        lambda s: running(s).run("failed"),
        "b",
        ["The run is failed: nothing more of it is scheduled unless it is cleared."],
    ),
}


@pytest.fixture
def store(database, dags_folder, cli_runner, monkeypatch) -> Store:
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    monkeypatch.setenv("DAGFLOW__CORE__PARALLELISM", "1")
    dags_folder.write("why.py", DAG_FILE)
    assert cli_runner.invoke(cli, ["dags", "reserialize"]).exit_code == 0
    for run_id, day in ((ZEROTH, 0), (FIRST, 1), (RUN, 2)):
        when = (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day - 1)).isoformat()
        result = cli_runner.invoke(
            cli, ["dags", "trigger", "why", "--run-id", run_id, "--logical-date", when]
        )
        assert result.exit_code == 0, result.stderr
    return Store(database)


@pytest.mark.parametrize("case", list(CASES))
def test_why_says_only_the_reasons_that_hold(store, cli_runner, case):
    arrange, task_id, expected = CASES[case]
    arrange(store)

    with store.database.session() as session:
        found = why(session, TIKey("why", RUN, task_id), parallelism=1)
    printed = cli_runner.invoke(cli, ["tasks", "why", "why", RUN, task_id])

    assert list(found.reasons) == expected
    assert printed.exit_code == 0, printed.stderr
    assert printed.stdout == f"{found.title}:\n" + "".join(f"  - {r}\n" for r in expected)


def test_why_titles_say_whether_it_waits(store, cli_runner):
    running(store).ti("a", "success")
    waiting = cli_runner.invoke(cli, ["tasks", "why", "why", RUN, "b"])
    done = cli_runner.invoke(cli, ["tasks", "why", "why", RUN, "a"])

    assert waiting.stdout.splitlines()[0] == "Why it is not running:"
    assert done.stdout.splitlines()[0] == "Where it is:"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", RUN, "a"], "DAG 'nope' is not known to the store"),
        (["why", "nope", "a"], "DAG 'why' has no run 'nope'"),
        (["why", RUN, "zz"], "run 'second' has no task instance 'zz'"),
        (["why", RUN, "a", "--map-index", "3"], "run 'second' has no task instance 'a' map index 3"),
    ],
)
def test_why_of_something_not_in_the_store_is_one_line(store, cli_runner, args, message):
    result = cli_runner.invoke(cli, ["tasks", "why", *args])

    assert result.exit_code == 2
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""


def test_a_map_index_of_an_expanded_group_waits_only_on_its_own_index_upstream_in_the_group():
    from types import SimpleNamespace

    from dagflow.core.decisions import TIRecord
    from dagflow.core.spec import TaskSpec
    from dagflow.explain import _relevant

    tasks = {
        "g.a": TaskSpec("g.a", map_group="g"),
        "g.b": TaskSpec("g.b", upstream=("g.a", "outside"), map_group="g"),
        "outside": TaskSpec("outside"),
    }
    stored: Any = SimpleNamespace(spec=SimpleNamespace(tasks=tasks))
    asking: Any = SimpleNamespace(task_id="g.b", map_index=1)

    def relevant(task_id: str, index: int) -> bool:
        return _relevant(stored, tasks["g.b"], asking, TIRecord(task_id, index))

    assert relevant("g.a", 1) and not relevant("g.a", 0)
    assert relevant("outside", -1)

"""A metadata store full of history for the web UI benchmark, written fast with bulk inserts.

Three DAG files are loaded once with ``DagBag`` and serialized with ``serialize_dag``: a 20-task
pipeline (``bench/dag_files.py``), a 50-task DAG with nested task groups and a mapped task, and a
500-task DAG in 20 layers. The store then gets 1,000 DAG rows (998 renamed copies of the pipeline,
plus the two others), their DagCode rows, runs, task instances and try history, all with SQLAlchemy
Core ``insert(table)`` executemany: no ORM objects, no DAG processor.

``History.extend(connection, scale)`` adds *older* runs to every DAG, so that a DAG's newest runs,
and so everything the measured pages show, stay as they were while the history grows ``scale``
times: what the pages read is the same at both sizes, only the unrelated history differs.
"""

from __future__ import annotations

import hashlib
import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dag_files import write_bag_file
from sqlalchemy import Connection, insert

from dagflow.dagbag import DagBag
from dagflow.serialization import fingerprint, serialize_dag
from dagflow.store.models import DagCodeRow, DagRow, DagRunRow, TaskInstanceRow, TaskInstanceTryRow

DAGS = 1000
TARGET_TASK_INSTANCES = 200_000
GRID_DAG = "bench_grid_50"
GRAPH_DAG = "bench_graph_500"
GRID_RUNS = 120
GRAPH_RUNS = 6
MAP_LENGTH = 5
#: The newest run of every DAG is this moment; older runs go back one schedule interval each.
NEWEST = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CHUNK = 5000

GRID_SOURCE = '''\
"""Hourly analytics load: extract from six sources, transform in two lanes, fan out, load."""

from datetime import datetime, timedelta

from dagflow import DAG, TaskGroup, chain, cross_downstream, task
from dagflow.operators import BashOperator, EmptyOperator, PythonOperator


def _pull(n, **context):
    return {"source": n, "ds": context["ds"]}


with DAG(
    "bench_grid_50",
    description="Hourly analytics load (50 tasks, task groups, a mapped task)",
    schedule="@hourly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"owner": "analytics", "retries": 1, "retry_delay": timedelta(minutes=2)},
    tags=["bench", "analytics"],
):
    start = EmptyOperator(task_id="start")
    with TaskGroup("extract") as extract:
        with TaskGroup("sources"):
            sources = [
                PythonOperator(task_id=f"from_source_{i}", python_callable=_pull, op_kwargs={"n": i})
                for i in range(6)
            ]
        checks = [BashOperator(task_id=f"validate_{i}", bash_command="echo {{ ds }}") for i in range(4)]
        cross_downstream(sources, checks)
    with TaskGroup("transform") as transform:
        for lane in ("orders", "customers"):
            with TaskGroup(lane):
                chain(*[BashOperator(task_id=f"step_{i}", bash_command=f"echo {i}") for i in range(10)])

    @task
    def split() -> list[int]:
        return list(range(5))

    @task
    def process(part: int) -> int:
        return part * 2

    parts = split()
    mapped = process.expand(part=parts)
    with TaskGroup("load") as load:
        tables = [BashOperator(task_id=f"table_{i:02d}", bash_command=f"echo load {i}") for i in range(15)]
    report = BashOperator(task_id="report", bash_command="echo report {{ ds }}")
    end = EmptyOperator(task_id="end")
    start >> extract >> transform >> parts
    mapped >> load >> report >> end
'''

GRAPH_SOURCE = '''\
"""A wide, deep DAG: 20 stages of 25 steps, each step waiting for two of the stage before."""

from datetime import datetime

from dagflow import DAG, TaskGroup
from dagflow.operators import EmptyOperator

with DAG(
    "bench_graph_500",
    description="Large fan-in/fan-out DAG (500 tasks)",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["bench", "large"],
):
    previous = []
    for stage in range(20):
        with TaskGroup(f"stage_{stage:02d}"):
            steps = [EmptyOperator(task_id=f"step_{i:02d}") for i in range(25)]
        for i, step in enumerate(steps):
            if previous:
                previous[i] >> step
                previous[(i + 1) % 25] >> step
        previous = steps
'''


@dataclass(frozen=True)
class Template:
    """A DAG as the DAG processor would store it, ready to be copied under other ids."""

    dag_id: str
    fileloc: str
    source: str
    serialized_text: str
    interval: timedelta
    #: (task_id, map_index, operator) of each task instance a run has, in topological order.
    instances: tuple[tuple[str, int, str], ...]

    def copy(self, dag_id: str, fileloc: str, tag: str | None = None) -> dict[str, Any]:
        text = self.serialized_text.replace(json.dumps(self.fileloc), json.dumps(fileloc))
        text = text.replace(json.dumps(self.dag_id), json.dumps(dag_id))
        if tag:
            text = text.replace('"team-0"', json.dumps(tag))
        serialized: dict[str, Any] = json.loads(text)
        return serialized


def load_templates(folder: Path) -> dict[str, Template]:
    """The three template DAGs, loaded from files written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_bag_file(folder, 0)
    (folder / f"{GRID_DAG}.py").write_text(GRID_SOURCE)
    (folder / f"{GRAPH_DAG}.py").write_text(GRAPH_SOURCE)
    bag = DagBag(folder)
    if bag.import_errors:
        raise SystemExit(f"template DAG files failed to import: {bag.import_errors}")
    intervals = {
        "pipeline_000": timedelta(days=1),
        GRID_DAG: timedelta(hours=1),
        GRAPH_DAG: timedelta(days=1),
    }
    templates = {}
    for dag_id, dag in bag.dags.items():
        serialized = serialize_dag(dag)
        instances = tuple(
            (t["task_id"], index, serialized["tasks"][t["task_id"]]["operator"])
            for t in serialized["spec"]["tasks"]
            for index in (range(MAP_LENGTH) if serialized["tasks"][t["task_id"]]["is_mapped"] else [-1])
        )
        templates[dag_id] = Template(
            dag_id,
            dag.fileloc,
            Path(dag.fileloc).read_text(),
            json.dumps(serialized),
            intervals[dag_id],
            instances,
        )
    return templates


@dataclass
class DagPlan:
    """One DAG of the store and how many runs it has (its newest run first)."""

    dag_id: str
    template: Template
    runs: int


@dataclass
class History:
    """What was written: the DAGs, their runs, and counts per table."""

    dags: list[DagPlan]
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, rows: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + rows

    def seed(self, connection: Connection, now: datetime) -> None:
        """Write every DAG, its code and its runs (``plan.runs`` each, newest first)."""
        for table, rows in (("dag", self._dag_rows(now)), ("dag_code", self._code_rows(now))):
            connection.execute(insert(_table(table)), rows)
            self.add(table, len(rows))
        for plan in self.dags:
            self._write_runs(connection, plan, range(plan.runs))

    def extend(self, connection: Connection, scale: int) -> None:
        """Give every DAG ``scale`` times the runs it has, the new ones older than any before."""
        for plan in self.dags:
            older = range(plan.runs, plan.runs * scale)
            self._write_runs(connection, plan, older)
            plan.runs *= scale

    def _dag_rows(self, now: datetime) -> list[dict[str, Any]]:
        rows = []
        for i, plan in enumerate(self.dags):
            serialized = plan.template.copy(plan.dag_id, fileloc_of(plan.dag_id), f"team-{i % 7}")
            info = serialized["dag"]
            rows.append(
                {
                    "dag_id": plan.dag_id,
                    "fileloc": info["fileloc"],
                    "is_paused": i % 10 == 3,
                    "is_active": True,
                    "description": info["description"],
                    "schedule": info["timetable"].get("summary"),
                    "timezone": info["timezone"],
                    "tags": info["tags"],
                    "owners": ", ".join(info["owners"]) or None,
                    "max_active_runs": info["max_active_runs"],
                    "max_active_tasks": info["max_active_tasks"],
                    "serialized": serialized,
                    "source_hash": fingerprint(serialized),
                    "last_parsed_at": now,
                    "next_dagrun": NEWEST + plan.template.interval,
                    "next_dagrun_data_interval_start": NEWEST,
                    "next_dagrun_data_interval_end": NEWEST + plan.template.interval,
                    "next_dagrun_create_after": NEWEST + 2 * plan.template.interval,
                }
            )
        return rows

    def _code_rows(self, now: datetime) -> list[dict[str, Any]]:
        rows = []
        for plan in self.dags:
            source = plan.template.source.replace(plan.template.dag_id, plan.dag_id)
            rows.append(
                {
                    "fileloc": fileloc_of(plan.dag_id),
                    "source": source,
                    "source_hash": hashlib.sha256(source.encode()).hexdigest(),
                    "updated_at": now,
                }
            )
        return rows

    def _write_runs(self, connection: Connection, plan: DagPlan, ages: range) -> None:
        for batch in _batches(ages, max(1, CHUNK // len(plan.template.instances))):
            runs, instances, tries = [], [], []
            for age in batch:
                run = run_row(plan, age)
                runs.append(run)
                for ti in instance_rows(plan, run, age):
                    instances.append(ti)
                    tries.extend(try_rows(ti))
            for table, rows in (
                ("dag_run", runs),
                ("task_instance", instances),
                ("task_instance_try", tries),
            ):
                if rows:
                    connection.execute(insert(_table(table)), rows)
                    self.add(table, len(rows))


def _table(name: str) -> Any:
    models = (DagRow, DagCodeRow, DagRunRow, TaskInstanceRow, TaskInstanceTryRow)
    return next(m.__table__ for m in models if m.__tablename__ == name)


def _batches(ages: range, size: int) -> Iterator[range]:
    for start in range(ages.start, ages.stop, size):
        yield range(start, min(start + size, ages.stop))


def fileloc_of(dag_id: str) -> str:
    return f"/opt/dagflow/dags/{dag_id}.py"


def plan_dags(templates: dict[str, Template]) -> list[DagPlan]:
    """1,000 DAGs whose runs make exactly 200,000 task instances.

    The 50-task DAG has 120 runs and the 500-task DAG 6; the 998 pipelines share the rest: most
    have 2 to 16 runs, and the first few are busier.
    """
    grid, graph, pipeline = templates[GRID_DAG], templates[GRAPH_DAG], templates["pipeline_000"]
    plans = [DagPlan(GRAPH_DAG, graph, GRAPH_RUNS), DagPlan(GRID_DAG, grid, GRID_RUNS)]
    left = TARGET_TASK_INSTANCES - GRID_RUNS * len(grid.instances) - GRAPH_RUNS * len(graph.instances)
    per_run = len(pipeline.instances)
    if left % per_run:
        raise SystemExit(f"{left} task instances do not split into runs of {per_run}")
    pipelines = [DagPlan(f"pipeline_{i:04d}", pipeline, 2 + (i * 7919) % 15) for i in range(DAGS - 2)]
    spare = left // per_run - sum(p.runs for p in pipelines)
    busy = pipelines[:: len(pipelines) // 8][:8]
    for k, plan in enumerate(busy):
        plan.runs += spare // len(busy) + (1 if k < spare % len(busy) else 0)
    return plans + pipelines


# -- rows ----------------------------------------------------------------------------------------


def run_state(plan: DagPlan, age: int) -> str:
    if age == 0 and (plan.dag_id in (GRID_DAG, GRAPH_DAG) or zlib.crc32(plan.dag_id.encode()) % 5 == 0):
        return "running"
    return "failed" if _rng(plan.dag_id, age).random() < 0.12 else "success"


def _rng(*seed: object) -> random.Random:
    return random.Random("|".join(map(str, seed)))


def run_row(plan: DagPlan, age: int) -> dict[str, Any]:
    interval = plan.template.interval
    logical = NEWEST - age * interval
    manual = age % 17 == 5
    state = run_state(plan, age)
    start = logical + interval + timedelta(seconds=3)
    prefix = "manual" if manual else "scheduled"
    return {
        "dag_id": plan.dag_id,
        "run_id": f"{prefix}__{logical.isoformat()}",
        "logical_date": logical,
        "data_interval_start": logical,
        "data_interval_end": logical + interval,
        "run_after": logical + interval,
        "run_type": "manual" if manual else "scheduled",
        "state": state,
        "conf": {"full_refresh": True} if manual else {},
        "queued_at": logical + interval,
        "start_date": start,
        "end_date": None if state == "running" else start + timedelta(minutes=7),
        "backfill_id": None,
        "callback_sent": state != "running",
        "note": None,
        "triggered_by": "ui" if manual else "scheduler",
    }


def instance_states(plan: DagPlan, run: dict[str, Any], age: int) -> list[str]:
    """A plausible state for each task instance of the run, in topological order."""
    count = len(plan.template.instances)
    rng = _rng(plan.dag_id, age, "tis")
    if run["state"] == "success":
        return ["skipped" if rng.random() < 0.03 else "success" for _ in range(count)]
    cut = rng.randrange(1, count - 1)
    if run["state"] == "failed":
        return ["success"] * cut + ["failed"] + ["upstream_failed"] * (count - cut - 1)
    waiting = ["running", "queued", "up_for_retry", "scheduled"]
    return ["success"] * cut + waiting[: count - cut] + ["none"] * max(0, count - cut - len(waiting))


def instance_rows(plan: DagPlan, run: dict[str, Any], age: int) -> Iterator[dict[str, Any]]:
    start = run["start_date"]
    for k, ((task_id, map_index, operator), state) in enumerate(
        zip(plan.template.instances, instance_states(plan, run, age), strict=True)
    ):
        ran = state in ("success", "failed", "running", "up_for_retry")
        tries = 2 if state == "failed" or (ran and k % 23 == 7) else (1 if ran else 0)
        begin = start + timedelta(seconds=2 * k) if ran else None
        finished = state in ("success", "failed", "skipped", "up_for_retry")
        duration = 1.5 + (k % 7) * 0.25 if finished and begin else None
        yield {
            "dag_id": plan.dag_id,
            "run_id": run["run_id"],
            "task_id": task_id,
            "map_index": map_index,
            "state": state,
            "try_number": tries,
            "max_tries": 1,
            "queued_at": start + timedelta(seconds=2 * k - 1) if ran or state == "queued" else None,
            "start_date": begin,
            "end_date": begin + timedelta(seconds=duration) if begin and duration else None,
            "duration": duration,
            "not_before": begin + timedelta(minutes=2) if state == "up_for_retry" and begin else None,
            "hostname": f"worker-{k % 4}" if ran else None,
            "pid": 4000 + k if ran else None,
            "pool": "default_pool",
            "pool_slots": 1,
            "priority_weight": 1,
            "queue": "default",
            "operator": operator,
            "map_length": MAP_LENGTH if task_id.endswith("split") else None,
            "rendered_fields": {"bash_command": f"echo {task_id} {run['run_id']}"}
            if operator == "BashOperator" and ran
            else None,
            "error": "RuntimeError: the partner feed was empty"
            if state in ("failed", "up_for_retry")
            else None,
            "updated_at": begin or run["queued_at"],
        }


def try_rows(ti: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per ended try: a retried task instance failed its first try."""
    ended = ti["try_number"] if ti["state"] != "running" else ti["try_number"] - 1
    for number in range(1, ended + 1):
        last = number == ti["try_number"]
        yield {
            "dag_id": ti["dag_id"],
            "run_id": ti["run_id"],
            "task_id": ti["task_id"],
            "map_index": ti["map_index"],
            "try_number": number,
            "state": ti["state"] if last and ti["state"] != "up_for_retry" else "failed",
            "queued_at": ti["queued_at"],
            "start_date": ti["start_date"],
            "end_date": ti["end_date"],
            "duration": ti["duration"],
            "hostname": ti["hostname"],
            "pid": ti["pid"],
            "error": ti["error"] if last else "RuntimeError: connection reset by peer",
            "log_path": None,
        }

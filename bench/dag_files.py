"""DAG files the benchmarks generate into a temporary folder: a chain, a mapped task, a folder of DAGs."""

from __future__ import annotations

from pathlib import Path

HEADER = """\
from datetime import datetime, timedelta

from dagflow import DAG, TaskGroup, chain, task
from dagflow.operators import BashOperator, EmptyOperator, PythonOperator
"""

CHAIN = (
    HEADER
    + """

with DAG("bench_chain_{n}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task
    def noop():
        return None

    chain(*[noop.override(task_id=f"t{{i:03d}}")() for i in range({n})])
"""
)

MAPPED = (
    HEADER
    + """

with DAG("bench_mapped_{n}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task
    def identity(x):
        return x

    @task
    def count(values):
        return len(values)

    count(identity.expand(x=list(range({n}))))
"""
)


def _write(folder: Path, dag_id: str, template: str, **fields: object) -> str:
    """Write the DAG file ``dag_id``.py from ``template``; return ``dag_id``."""
    (folder / f"{dag_id}.py").write_text(template.format(**fields))
    return dag_id


def write_chain(folder: Path, n: int) -> str:
    """A DAG of ``n`` no-op ``@task`` tasks in a line; returns its dag_id."""
    return _write(folder, f"bench_chain_{n}", CHAIN, n=n)


def write_mapped(folder: Path, n: int) -> str:
    """A ``@task`` mapped over ``range(n)`` and a reducer of its ``n`` outputs; returns its dag_id."""
    return _write(folder, f"bench_mapped_{n}", MAPPED, n=n)


# -- a folder of realistic DAG files ------------------------------------------------------------

BAG_DAG = (
    HEADER
    + """

def _extract(source, **context):
    return {{"source": source, "rows": len(source) * 10, "ds": context["ds"]}}


def _check(**context):
    return context["ti"].xcom_pull(task_ids="extract_{i}_0") is not None


with DAG(
    "pipeline_{i:03d}",
    description="Nightly load of partner feed {i}",
    schedule="{schedule}",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={{"owner": "data-eng", "retries": 2, "retry_delay": timedelta(minutes=5)}},
    params={{"partner": "partner_{i}", "full_refresh": False}},
    tags=["generated", "team-{team}"],
):
    start = EmptyOperator(task_id="start")
{extracts}
    with TaskGroup("transform") as transform:
{transforms}
    check = PythonOperator(task_id="check", python_callable=_check)
{bash_tasks}
    end = EmptyOperator(task_id="end")

    start >> [{extract_ids}] >> transform >> check
    check >> [{bash_ids}] >> end
"""
)

SCHEDULES = ["@daily", "@hourly", "0 3 * * *", "*/30 * * * *", "@weekly"]


def _extracts(i: int, count: int) -> str:
    return "\n".join(
        f'    extract_{j} = PythonOperator(task_id="extract_{i}_{j}", python_callable=_extract, '
        f'op_kwargs={{"source": "s3://bucket/feed_{i}/part_{j}.csv"}})'
        for j in range(count)
    )


def _transforms(i: int, count: int) -> str:
    lines = [
        "        @task",
        "        def clean(rows: dict) -> dict:",
        '            return {**rows, "clean": True}',
        "",
        "        @task",
        "        def enrich(rows: dict, ds=None) -> dict:",
        '            return {**rows, "enriched_on": ds}',
        "",
        "        @task",
        "        def merge(*parts: dict) -> int:",
        '            return sum(p["rows"] for p in parts)',
        "",
    ]
    lines.extend(f"        cleaned_{j} = enrich(clean({{'rows': {i + j}}}))" for j in range(count))
    lines.append(f"        merge({', '.join(f'cleaned_{j}' for j in range(count))})")
    return "\n".join(lines)


def _bash_tasks(i: int, count: int) -> str:
    return "\n".join(
        f'    publish_{j} = BashOperator(task_id="publish_{j}", '
        f"bash_command=\"echo 'partner {{{{ params.partner }}}} {j} for {{{{ ds }}}}'\", "
        f'env={{"TARGET": "warehouse_{i}_{j}"}})'
        for j in range(count)
    )


def write_bag_file(folder: Path, i: int) -> None:
    """One DAG of 20 tasks: 2 empty, 4 Python extracts, 9 TaskFlow tasks in a group, 1 check, 4 Bash."""
    extracts, transforms, bashes = 4, 4, 4
    text = BAG_DAG.format(
        i=i,
        schedule=SCHEDULES[i % len(SCHEDULES)],
        team=i % 7,
        extracts=_extracts(i, extracts),
        transforms=_transforms(i, transforms),
        bash_tasks=_bash_tasks(i, bashes),
        extract_ids=", ".join(f"extract_{j}" for j in range(extracts)),
        bash_ids=", ".join(f"publish_{j}" for j in range(bashes)),
    )
    (folder / f"pipeline_{i:03d}.py").write_text(text)


def write_bag(folder: Path, files: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        write_bag_file(folder, i)


# -- DAGs for the scheduler daemon (bench_scheduler.py) ------------------------------------------

NOOP_HEADER = """\
from datetime import datetime

from dagflow import DAG, task


@task
def noop():
    return None
"""

FANOUT = (
    NOOP_HEADER
    + """

with DAG("bench_fanout_{n}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    noop.override(task_id="root")() >> [noop.override(task_id=f"t{{i:05d}}")() for i in range({n})]
"""
)

MAPPED_ONLY = (
    NOOP_HEADER
    + """

@task
def identity(x):
    return x


with DAG("bench_mapped_only_{n}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    identity.expand(x=list(range({n})))
"""
)

LAYERED = (
    NOOP_HEADER
    + """

with DAG("bench_layered_{n}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    previous = []
    for layer in range({layers}):
        current = [noop.override(task_id=f"l{{layer:03d}}_{{i:04d}}")() for i in range({width})]
        for i, node in enumerate(current):
            if previous:
                node.set_upstream([previous[i], previous[(i + 1) % {width}]])
        previous = current
"""
)

LONG_CHAIN = (
    NOOP_HEADER
    + """

with DAG("bench_long_chain_{n}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    previous = None
    for i in range({n}):
        node = noop.override(task_id=f"t{{i:05d}}")()
        if previous is not None:
            previous >> node
        previous = node
"""
)

SMALL = (
    NOOP_HEADER
    + """

with DAG("bench_small_{i:03d}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    noop.override(task_id="start")() >> [noop.override(task_id=f"step_{{j}}")() for j in range(8)] >> (
        noop.override(task_id="end")()
    )
"""
)

NEW_FILE = (
    NOOP_HEADER
    + """

with DAG("{dag_id}", schedule="@once", start_date=datetime(2024, 1, 1), is_paused_upon_creation=False):
    noop.override(task_id="first")() >> noop.override(task_id="second")()
"""
)


def write_fanout(folder: Path, n: int) -> str:
    """A no-op root task, then ``n`` no-op tasks after it; returns its dag_id."""
    return _write(folder, f"bench_fanout_{n}", FANOUT, n=n)


def write_mapped_only(folder: Path, n: int) -> str:
    """One no-op ``@task`` mapped over ``range(n)`` (``n`` task instances, nothing after)."""
    return _write(folder, f"bench_mapped_only_{n}", MAPPED_ONLY, n=n)


def write_layered(folder: Path, layers: int, width: int) -> str:
    """``layers`` layers of ``width`` no-op tasks, each after two tasks of the layer before."""
    n = layers * width
    return _write(folder, f"bench_layered_{n}", LAYERED, n=n, layers=layers, width=width)


def write_long_chain(folder: Path, n: int) -> str:
    """``n`` no-op tasks in a line (task ids ``t00000``...), built in a loop."""
    return _write(folder, f"bench_long_chain_{n}", LONG_CHAIN, n=n)


def write_small(folder: Path, i: int) -> str:
    """Ten no-op tasks: one, eight after it, one after those."""
    return _write(folder, f"bench_small_{i:03d}", SMALL, i=i)


def new_file_source(dag_id: str) -> str:
    """A DAG due at once (``@once``, start date in the past) that is unpaused when it is first parsed."""
    return NEW_FILE.format(dag_id=dag_id)

"""The ``dags`` commands that inspect one DAG as Airflow's do: ``next-execution``, ``show``, ``details``
and ``list-runs``. They read the metadata store; a DAG the store has never seen is loaded from its file."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from dagflow.cli.common import aware, fail, load_settings, parse_datetime
from dagflow.cli.output import emit, output_option
from dagflow.cli.sources import load_dag, not_found, parsed_store
from dagflow.core.clock import utcnow
from dagflow.core.schedule import NextRun, Restriction
from dagflow.serialization import StoredDag, serialize_dag


@dataclass
class Inspected:
    """What the inspection commands know of one DAG: its serialized form and, if stored, its row."""

    stored: StoredDag
    serialized: dict[str, Any]
    row: dict[str, Any] | None = None
    last: NextRun | None = None


def inspect_dag(dag_id: str) -> Inspected:
    """DAG_ID from the metadata store, else from its DAG file (then with no runs)."""
    from dagflow.store.inspection import dag_row, last_scheduled_point
    from dagflow.store.reads import import_error_count
    from dagflow.store.rows import dag_json

    with parsed_store(load_settings()) as session:
        if session is not None:
            row = dag_row(session, dag_id)
            if row is None:
                not_found(dag_id, "it is not in the metadata store", import_error_count(session))
            found = Inspected(StoredDag.from_json(row.serialized), row.serialized, dag_json(row))
            found.last = last_scheduled_point(session, dag_id)
            return found
    serialized = serialize_dag(load_dag(dag_id, None))
    return Inspected(StoredDag.from_json(serialized), serialized)


# -- next-execution -----------------------------------------------------------------------------------


@click.command("next-execution")
@click.argument("dag_id")
@click.option("--num-executions", "-n", type=int, default=1, show_default=True, help="How many to show.")
def dags_next_execution(dag_id: str, num_executions: int) -> None:
    """Print the logical dates of DAG_ID's next scheduled runs (the data interval starts), one a line."""
    found = inspect_dag(dag_id)
    if found.row is not None and found.row["is_paused"]:
        click.echo("[INFO] Please be reminded this DAG is PAUSED now.", err=True)
    timetable = found.stored.timetable
    info = timetable.next_run(found.last, found.stored.restriction, utcnow())
    unrestricted = Restriction(None, None, True)
    for n in range(max(num_executions, 1)):
        if n:
            info = timetable.next_run(info, unrestricted, utcnow()) if info is not None else None
        if info is None:
            click.echo(
                "[WARN] No following schedule can be found. "
                "This DAG may have schedule interval '@once' or `None`.",
                err=True,
            )
            click.echo("None")
            return
        click.echo(info.data_interval.start.isoformat())


# -- show ---------------------------------------------------------------------------------------------

IMAGE_FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif")


def dag_dot(found: Inspected) -> str:
    """The DAG as a Graphviz DOT graph: tasks as rounded boxes in their colours, groups as clusters."""
    serialized, spec = found.serialized, found.stored.spec
    dag_id, tasks = spec.dag_id, serialized["tasks"]
    lines = [
        f"digraph {_quote(dag_id)} {{",
        f"\tgraph [label={_quote(dag_id)} labelloc=t rankdir=LR]",
    ]
    lines.extend(_group_lines(serialized.get("task_group") or {}, tasks, depth=1))
    for task_id in spec.order:
        for upstream in spec.tasks[task_id].upstream:
            lines.append(f"\t{_quote(upstream)} -> {_quote(task_id)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _group_lines(group: dict[str, Any], tasks: dict[str, Any], depth: int) -> list[str]:
    pad = "\t" * depth
    lines = []
    for child in group.get("children", []):
        if "task_id" in child:
            task_id = child["task_id"]
            colour = (tasks.get(task_id) or {}).get("ui_color") or "#ffffff"
            label = (tasks.get(task_id) or {}).get("label") or task_id
            lines.append(
                f'{pad}{_quote(task_id)} [color="#000000" fillcolor={_quote(colour)} '
                f'label={_quote(label)} shape=rectangle style="filled,rounded"]'
            )
            continue
        lines.append(f"{pad}subgraph {_quote('cluster_' + str(child['group_id']))} {{")
        lines.append(f"{pad}\tlabel={_quote(child.get('label') or child['group_id'])}")
        lines.extend(_group_lines(child, tasks, depth + 1))
        lines.append(f"{pad}}}")
    return lines


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


@click.command("show")
@click.argument("dag_id")
@click.option(
    "--save", "-s", "save", type=click.Path(path_type=Path), help="Save to FILE (.dot, .svg, .png...)."
)
def dags_show(dag_id: str, save: Path | None) -> None:
    """Print DAG_ID's graph in Graphviz DOT; with --save, write it to a file (images need graphviz)."""
    dot = dag_dot(inspect_dag(dag_id))
    if save is None:
        click.echo(dot, nl=False)
        return
    kind = save.suffix.lower().lstrip(".")
    if kind in ("dot", "gv", ""):
        save.write_text(dot, encoding="utf-8")
    elif kind in IMAGE_FORMATS:
        _render_image(dot, save, kind)
    else:
        fail(f"--save {save}: unknown file type {save.suffix!r}; use .dot, .svg, .png, .pdf or .jpg")
    click.echo(f"File {save} saved")


def _render_image(dot: str, path: Path, kind: str) -> None:
    program = shutil.which("dot")
    if program is None:
        fail(
            f"--save {path}: writing .{kind} needs graphviz's `dot` program, which is not installed; "
            "install graphviz (e.g. apt install graphviz) or save as .dot"
        )
    done = subprocess.run(
        [program, f"-T{kind}", "-o", str(path)], input=dot.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        fail(f"--save {path}: graphviz failed: {done.stderr.decode(errors='replace').strip()}")


# -- details ------------------------------------------------------------------------------------------


def dag_details(found: Inspected) -> dict[str, Any]:
    """DAG_ID's properties, named as Airflow's ``dags details`` names them."""
    info = found.serialized["dag"]
    row = found.row or {}
    return {
        "dag_id": info["dag_id"],
        "dag_display_name": info.get("dag_display_name", info["dag_id"]),
        "is_paused": row.get("is_paused"),
        "is_active": row.get("is_active", True),
        "fileloc": info["fileloc"],
        "description": info.get("description"),
        "timetable_summary": info["timetable"].get("summary"),
        "timetable_description": info["timetable"].get("description"),
        "timetable_class": info["timetable"].get("type"),
        "timezone": info.get("timezone"),
        "tags": info.get("tags", []),
        "owners": info.get("owners", []),
        "start_date": info.get("start_date"),
        "end_date": info.get("end_date"),
        "catchup": info.get("catchup"),
        "max_active_tasks": info.get("max_active_tasks"),
        "max_active_runs": info.get("max_active_runs"),
        "dagrun_timeout": info.get("dagrun_timeout"),
        "params": info.get("params"),
        "task_ids": list(found.stored.spec.order),
        "next_dagrun_logical_date": row.get("next_dagrun"),
        "next_dagrun_run_after": row.get("next_dagrun_create_after"),
        "last_parsed_time": row.get("last_parsed_at"),
    }


@click.command("details")
@click.argument("dag_id")
@output_option
def dags_details(dag_id: str, output: str) -> None:
    """Print DAG_ID's properties: schedule, dates, limits, owners, tags, next run..."""
    details = dag_details(inspect_dag(dag_id))
    if output in ("table", "plain"):
        emit([{"property_name": k, "property_value": v} for k, v in details.items()], output)
    else:
        emit([details], output)


# -- list-runs ----------------------------------------------------------------------------------------

RUN_COLUMNS = ("dag_id", "run_id", "state", "run_after", "logical_date", "start_date", "end_date")


@click.command("list-runs")
@click.argument("dag_id", required=False)
@click.option("--dag-id", "-d", "dag_id_option", help="The DAG (Airflow 2's form; same as DAG_ID).")
@click.option("--state", help="Only runs in this state.")
@click.option(
    "--start-date", "-s", "start_text", help="Only runs with a logical date from this one (ISO 8601)."
)
@click.option("--end-date", "-e", "end_text", help="Only runs with a logical date up to this one (ISO 8601).")
@click.option("--no-backfill", is_flag=True, help="Leave out backfill runs.")
@output_option
def dags_list_runs(
    dag_id: str | None,
    dag_id_option: str | None,
    state: str | None,
    start_text: str | None,
    end_text: str | None,
    no_backfill: bool,
    output: str,
) -> None:
    """List DAG_ID's runs, newest first."""
    from dagflow.store.inspection import dag_runs

    dag_id = dag_id or dag_id_option
    if not dag_id:
        fail("give the DAG: dagflow dags list-runs DAG_ID (or -d DAG_ID)")
    start = aware(parse_datetime(start_text, "--start-date"))
    end = aware(parse_datetime(end_text, "--end-date"))
    with parsed_store(load_settings()) as session:
        if session is None:
            fail(f"the metadata store has no runs of {dag_id!r}: it has not been set up yet")
        rows = [
            {c: _iso_or_empty(getattr(run, c)) for c in RUN_COLUMNS}
            for run in dag_runs(session, dag_id, state=state, start=start, end=end, no_backfill=no_backfill)
        ]
    emit(rows, output, RUN_COLUMNS)


def _iso_or_empty(value: Any) -> Any:
    """A run's field as Airflow's ``list-runs`` prints it: times in ISO 8601, a missing one empty."""
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else value

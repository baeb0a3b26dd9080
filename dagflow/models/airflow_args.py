"""DAG and task arguments of Airflow that dagflow takes without acting on them, and those Airflow 3
removed, so that an Airflow DAG file gets Airflow 3's answer: a warning, or a one-line error
saying what to write instead.

Airflow 3 keeps accepting ``sla`` (on tasks) and ``sla_miss_callback`` (on DAGs) and ignores them
with a warning, as SLAs were removed; dagflow does the same. ``access_control`` (per-DAG
permissions of Airflow's FAB auth manager) and ``disable_bundle_versioning`` are accepted with a
warning too: dagflow's roles apply to every DAG, and it always runs the DAG file as it is now.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from dagflow.exceptions import DagDefinitionError

#: Airflow 2 DAG arguments Airflow 3 removed, with what to write instead.
REMOVED_DAG_ARGUMENTS = {
    "schedule_interval": "use schedule= (a cron string, timedelta, preset or timetable)",
    "timetable": "pass the timetable as schedule=",
    "concurrency": "use max_active_tasks=",
    "default_view": "remove it (the web UI chooses its view)",
    "orientation": "remove it (the web UI lays the graph out itself)",
}

IGNORED_DAG_ARGUMENTS = {
    "sla_miss_callback": (
        "Airflow 3 removed SLAs and dagflow has none; use on_failure_callback or dagrun_timeout"
    ),
    "access_control": "dagflow's roles apply to every DAG",
    "disable_bundle_versioning": "dagflow always runs the DAG file as it is now",
}


def _caller_file_and_line() -> tuple[str, int]:
    """The DAG file's frame: the first outside dagflow's own modules."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("dagflow."):
        frame = frame.f_back
    return frame.f_code.co_filename, frame.f_lineno


def warn_in_dag_file(message: str) -> None:
    """A UserWarning at the line of the DAG file that called into dagflow."""
    filename, line = _caller_file_and_line()
    warnings.warn_explicit(message, UserWarning, filename, line)


def warn_ignored(where: str, name: str, why: str) -> None:
    """A UserWarning at the DAG file's line: ``name`` is accepted and has no effect."""
    warn_in_dag_file(f"{where}: {name} is ignored: {why}")


def check_dag_arguments(where: str, arguments: dict[str, Any]) -> None:
    """Warn about the ignored DAG arguments given; refuse removed and unknown ones in one line."""
    for name in sorted(arguments):
        if name in IGNORED_DAG_ARGUMENTS:
            if arguments[name] not in (None, False, {}):
                warn_ignored(where, name, IGNORED_DAG_ARGUMENTS[name])
        elif name in REMOVED_DAG_ARGUMENTS:
            raise DagDefinitionError(
                f"{where}: {name} was removed in Airflow 3; {REMOVED_DAG_ARGUMENTS[name]}"
            )
        else:
            raise DagDefinitionError(
                f"{where}: unknown argument {name!r}; check the spelling against the DAG documentation"
            )

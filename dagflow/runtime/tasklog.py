"""Where one try's output goes: everything the task prints and logs, and dagflow's own lines."""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from dagflow.secrets.masker import redact

TASK_LOGGER = "dagflow.task"


class TaskLog:
    """A text sink for one try: a log file in production, the terminal in ``dags test``."""

    def __init__(self, stream: TextIO, *, close_stream: bool = False):
        self.stream = stream
        self._close_stream = close_stream

    # file-like, so print() inside a task lands here; secrets fetched in this process are masked
    def write(self, text: str) -> int:
        self.stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def line(self, level: str, message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        self.stream.write(f"[{stamp}] {{{level}}} {redact(message)}\n")

    def info(self, message: str) -> None:
        self.line("INFO", message)

    def warning(self, message: str) -> None:
        self.line("WARNING", message)

    def error(self, message: str, exc: BaseException | None = None) -> None:
        self.line("ERROR", message)
        if exc is not None:
            self.stream.write(redact("".join(traceback.format_exception(exc))))

    def close(self) -> None:
        self.flush()
        if self._close_stream:
            self.stream.close()


class _SinkHandler(logging.Handler):
    def __init__(self, log: TaskLog):
        super().__init__(logging.INFO)
        self.log = log
        self.setFormatter(logging.Formatter("%(name)s - %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.log.line(record.levelname, self.format(record))
        except Exception:  # a logging failure must never fail the task
            self.handleError(record)


class _TasksOwnRecords(logging.Filter):
    """Records of the task's own or its libraries' loggers (``logging.getLogger(__name__)`` in a DAG
    file) logged on the thread running the try: not dagflow's machinery, nor other threads of the
    process (a worker's heartbeat, a Celery consumer), whose records are no part of the try."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        dagflows = record.name == "dagflow" or record.name.startswith("dagflow.")
        return record.thread == self.thread and not dagflows


@contextmanager
def capture(log: TaskLog) -> Iterator[None]:
    """Send the task's ``print`` output and its ``logging`` records to ``log`` while it runs.

    Records of the operators' loggers (``dagflow.task.*``) and, as in Airflow, of any other logger
    the task's code uses, at ``INFO`` and above (the root logger is lowered to ``INFO`` for the try
    if it was set higher, as Airflow's task runner configures it).
    """
    logger, root = logging.getLogger(TASK_LOGGER), logging.getLogger()
    handler, others = _SinkHandler(log), _SinkHandler(log)
    others.addFilter(_TasksOwnRecords())
    logger.addHandler(handler)
    root.addHandler(others)
    previous_level, previous_propagate, root_level = logger.level, logger.propagate, root.level
    # (setLevel empties the level cache of every logger in the process: only when it changes)
    if previous_level != logging.INFO:
        logger.setLevel(logging.INFO)
    if root_level > logging.INFO:
        root.setLevel(logging.INFO)
    logger.propagate = False
    try:
        with redirect_stdout(log), redirect_stderr(log):  # type: ignore[type-var,unused-ignore]
            yield
    finally:
        logger.removeHandler(handler)
        root.removeHandler(others)
        if previous_level != logging.INFO:
            logger.setLevel(previous_level)
        if root_level > logging.INFO:
            root.setLevel(root_level)
        logger.propagate = previous_propagate
        log.flush()


def attempt_log_path(
    base: str | os.PathLike[str], dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> Path:
    """``<base>/<dag_id>/<run_id>/<task_id>/attempt=<n>.log`` (``.../map_index=<i>/...`` for a map index)."""
    folder = Path(base) / dag_id / run_id / task_id
    if map_index >= 0:
        folder = folder / f"map_index={map_index}"
    return folder / f"attempt={try_number}.log"

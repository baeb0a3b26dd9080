"""Local child processes (the executor's workers, the scheduler's DAG processor), forked from a
process that has imported dagflow already.

A process started with multiprocessing's ``spawn`` imports dagflow afresh: about a second of CPU for
every worker the pool starts, grows by or replaces, and for every DAG processor. A ``fork`` of the
scheduler itself would copy its threads' held locks and its open connections into the child. The
forkserver (multiprocessing's) is one single-threaded process, started the first time a child is
needed, which imports :data:`PRELOAD` once and forks every child from itself: a child starts in
milliseconds and holds nothing of its parent's threads or connections.

What a child of ``spawn`` took from its parent and a child of the forkserver does not, :func:`process`
passes with it: the environment as it is when the child starts (the forkserver's own is the one it
was started with). The working directory and ``sys.path`` travel as they do for ``spawn``. A child
learns that its parent has ended from :func:`parent_alive` (a pipe only the parent can write to
reaches its end), not from its parent's process id: its parent is the forkserver, which lives on
while a child it forked does.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable
from typing import Any

#: What the forkserver imports before it forks anything: the parent's main script (run as
#: ``__mp_main__``, as ``spawn`` runs it in every child), what a worker and a DAG processor run, and
#: the store's drivers (a module that cannot be imported is skipped).
PRELOAD = [
    "__main__",
    "dagflow.executors.local",
    "dagflow.scheduler.processor",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg",
]

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(PRELOAD)

#: In a parent: the two ends of its lifeline (made with its first child); the writing end never
#: leaves this process, so the reading end reaches its end when the process does.
_lifeline: tuple[Any, Any] | None = None
_lifeline_lock = threading.Lock()
#: In a child: its parent's lifeline.
_parent_lifeline: Any = None


def process(target: Callable[..., None], args: tuple[Any, ...], *, name: str, daemon: bool) -> Any:
    """A process (not started yet) that runs ``target(*args)`` in this process's environment."""
    global _lifeline
    with _lifeline_lock:
        if _lifeline is None:
            _lifeline = CONTEXT.Pipe(duplex=False)
        reader = _lifeline[0]
    return CONTEXT.Process(
        target=_child_main, args=(dict(os.environ), reader, target, args), name=name, daemon=daemon
    )


def _child_main(
    environ: dict[str, str], lifeline: Any, target: Callable[..., None], args: tuple[Any, ...]
) -> None:
    global _parent_lifeline
    os.environ.clear()
    os.environ.update(environ)
    _parent_lifeline = lifeline
    target(*args)


def parent_alive(wait: float = 0.0) -> bool:
    """Whether the process that started this one (with :func:`process`) is still running; with
    ``wait``, after that many seconds or as soon as it ends."""
    if _parent_lifeline is None:
        if wait:
            time.sleep(wait)
        return True
    try:
        return not _parent_lifeline.poll(wait)
    except (OSError, EOFError):
        return False

"""A page's form that changes the store: one write, then a message and the way back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect

from dagflow.exceptions import DagflowError
from dagflow.store import Session
from webui.db import write_session


def write_then_flash(write: Callable[[Session], object], *, done: str, back: str, failed: str = "") -> Any:
    """Run ``write`` in one write transaction; flash ``done``, or the error after ``failed`` (nothing
    written), and send the browser ``back``."""
    try:
        with write_session() as session:
            write(session)
    except DagflowError as exc:
        flash(f"{failed}{exc}", "error")
    else:
        flash(done, "success")
    return redirect(back)

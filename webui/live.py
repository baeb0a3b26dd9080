"""Answers to "has it changed?" that cost one small read, not a render.

Pages poll themselves (``dagflow-ui.js`` asks for the page again with ``If-None-Match``) and the graph
polls the API (the browser revalidates its cached answers with the same header). A view marked with
:func:`changes_with` names the store's change mark of what it shows (``dagflow.store.change_marks``);
before the view runs, the mark is read and turned into the ETag, and an unchanged answer is a 304
without rendering anything. The tag also covers the address, the user and their role (buttons
differ by role); an HTML page's tag changes at least once a minute too, since pages say how long
ago things happened. Views without a mark are tagged by a hash of the HTML they rendered.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import current_app, g, request
from werkzeug.wrappers import Response

from dagflow.core.keys import RunKey
from dagflow.store import change_marks
from dagflow.store.change_marks import Mark
from webui.auth import current_user
from webui.db import read_session

F = TypeVar("F", bound=Callable[..., Any])
#: Reads a view's mark from its URL's arguments; None when what it shows does not exist (the view
#: then answers its 404 as usual).
MarkReader = Callable[[Mapping[str, Any]], Mark | None]
#: How often an unchanged HTML page is rendered anyway, for its "3 minutes ago"s.
HTML_FRESHNESS_SECONDS = 60


def changes_with(reader: MarkReader) -> Callable[[F], F]:
    """The view's answer changes only when ``reader``'s mark does (use it below ``@route``)."""

    def mark_view(view: F) -> F:
        view.dagflow_change_mark = reader  # type: ignore[attr-defined]
        return view

    return mark_view


def of_run(args: Mapping[str, Any]) -> Mark | None:
    return change_marks.run_mark(read_session(), run=RunKey(args["dag_id"], args["run_id"]))


def of_dag(args: Mapping[str, Any]) -> Mark | None:
    return change_marks.dag_mark(read_session(), dag_id=args["dag_id"])


def of_store(_args: Mapping[str, Any]) -> Mark | None:
    return change_marks.store_mark(read_session())


def _tag(mark: Mark, html: bool) -> str:
    who = (current_user.get_id(), getattr(current_user, "role", None)) if current_user else None
    seen = (mark, request.full_path, who, int(time.time() // HTML_FRESHNESS_SECONDS) if html else None)
    return hashlib.blake2b(repr(seen).encode(), digest_size=16).hexdigest()


def answer_if_unchanged() -> Response | None:
    """Before a marked view: read its mark; when the client has the same tag, a 304 at once."""
    if request.method not in ("GET", "HEAD"):
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    reader: MarkReader | None = getattr(view, "dagflow_change_mark", None)
    if reader is None:
        return None
    mark = reader(request.view_args or {})
    if mark is None:
        return None
    g.dagflow_etag = tag = _tag(mark, html=request.blueprint != "api")
    if not request.if_none_match.contains(tag):
        return None
    response = current_app.response_class(status=304)
    return _revalidated(response, tag)


def _revalidated(response: Response, tag: str) -> Response:
    response.set_etag(tag)
    # cached, but asked again each time: the browser's own revalidation is what polls the API
    response.headers["Cache-Control"] = "no-cache"
    return response


def tag_marked(response: Response) -> Response:
    """After a marked view: its answer carries the tag read before it ran."""
    tag = g.pop("dagflow_etag", None)
    if tag is None or response.status_code != 200:
        return response
    return _revalidated(response, tag).make_conditional(request)

"""The JSON API under ``/api/v1``: what the pages show, and the actions, for scripts and the page JS."""

from __future__ import annotations

from flask import Blueprint, request

from webui import live
from webui.api.common import check_storable

api = Blueprint("api", __name__)


@api.before_request
def _refuse_unstorable_input() -> None:
    """Ids and query values the store could not even compare (NUL, lone surrogates) are a 400."""
    for name, value in (request.view_args or {}).items():
        check_storable(value, name)
    for name, value in request.args.items(multi=True):
        check_storable(value, name)


api.before_request(live.answer_if_unchanged)
api.after_request(live.tag_marked)

from webui.api import connections, dags, meta, pools, runs, task_instances, variables  # noqa: E402,F401 - importing registers the routes

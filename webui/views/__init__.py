"""The pages: one blueprint, one module per concept."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask

from dagflow.core.states import RunState
from webui.grid import SEVERITY

bp = Blueprint("views", __name__)


def json_text(value: Any) -> str:
    """A value as readable JSON text, for the page to show (and escape) like any other text.

    Jinja's ``tojson`` is meant for values inside ``<script>``: it writes ``<`` as ``\\u003c``,
    which a person reading a conf or a param default should not have to decode.
    """
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def register_views(app: Flask) -> None:
    from webui.markdown import render_markdown
    from webui.timefmt import duration_words, when, when_text
    from webui.views import (  # noqa: F401 - importing registers routes
        actions,
        admin,
        charts,
        compensation,
        dag,
        dags,
        live,
        run,
        secrets,
        trigger,
    )

    app.add_template_filter(json_text)
    app.add_template_filter(when)
    app.add_template_filter(when_text)
    app.add_template_filter(duration_words)
    app.add_template_filter(render_markdown, name="markdown")
    # the states the templates list (filters, buttons, the graph's colouring), from the one definition
    app.jinja_env.globals.update(
        run_states=[s.value for s in RunState],
        markable_states=actions.MARKABLE,
        state_severity=list(SEVERITY),
    )
    app.register_blueprint(bp)

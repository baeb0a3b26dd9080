"""The pages: one blueprint, one module per concept."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("views", __name__)


def register_views(app: Flask) -> None:
    from webui.views import admin, dag, dags, run  # noqa: F401 - importing registers the routes on bp

    app.register_blueprint(bp)

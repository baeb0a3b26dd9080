"""The JSON API under ``/api/v1``: what the pages show, and the actions, for scripts and the page JS."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("api", __name__)

from webui.api import dags, meta, runs  # noqa: E402,F401 - importing registers the routes on api

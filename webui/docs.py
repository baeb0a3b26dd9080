"""``/api/docs``: Swagger UI over the OpenAPI document, served from the package (no CDN); and the
site's icon at ``/favicon.ico``, which browsers ask for on every page (a 404 there is a console error).

Swagger UI is vendored under ``webui/static/swagger-ui/`` (see its README: version and licence). The
page needs no login, like the document it shows; "Try it out" acts as the logged-in user, sending the
page's CSRF token with each request, or with a bearer token entered under "Authorize".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

bp = Blueprint("docs", __name__)


@bp.get("/api/docs")
def api_docs() -> Any:
    return render_template("api_docs.html")


@bp.get("/favicon.ico")
def favicon() -> Any:
    return current_app.send_static_file("favicon.svg")

"""Who is asking: session login for people, bearer tokens for scripts; roles; CSRF on state changes.

Every page and API route needs a logged-in user, except the login page, static files and the health
check. A viewer may read; an op may also trigger, clear, mark and pause; an admin may also manage
users and pools. State-changing requests made with the session cookie must carry the CSRF token
(forms have it; the page scripts send it as ``X-CSRFToken``); requests with a bearer token need not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from dagflow.core.clock import utcnow
from dagflow.store.models import UserRow
from dagflow.store.reads import get_user
from dagflow.store.users import ROLE_RANK, check_password, find_user, user_for_token
from webui.db import read_session, write_session
from webui.errors import error_response

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])
PUBLIC_ENDPOINTS = {
    "auth.login",
    "static",
    "api.health",
    "api.openapi",
    "docs.api_docs",
    "docs.favicon",
    "metrics.metrics",
}


class CurrentUser(UserMixin):
    """The logged-in user, as the app sees it."""

    def __init__(self, row: UserRow, *, via_token: bool = False):
        self.id = str(row.id)
        self.username = row.username
        self.role = row.role
        self.via_token = via_token

    def can(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


@login_manager.user_loader
def _load_user(user_id: str) -> CurrentUser | None:
    if not user_id.isdigit():
        return None
    row = get_user(read_session(), user_id=int(user_id))
    return CurrentUser(row) if row is not None and row.active else None


@login_manager.request_loader
def _load_from_token(req: Any) -> CurrentUser | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    with write_session() as session:
        row = user_for_token(session, header[len("Bearer ") :].strip(), now=utcnow())
        return CurrentUser(row, via_token=True) if row is not None else None


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if request.path.startswith("/api/"):
        return error_response(401, "Unauthorized", "log in, or send 'Authorization: Bearer <token>'")
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def _require_login() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method not in ("GET", "HEAD", "OPTIONS") and not getattr(current_user, "via_token", False):
        check_csrf()
    return None


def check_csrf() -> None:
    """Refuse (400) a state change sent with the session cookie but without the page's CSRF token."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    login_manager.init_app(app)
    csrf.init_app(app)
    app.before_request(_require_login)

    @app.context_processor
    def inject_user() -> dict[str, Any]:
        return {"current_user": current_user}


def requires(role: str) -> Callable[[F], F]:
    """Only users with ``role`` or a higher one may call the view."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                abort(403, description=f"this needs the {role} role; you are {current_user.role}")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None) -> str:
    """Only a path on this site: never redirect to another host after login."""
    if not target:
        return url_for("views.dags")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("views.dags")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        with write_session() as session:
            row = find_user(session, username)
            if row is not None and row.active and check_password(row, password):
                row.last_login = utcnow()
                login_user(CurrentUser(row))
                return redirect(safe_next(request.args.get("next")))
        flash("Wrong user name or password.", "error")
        return render_template("login.html", username=username), 401
    return render_template("login.html", username="")


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    logout_user()
    g.pop("_login_user", None)
    return redirect(url_for("auth.login"))

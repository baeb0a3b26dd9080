"""The web UI and JSON API: a Flask app that reads the metadata store (it never imports DAG files)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from dagflow.config import Settings
from dagflow.store.engine import Database


def _secret_key(settings: Settings) -> str:
    """The configured secret key, or one generated once and kept in ``DAGFLOW_HOME`` (mode 0600)."""
    configured = settings.get("webserver", "secret_key")
    if configured:
        return str(configured)
    path = Path(settings.home) / "webserver_secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, **overrides: Any
) -> Flask:
    """The web UI and the ``/api/v1`` JSON API on ``database`` (default: the configured store)."""
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=1024 * 1024,
        DAGFLOW_SETTINGS=settings,
        DAGFLOW_DATABASE=database or Database(settings.database_url),
    )
    from webui import auth, cookies, docs, errors, metrics

    cookies.init_app(app, settings)
    app.config.update(overrides)
    if "SESSION_COOKIE_SECURE" in overrides:  # a fixed flag given to the factory wins over the setting
        app.config[cookies.MODE] = bool(overrides["SESSION_COOKIE_SECURE"])

    from webui.api import api
    from webui.views import register_views

    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(docs.bp)
    metrics.init_app(app)
    app.register_blueprint(api, url_prefix="/api/v1")
    register_views(app)
    return app

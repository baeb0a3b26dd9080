"""Fixtures for the web UI and API: an app on a fresh store, users of each role, logged-in clients.

``app`` runs on the test's store (``database_url``: SQLite, and PostgreSQL when configured) with CSRF
protection ON, as in production; ``login(client, role)`` logs a test client in through the real
login form, and ``csrf(client)`` fetches the token a page would carry. ``seeded`` puts a DAG and a
run in that store (see :mod:`tests.webui.seeding`).

Passwords are hashed with werkzeug's PBKDF2 at 1,000 iterations here (production uses scrypt): still a
real salted hash that ``check_password`` verifies, but cheap enough to create users for every test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from dagflow.config import Settings
from dagflow.core.clock import utcnow
from dagflow.store import users
from dagflow.store.engine import Database
from dagflow.store.users import create_token, create_user, find_user
from tests.conftest import DagsFolder
from tests.webui.seeding import Seeded, seed
from webui import create_app

PASSWORD = "correct horse battery"
ROLES = ("admin", "op", "viewer")
FAST_HASH = "pbkdf2:sha256:1000"


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "hash_password", lambda password: generate_password_hash(password, FAST_HASH))


@pytest.fixture
def app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", "False")
    database = Database(database_url)
    with database.session(write=True) as session:
        for role in ROLES:
            create_user(session, role, PASSWORD, role, now=utcnow())
    flask_app = create_app(Settings.load(), database=database, TESTING=True)
    yield flask_app
    database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token the page at ``path`` carries."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    form = {"username": username, "password": password, "csrf_token": csrf(client)}
    return client.post("/login", data=form)


@pytest.fixture
def logged_in(app: Flask) -> Callable[[str], FlaskClient]:
    """``logged_in("op")``: a client logged in as the user of that role."""

    def make(role: str) -> FlaskClient:
        client = app.test_client()
        response = login(client, role)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def token(app: Flask) -> Callable[[str], str]:
    """``token("viewer")``: an API bearer token of the user of that role."""

    def make(role: str) -> str:
        database: Database = app.config["DAGFLOW_DATABASE"]
        with database.session(write=True) as session:
            user = find_user(session, role)
            assert user is not None
            return create_token(session, user, "test", now=utcnow())

    return make


@pytest.fixture
def seeded(app: Flask, dags_folder: DagsFolder) -> Seeded:
    """The app's store with the DAG ``shop`` and one run of it (see :mod:`tests.webui.seeding`)."""
    return seed(app.config["DAGFLOW_DATABASE"], dags_folder.path, app.config["DAGFLOW_SETTINGS"])

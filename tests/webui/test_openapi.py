"""The OpenAPI document matches the routes exactly and is a valid OpenAPI 3 document."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from dagflow.config import Settings
from dagflow.store.engine import Database
from webui import create_app

PREFIX = "/api/v1"


@pytest.fixture
def bare_app(tmp_path):
    """The app, on a store it never opens: routes and the document need no database."""
    database = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    yield create_app(Settings.load(), database=database, TESTING=True)
    database.dispose()


@pytest.fixture
def document(bare_app):
    response = bare_app.test_client().get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def routes(app) -> dict[str, set[str]]:
    """``{path as in the document: methods}`` of every /api/v1 route."""
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(f"{PREFIX}/"):
            path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule[len(PREFIX) :])
            found.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_every_api_route_is_documented_with_its_methods_and_nothing_else_is(bare_app, document):
    documented = {path: set(operations) for path, operations in document["paths"].items()}
    assert routes(bare_app) == documented


def test_the_document_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    validate(document)


def test_each_operation_documents_the_path_parameters_of_its_route(document):
    for path, operations in document["paths"].items():
        in_path = set(re.findall(r"{(\w+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == in_path, (method, path)


def test_operations_document_401_unless_public_403_if_they_act_and_404_if_they_name_something(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            public = operation.get("security") == []
            assert public == (path in ("/health", "/openapi.json"))
            assert ("401" in statuses) != public, (method, path)
            if method != "get":
                assert {"400", "403"} <= statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)


def test_operation_ids_are_unique(document):
    ids = [op["operationId"] for operations in document["paths"].values() for op in operations.values()]
    assert len(ids) == len(set(ids))

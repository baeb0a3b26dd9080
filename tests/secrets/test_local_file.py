"""The local secrets files ``dag.test(variable_file_path=..., conn_file_path=...)`` reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagflow.exceptions import DagflowError
from dagflow.secrets.local_file import LocalFileBackend


def test_env_file_gives_strings_and_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "vars.env"
    path.write_text("# comment\n\nREGION = eu\nQUERY=a=b\n")
    backend = LocalFileBackend(variables_file=path)
    assert backend.get_variable("REGION") == "eu"
    assert backend.get_variable("QUERY") == "a=b"
    assert backend.get_variable("missing") is None


def test_key_defined_twice_in_an_env_file_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "conns.env"
    path.write_text("db=postgres://a\ndb=postgres://b\n")
    with pytest.raises(DagflowError, match=r"conns.env:2: 'db' is defined twice"):
        LocalFileBackend(connections_file=path)


def test_yaml_variables_that_are_not_strings_are_kept_as_json(tmp_path: Path) -> None:
    path = tmp_path / "vars.yaml"
    path.write_text("regions: [eu, us]\nname: plain\n")
    backend = LocalFileBackend(variables_file=path)
    assert backend.get_variable("regions") == '["eu", "us"]'
    assert backend.get_variable("name") == "plain"


def test_json_connection_from_uri_or_fields(tmp_path: Path) -> None:
    path = tmp_path / "conns.json"
    path.write_text(
        '{"a": "mysql://u:p@host:3306/db", "b": {"conn_type": "http", "host": "x", "extra": {"k": 1}}}'
    )
    backend = LocalFileBackend(connections_file=path)
    a, b = backend.get_connection("a"), backend.get_connection("b")
    assert a is not None and b is not None
    assert (a.conn_type, a.host, a.port, a.schema) == ("mysql", "host", 3306, "db")
    assert (b.conn_type, b.host, b.extra_dejson) == ("http", "x", {"k": 1})


def test_connection_with_an_unknown_field_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "conns.yaml"
    path.write_text("db:\n  hostname: x\n")
    with pytest.raises(DagflowError, match=r"connection 'db' has unknown field\(s\) \['hostname'\]; use"):
        LocalFileBackend(connections_file=path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("vars.txt", "a=b", "use a .env, .json, .yaml or .yml file"),
        ("vars.json", "[1, 2]", "must hold one object of keys, got list"),
        ("vars.json", "{oops", "cannot be parsed"),
    ],
)
def test_unusable_files_fail_with_the_file_named(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DagflowError, match=message):
        LocalFileBackend(variables_file=path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DagflowError, match=r"nope\.json does not exist"):
        LocalFileBackend(variables_file=tmp_path / "nope.json")

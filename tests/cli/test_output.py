"""``--output table|json|yaml|plain``: one rule for every command that has it, as Airflow prints them."""

from __future__ import annotations

import json

import pytest
import yaml

from dagflow.cli import cli

LISTS = [["variables", "list"], ["connections", "list"]]


@pytest.fixture
def run(cli_runner, database_url):
    def invoke(*args: str) -> str:
        result = cli_runner.invoke(cli, list(args))
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result.stdout

    return invoke


@pytest.mark.parametrize("command", LISTS, ids=" ".join)
@pytest.mark.parametrize("output", ["table", "plain"])
def test_an_empty_list_says_no_data_found_in_table_and_plain(run, command, output):
    assert run(*command, "-o", output) == "No data found\n"


@pytest.mark.parametrize("command", LISTS, ids=" ".join)
def test_an_empty_list_is_an_empty_json_and_yaml_list(run, command):
    assert run(*command, "-o", "json") == "[]\n"
    assert yaml.safe_load(run(*command, "-o", "yaml")) == []


def test_a_missing_value_reads_none_in_table_and_is_empty_in_plain(run):
    run("variables", "set", "region", "eu-west")  # no description

    assert run("variables", "list").splitlines() == [
        "key     description",
        "------  -----------",
        "region  None",
    ]
    assert run("variables", "list", "-o", "plain").splitlines() == ["key     description", "region"]


def test_a_missing_value_is_null_in_json_and_yaml(run):
    run("variables", "set", "region", "eu-west")

    expected = [{"key": "region", "description": None}]
    assert json.loads(run("variables", "list", "-o", "json")) == expected
    assert yaml.safe_load(run("variables", "list", "-o", "yaml")) == expected


def test_every_format_shows_the_same_columns_in_the_same_order(run):
    run("connections", "add", "web", "--conn-type", "http", "--conn-host", "example.org")

    header = run("connections", "list", "-o", "plain").splitlines()[0].split()
    table_header = run("connections", "list").splitlines()[0].split()
    as_json = json.loads(run("connections", "list", "-o", "json"))[0]
    as_yaml = yaml.safe_load(run("connections", "list", "-o", "yaml"))[0]

    assert header == table_header == list(as_json) == list(as_yaml)
    assert header[:2] == ["conn_id", "conn_type"]
    assert (as_json["host"], as_json["port"], as_json["login"]) == ("example.org", None, None)
    assert as_json == as_yaml


def test_a_nested_value_stays_nested_in_json_and_yaml_and_is_json_text_in_table_and_plain(run):
    run("connections", "add", "api", "--conn-type", "http", "--conn-extra", '{"region": "eu", "tries": 3}')

    assert json.loads(run("connections", "get", "api", "-o", "json"))[0]["extra"] == {
        "region": "eu",
        "tries": 3,
    }
    assert yaml.safe_load(run("connections", "get", "api", "-o", "yaml"))[0]["extra"] == {
        "region": "eu",
        "tries": 3,
    }
    row = run("connections", "get", "api", "-o", "plain").splitlines()[1]
    assert row.startswith("api") and row.endswith('{"region": "eu", "tries": 3}')
    assert run("connections", "get", "api").splitlines()[2].endswith('{"region": "eu", "tries": 3}')


def test_structured_values_are_plain_json_and_yaml_types():
    from datetime import UTC, datetime
    from enum import Enum, IntEnum, StrEnum
    from pathlib import Path

    from dagflow.cli.output import structured

    class Color(StrEnum):
        RED = "red"

    class Level(IntEnum):
        HIGH = 3

    class Size(Enum):
        BIG = "big"

    value = {
        "when": datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
        "c": [Color.RED, (Level.HIGH, Size.BIG, Path("/x"))],
    }

    assert structured(value) == {"when": "2024-01-02T03:04:00+00:00", "c": ["red", [3, "big", "/x"]]}
    assert yaml.safe_load(yaml.safe_dump(structured(value))) == structured(value)
    assert type(structured(Color.RED)) is str and type(structured(Level.HIGH)) is int

"""XCom values beyond JSON round-trip in a typed envelope, as Airflow's serde does; plain JSON
reads back as it always did; anything else fails naming the task and the type."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest

from dagflow import DAG, task
from dagflow.exceptions import XComValueError
from dagflow.runtime.xcom import decode, encode, readable


@dataclasses.dataclass
class Point:
    x: int
    label: str
    when: dt.date


@dataclasses.dataclass(frozen=True)
class Shape:
    name: str
    corners: tuple[Point, ...]


VALUES: list[Any] = [
    dt.datetime(2024, 3, 31, 3, 30, tzinfo=ZoneInfo("Europe/Amsterdam")),
    dt.datetime(2024, 1, 1, 12, 0),
    pendulum.datetime(2024, 11, 3, 1, 30, tz="America/New_York"),
    dt.date(2024, 2, 29),
    dt.time(23, 59, 58),
    dt.timedelta(days=2, seconds=5),
    pendulum.duration(hours=3),
    {1, 2, 3},
    frozenset({"a", "b"}),
    (1, "two", (3.0, None)),
    Decimal("12345678901234567890.000001"),
    Path("/data/in/file.csv"),
    PurePosixPath("relative/x"),
    Shape("triangle", (Point(1, "a", dt.date(2024, 1, 1)), Point(2, "b", dt.date(2024, 1, 2)))),
    {"nested": [{"at": dt.date(2024, 5, 1), "tags": {"x"}}], "plain": [1, 2.5, "s", None, True]},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_value_round_trips_with_its_type(value: Any) -> None:
    back = decode(encode(value, where="task 't'"))
    assert back == value
    assert type(back) is type(value)


def test_tuples_inside_lists_and_dicts_become_lists_as_airflows_xcom_encoder_makes_them() -> None:
    rows = [(1, "a"), (2, "b")]
    assert decode(encode(rows, where="t")) == [[1, "a"], [2, "b"]]
    assert decode(encode({"pair": (1, 2)}, where="t")) == {"pair": [1, 2]}
    kept = decode(encode((1, (2, 3), [(4, 5)]), where="t"))
    assert kept == (1, (2, 3), [(4, 5)]) and type(kept[1]) is tuple and type(kept[2][0]) is tuple
    inside_set = decode(encode({(1, 2)}, where="t"))
    assert inside_set == {(1, 2)}


def test_named_tuple_reads_back_as_a_tuple() -> None:
    from collections import namedtuple

    pair = namedtuple("pair", "left right")
    back = decode(encode(pair(1, 2), where="t"))
    assert back == (1, 2) and type(back) is tuple


def test_datetimes_keep_their_zone_and_pendulum_stays_pendulum() -> None:
    amsterdam = decode(encode(VALUES[0], where="t"))
    assert amsterdam.tzinfo == ZoneInfo("Europe/Amsterdam") and amsterdam.utcoffset() == dt.timedelta(hours=2)
    new_york = decode(encode(VALUES[2], where="t"))
    assert isinstance(new_york, pendulum.DateTime) and new_york.timezone_name == "America/New_York"


def test_stored_form_is_a_typed_envelope_in_json() -> None:
    stored = json.loads(encode({"s": {2, 1}}, where="t"))
    assert stored == {"s": {"__classname__": "builtins.set", "__version__": 1, "__data__": [1, 2]}}


def test_plain_json_written_before_reads_back_unchanged() -> None:
    for text in ('{"a": [1, 2], "b": {"c": null}}', "[1, 2, 3]", '"text"', "3.5", '{"__classname__": "x"}'):
        assert decode(text) == json.loads(text)


def test_pandas_dataframe_round_trips() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"city": ["Oslo", "Lima"], "celsius": [3.5, 19.0], "rank": [1, 2]})
    back = decode(encode(frame, where="t"))
    pandas.testing.assert_frame_equal(back, frame)


def test_value_that_cannot_be_stored_names_the_task_and_the_type() -> None:
    with pytest.raises(XComValueError, match=r"task 'load': value\['blob'\] is of type builtins.bytes"):
        encode({"blob": b"\x00"}, where="task 'load'")
    with pytest.raises(XComValueError, match="dict keys must be str"):
        encode({1: "one"}, where="task 'load'")


def test_tasks_pass_rich_values_through_xcom() -> None:
    with DAG("rich", schedule=None) as dag:

        @task
        def produce():
            return {"when": pendulum.datetime(2024, 1, 1, tz="UTC"), "ids": {3, 1}, "pair": (1, 2)}

        @task
        def consume(value):
            return [type(value["when"]).__name__, sorted(value["ids"]), type(value["pair"]).__name__]

        consume(produce())

    assert dag.test().xcom("consume") == ["DateTime", [1, 3], "list"]


def test_dataclass_whose_class_cannot_be_imported_is_a_clear_error() -> None:
    text = json.dumps({"__classname__": "nowhere.Thing", "__version__": 1, "__data__": {}})
    with pytest.raises(XComValueError, match=r"nowhere\.Thing: the class cannot be imported"):
        decode(text)


def test_dags_test_report_shows_rich_values_as_plain_json() -> None:
    with DAG("report", schedule=None) as dag:

        @task
        def produce():
            return {"when": dt.date(2024, 1, 2), "ids": {10, 9}, "pair": (1, Decimal("2.50"))}

        produce()

    report = dag.test().report()
    assert json.loads(json.dumps(report["xcom"])) == {
        "produce": {"when": "2024-01-02", "ids": [9, 10], "pair": [1, "2.50"]}
    }


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), '"2024-01-02T03:04:05+00:00"'),
        (pendulum.datetime(2024, 6, 1, 12, tz="America/New_York"), '"2024-06-01T12:00:00-04:00"'),
        (dt.date(2024, 2, 29), '"2024-02-29"'),
        (dt.timedelta(hours=1, seconds=5), '"1:00:05"'),
        ({3, 1, 2}, "{1,2,3}"),
        (set(), "set()"),
        (frozenset({"b", "a"}), 'frozenset({"a","b"})'),
        ((1, "a"), '(1,"a")'),
        ((1,), "(1,)"),
        (Decimal("1.50"), "1.50"),
        (PurePosixPath("/tmp/x"), '"/tmp/x"'),
        (Point(1, "p", dt.date(2024, 1, 1)), 'Point(x=1,label="p",when="2024-01-01")'),
        ({"at": dt.date(2024, 1, 1), "ids": {2, 1}}, '{"at":"2024-01-01","ids":{1,2}}'),
    ],
)
def test_a_stored_value_reads_as_its_python_self_not_its_envelope(value: Any, shown: str) -> None:
    assert readable(encode(value, where="t")) == shown


def test_plain_json_is_shown_exactly_as_stored() -> None:
    for text in ('{"a":1,"b":[1,2.5,null]}', '"caf\\u00e9"', "3", "null"):
        assert readable(text) == text


def test_a_value_whose_class_the_reader_cannot_import_is_still_shown() -> None:
    stored = '{"__classname__":"my_dags.models.Order","__version__":1,"__data__":{"id":7}}'
    assert readable(stored) == "Order(id=7)"

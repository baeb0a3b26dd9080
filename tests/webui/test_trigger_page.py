"""Triggering from the page: a form built from the DAG's params, validated like the store validates."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from dagflow.store.models import DagRunRow
from tests.webui.conftest import csrf
from tests.webui.seeding import DAG_ID, RUN_ID

URL = f"/dags/{DAG_ID}/trigger"
DEFAULTS = {
    "param.who": "world",
    "param.count": "3",
    "param.ratio": "0.5",
    "param.loud": "false",
    "param.colour": '"red"',
    "param.items": "[1, 2]",
}


@pytest.fixture
def op(seeded, logged_in):
    return logged_in("op")


def submit(client, **changes: str):
    return client.post(URL, data={**DEFAULTS, **changes, "csrf_token": csrf(client, URL)})


def new_runs(seeded) -> list[DagRunRow]:
    with seeded.database.session() as session:
        return list(session.scalars(select(DagRunRow).where(DagRunRow.run_id != RUN_ID)))


def error_of(page: str, name: str) -> str:
    """The error shown right after the input named ``name``."""
    found = re.search(rf'name="{re.escape(name)}".*?class="error-text" role="alert">([^<]*)<', page, re.S)
    assert found, f"no error next to {name}"
    return unescape(found.group(1))


def test_the_form_has_one_input_per_param_with_its_default_type_and_description(op):
    page = op.get(URL).get_data(as_text=True)
    assert 'name="param.who" type="text" value="world"' in page
    assert "whom to greet &lt;script&gt;" in page
    assert 'name="param.count" type="text" inputmode="decimal" value="3"' in page
    assert re.search(
        r'<select id="p-\d" name="param.loud">\s*<option value="true" >true</option>'
        r'<option value="false" selected>false</option>',
        page,
    )
    assert (
        '<option value="&#34;red&#34;" selected>red</option><option value="&#34;green&#34;" >green</option>'
        in page
    )
    assert re.search(r'<textarea id="p-\d" name="param.items" rows="4">\[\n  1,\n  2\n\]</textarea>', page)
    assert 'name="conf"' in page and 'name="logical_date"' in page


def test_the_dags_page_and_the_dag_header_link_to_the_form_for_an_op_only(seeded, logged_in):
    op, viewer = logged_in("op"), logged_in("viewer")
    for page in ("/", f"/dags/{DAG_ID}/grid"):
        assert f'href="{URL}"' in op.get(page).get_data(as_text=True)
        assert f'href="{URL}"' not in viewer.get(page).get_data(as_text=True)


def test_submitting_the_defaults_creates_a_run_with_them_and_opens_it(seeded, op):
    response = submit(op)
    assert response.status_code == 302
    [run] = new_runs(seeded)
    assert run.conf == {
        "who": "world",
        "count": 3,
        "ratio": 0.5,
        "loud": False,
        "colour": "red",
        "items": [1, 2],
    }
    assert run.state == "queued" and run.triggered_by == "op"
    assert response.headers["Location"] == f"/dags/{DAG_ID}/runs/{run.run_id}"
    page = unescape(op.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Triggered run {run.run_id} of DAG {DAG_ID} with conf" in page
    assert '<dt>Triggered by</dt><dd id="run-triggered-by">op</dd>' in page


def test_typed_values_are_read_by_their_schema_type(seeded, op):
    submit(
        op,
        **{
            "param.count": "7",
            "param.ratio": "2",
            "param.loud": "true",
            "param.colour": '"green"',
            "param.items": '["a", {"b": null}]',
            "param.who": "",
        },
    )
    [run] = new_runs(seeded)
    assert run.conf == {
        "who": "",
        "count": 7,
        "ratio": 2,
        "loud": True,
        "colour": "green",
        "items": ["a", {"b": None}],
    }


def test_the_raw_conf_is_merged_over_the_params(seeded, op):
    submit(op, conf='{"count": 9, "extra": "x"}')
    [run] = new_runs(seeded)
    assert run.conf["count"] == 9 and run.conf["extra"] == "x" and run.conf["who"] == "world"


INVALID_VALUES = [
    ("param.count", "11", "11 is greater than the maximum of 10"),
    ("param.count", "abc", "enter a whole number"),
    ("param.count", "", "a value is required"),
    ("param.ratio", "nan", "enter a finite number"),
    ("param.items", '{"not": "a list"}', "is not of type 'array'"),
    ("param.items", "[1,", "not valid JSON"),
    ("param.colour", '"blue"', "is not one of ['red', 'green']"),
    ("param.loud", "maybe", "choose true or false"),
    ("conf", "[1]", "the conf must be a JSON object"),
    ("conf", "{oops", "not valid JSON"),
    ("logical_date", "yesterday", "use an ISO 8601 date-time"),
]


def test_an_invalid_value_is_shown_next_to_its_input_with_the_values_kept(seeded, op):
    for name, value, message in INVALID_VALUES:
        response = submit(op, **{name: value, "param.who": "kept value"})
        assert response.status_code == 400, (name, value)
        page = response.get_data(as_text=True)
        assert message in error_of(page, name), (name, value)
        assert 'name="param.who" type="text" value="kept value"' in page
    assert new_runs(seeded) == []


def test_a_raw_conf_that_breaks_a_params_schema_is_refused_by_the_store_validation(seeded, op):
    response = submit(op, conf='{"count": 100}')
    assert response.status_code == 400
    assert "100 is greater than the maximum of 10" in unescape(response.get_data(as_text=True))
    assert '{"count": 100}' in unescape(response.get_data(as_text=True))
    assert new_runs(seeded) == []


def test_a_logical_date_can_be_chosen_and_a_taken_one_is_refused(seeded, op):
    submit(op, logical_date="2024-03-01T12:00:00")
    [run] = new_runs(seeded)
    assert run.logical_date == datetime(2024, 3, 1, 12, tzinfo=UTC)
    response = submit(op, logical_date="2024-01-01T00:00:00+00:00")
    assert response.status_code == 400
    assert f"DAG {DAG_ID!r} already has a run with" in unescape(response.get_data(as_text=True))
    assert len(new_runs(seeded)) == 1


def test_a_run_id_can_be_chosen_and_a_bad_or_taken_one_is_refused_next_to_its_input(seeded, op):
    response = submit(op, run_id="a/b")
    assert response.status_code == 400
    assert "without '/'" in error_of(response.get_data(as_text=True), "run_id")
    assert 'name="run_id" type="text" value="a/b"' in response.get_data(as_text=True)
    assert new_runs(seeded) == []

    response = submit(op, run_id=" release-1.2 ")
    assert response.status_code == 302
    [run] = new_runs(seeded)
    assert run.run_id == "release-1.2"

    response = submit(op, run_id=RUN_ID, logical_date="2024-05-01T00:00:00Z")
    assert response.status_code == 400
    assert "already has a run with id" in unescape(response.get_data(as_text=True))
    assert len(new_runs(seeded)) == 1


def test_a_viewer_can_neither_see_nor_submit_the_form(seeded, logged_in):
    viewer = logged_in("viewer")
    assert viewer.get(URL).status_code == 403
    assert viewer.post(URL, data={**DEFAULTS, "csrf_token": csrf(viewer, "/")}).status_code == 403
    assert new_runs(seeded) == []

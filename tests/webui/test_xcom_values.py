"""XCom values as a person reads them on the task instance page and through the API: a value JSON
cannot hold (a datetime, a set) in its readable form, never the typed envelope it is stored in."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from tests.webui.routes import API_TI

PUSHED = {
    "at": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
    "ids": {3, 1, 2},
    "plain": {"rows": 2, "names": ["a", "b"]},
}
SHOWN = {
    "at": '"2024-05-06T07:08:09+00:00"',
    "ids": "{1,2,3}",
    "plain": '{"rows":2,"names":["a","b"]}',
}


@pytest.fixture
def pushed(seeded):
    """``extract`` of the seeded run pushed a datetime, a set and a plain dict."""
    seeded.push_xcoms("extract", PUSHED)
    return seeded


def shown_on_page(text: str) -> dict[str, str]:
    """Key and value text of each row of the page's XCom table, as the browser shows them."""
    table = re.search(r'<table class="list" id="xcoms">(.*?)</table>', text, re.S)
    assert table, text
    rows = re.findall(r"<tr><td>(.*?)</td><td><code>(.*?)</code></td></tr>", table.group(1), re.S)
    return {html.unescape(key): html.unescape(value) for key, value in rows}


def test_task_instance_page_shows_datetimes_and_sets_readably_and_plain_json_unchanged(pushed, logged_in):
    page = logged_in("viewer").get("/dags/shop/tasks/extract", query_string={"run_id": pushed.run_id})

    shown = shown_on_page(page.get_data(as_text=True))
    assert {key: shown[key] for key in SHOWN} == SHOWN
    assert not any("__classname__" in value for value in shown.values())


def test_api_xcom_entries_show_datetimes_and_sets_readably_and_plain_json_unchanged(pushed, token, client):
    headers = {"Authorization": f"Bearer {token('viewer')}"}
    for key, text in SHOWN.items():
        entry = client.get(f"{API_TI}/xcomEntries/{key}", headers=headers).get_json()
        assert entry["value"] == text
    listed = client.get(f"{API_TI}/xcomEntries", headers=headers).get_json()["xcom_entries"]
    assert {e["key"]: e["value"] for e in listed if e["key"] in SHOWN} == SHOWN

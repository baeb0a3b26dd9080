"""The pictures (Gantt, calendar, durations), timestamps and durations as people read them, doc_md as
Markdown, schedules as written, and pages that answer 304 while nothing changed."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.store.dags import set_paused
from dagflow.store.models import TaskInstanceRow
from tests.conftest import DagsFolder
from tests.webui.seeding import DAG_ID, RUN_ID, Seeded
from webui.live import HTML_FRESHNESS_SECONDS
from webui.markdown import render_markdown
from webui.timefmt import duration_words, when, when_text

RUN = quote(RUN_ID, safe="")
Login = Callable[[str], FlaskClient]


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status
    return response.get_data(as_text=True)


def test_the_gantt_draws_a_queued_and_a_running_bar_per_try_and_no_row_for_tasks_never_tried(
    seeded: Seeded, logged_in: Login
):
    html = page(logged_in("viewer"), f"/dags/{DAG_ID}/gantt?run_id={RUN}")
    rows = re.findall(r'<g class="gantt-row" data-task="([^"]+)">', html)
    assert sorted(rows) == ["extract", "process.transform"]
    bars = re.findall(r'<rect class="bar (\w*) s-(\w+)" data-state="\w+"', html)
    assert sorted(bars) == [("ran", "failed"), ("ran", "success")]
    assert "extract try 1 success: ran 0 s" in html


def test_the_gantt_of_an_unknown_run_is_404(seeded: Seeded, logged_in: Login):
    assert logged_in("viewer").get(f"/dags/{DAG_ID}/gantt?run_id=nope").status_code == 404


def test_the_calendar_has_a_cell_per_day_of_the_year_coloured_by_the_days_runs(
    seeded: Seeded, logged_in: Login
):
    html = page(logged_in("viewer"), f"/dags/{DAG_ID}/calendar?year=2024")
    cells = re.findall(r'<rect class="day s-(\w+)" data-state="\w+"[^>]*><title>([^<]+)</title>', html)
    assert len(cells) == 366  # 2024 is a leap year
    assert cells[0] == ("running", "2024-01-01: 1 running")
    assert {state for state, _ in cells[1:]} == {"none"}
    assert "1 run in 2024" in html


def test_the_durations_page_draws_a_bar_per_run_and_each_tasks_durations_in_words(
    app: Flask, seeded: Seeded, logged_in: Login
):
    with seeded.database.session(write=True) as session:
        ti = session.get(TaskInstanceRow, (DAG_ID, RUN_ID, "extract", -1))
        assert ti is not None
        ti.duration = 125.0
    html = page(logged_in("viewer"), f"/dags/{DAG_ID}/durations")
    assert len(re.findall(r'<rect class="bar s-running"', html)) == 1
    row = re.search(r'<tr data-task-id="extract">.*?</tr>', html, re.S)
    assert row is not None and "2 min 5 s" in row.group(0)
    assert 'data-task-id="load"' not in html  # no duration: no row


def test_durations_are_written_in_words():
    assert [duration_words(s) for s in (None, 0.04, 0.25, 3.25, 125, 3725, 3 * 86400 + 4 * 3600)] == [
        "",
        "40 ms",
        "0.25 s",
        "3.2 s",
        "2 min 5 s",
        "1 h 2 min",
        "3 d 4 h",
    ]


def test_a_timestamp_is_one_format_in_utc_without_microseconds():
    moment = "2024-01-02T04:04:05.123456+01:00"
    assert when_text(moment) == "2024-01-02 03:04:05 UTC"
    assert str(when(moment)) == '<time datetime="2024-01-02T03:04:05+00:00">2024-01-02 03:04:05 UTC</time>'
    assert when_text(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05 UTC"  # naive: stored as UTC


def test_run_and_task_pages_show_timestamps_without_microseconds(seeded: Seeded, logged_in: Login):
    client = logged_in("viewer")
    for path in (f"/dags/{DAG_ID}/runs/{RUN_ID}", f"/dags/{DAG_ID}/tasks/extract?run_id={RUN}"):
        html = page(client, path)
        assert '<time datetime="2024-01-01T01:00:00+00:00">2024-01-01 01:00:00 UTC</time>' in html
        assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", html), path


def test_doc_md_is_rendered_as_markdown_with_its_html_shown_as_text(seeded: Seeded, logged_in: Login):
    html = page(logged_in("viewer"), f"/dags/{DAG_ID}/details")
    doc = re.search(r'<div class="markdown" id="dag-doc">(.*?)</div>', html, re.S)
    assert doc is not None
    assert doc.group(1).strip() == "<p>Docs &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert "Orders &lt;script&gt;" in html  # the description, shown under the title


def test_markdown_renders_headings_lists_and_code_but_not_html_or_script_links():
    out = str(render_markdown("# Title\n\n* **one**\n\n`x`\n\n<b>raw</b>\n\n[go](javascript:alert(1))"))
    assert "<h1>Title</h1>" in out and "<strong>one</strong>" in out and "<code>x</code>" in out
    assert "&lt;b&gt;raw&lt;/b&gt;" in out
    assert 'href="javascript' not in out


DAILY = """
from datetime import datetime
from urllib.parse import quote
from dagflow import DAG
from dagflow.operators.empty import EmptyOperator

with DAG("nightly", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False):
    EmptyOperator(task_id="t")
"""


def test_a_schedule_is_shown_as_written(app: Flask, dags_folder: DagsFolder, logged_in: Login):
    (dags_folder.path / "nightly.py").write_text(DAILY)
    database = app.config["DAGFLOW_DATABASE"]
    DagFileProcessor(ProcessorSettings(database.url, str(dags_folder.path)), db=database).scan()
    client = logged_in("viewer")
    assert "<code>@daily</code>" in page(client, "/")
    assert '<code id="dag-schedule">@daily</code>' in page(client, "/dags/nightly/details")


def _csrf_token(response: TestResponse) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', response.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def test_an_unchanged_page_answers_304_and_a_changed_one_200(seeded: Seeded, logged_in: Login):
    client = logged_in("op")
    # an HTML page's tag changes once a minute by design (it says "3 minutes ago"): begin well inside one
    left = HTML_FRESHNESS_SECONDS - time.time() % HTML_FRESHNESS_SECONDS
    if left < 5:
        time.sleep(left + 0.1)
    first = client.get("/")
    tag = first.headers["ETag"]
    time.sleep(1.1)  # the CSRF token is signed with the time in seconds: the next page's token differs
    again = client.get("/")
    assert _csrf_token(again) != _csrf_token(first)
    assert again.headers["ETag"] == tag  # ...and is not part of the tag
    unchanged = client.get("/", headers={"If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    with seeded.database.session(write=True) as session:
        set_paused(session, DAG_ID, False)
    changed = client.get("/", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


@pytest.mark.parametrize("path", ["/dags/{dag}/gantt", "/dags/{dag}/calendar", "/dags/{dag}/durations"])
def test_the_pictures_have_tabs_in_the_dag_header(seeded: Seeded, logged_in: Login, path: str):
    html = page(logged_in("viewer"), path.format(dag=DAG_ID))
    for name in ("Gantt", "Calendar", "Durations"):
        assert re.search(rf'<a class="[^"]*" href="/dags/{DAG_ID}/{name.lower()}">{name}</a>', html)

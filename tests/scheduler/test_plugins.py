"""Plugins in the plugins folder: a custom timetable runs in the scheduler, fills the UI's next-run
column and drives a backfill; plugin macros render in tasks; a broken plugin is an import error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from dagflow import actions
from dagflow.core.clock import utcnow
from dagflow.store.models import DagRow, ImportErrorRow
from tests.scheduler.conftest import Orchestrator

PLUGIN = """
from datetime import timedelta

from dagflow.models.links import BaseOperatorLink
from dagflow.models.priority_strategy import PriorityWeightStrategy
from dagflow.operators import BashOperator
from dagflow.plugins import AirflowPlugin
from dagflow.timetables.base import DagRunInfo, DataInterval, Timetable


class EveryNDays(Timetable):
    \"\"\"A run every n days at midnight UTC, covering the n days before it.\"\"\"

    def __init__(self, days=2):
        self.days = days

    @property
    def summary(self):
        return f"every {self.days} days"

    def infer_manual_data_interval(self, *, run_after):
        return DataInterval(run_after - timedelta(days=self.days), run_after)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        if last_automated_data_interval is not None:
            start = last_automated_data_interval.end
        else:
            start = restriction.earliest.start_of("day")
        end = start.add(days=self.days)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start=start, end=end)

    def serialize(self):
        return {"days": self.days}

    @classmethod
    def deserialize(cls, data):
        return cls(data["days"])


class ByNameLength(PriorityWeightStrategy):
    def get_weight(self, ti):
        return 100 + len(ti.task_id)


class TicketLink(BaseOperatorLink):
    name = "Ticket"
    operators = [BashOperator]

    def get_link(self, operator, *, ti_key):
        return f"https://tickets.example.com/{ti_key.dag_id}/{ti_key.task_id}"


class RunbookLink(BaseOperatorLink):
    name = "Runbook"

    def get_link(self, operator, *, ti_key):
        return "https://runbooks.example.com/" + ti_key.dag_id


def fiscal_quarter(ds):
    return f"Q{(int(ds[5:7]) - 1) // 3 + 1}"


class CompanyPlugin(AirflowPlugin):
    name = "company"
    timetables = [EveryNDays]
    macros = [fiscal_quarter]
    priority_weight_strategies = [ByNameLength]
    operator_extra_links = [TicketLink()]
    global_operator_extra_links = [RunbookLink()]
"""

DAG_FILE = """
from datetime import datetime

from company_plugin import EveryNDays

from dagflow import DAG
from dagflow.operators import BashOperator

with DAG(
    "{dag_id}",
    schedule=EveryNDays({days}),
    start_date=datetime.fromisoformat("{start}"),
    end_date={end},
    catchup=True,
):
    BashOperator(task_id="quarter", bash_command="echo {{{{ macros.company.fiscal_quarter(ds) }}}}")
"""


def midnight(days_from_today: int) -> datetime:
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days_from_today)


@pytest.fixture
def company(orchestrator: Orchestrator) -> Orchestrator:
    plugins = orchestrator.home / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "company_plugin.py").write_text(PLUGIN)
    return orchestrator


def _write(orchestrator: Orchestrator, dag_id: str, days: int, start: datetime, end: datetime | None) -> None:
    end_text = f'datetime.fromisoformat("{end.isoformat()}")' if end else "None"
    orchestrator.write(
        f"{dag_id}.py", DAG_FILE, dag_id=dag_id, days=days, start=start.isoformat(), end=end_text
    )


def test_a_custom_timetable_schedules_runs_and_plugin_macros_render(company: Orchestrator):
    start = midnight(-7)
    _write(company, "every_two", 2, start, midnight(-2))
    company.record_dags()

    company.run_until_idle()

    runs = company.runs("every_two")
    assert [r.logical_date for r in runs] == [start, start + timedelta(days=2), start + timedelta(days=4)]
    assert [(r.data_interval_start, r.data_interval_end) for r in runs] == [
        (day, day + timedelta(days=2))
        for day in (start, start + timedelta(days=2), start + timedelta(days=4))
    ]
    assert all(r.run_id.startswith("scheduled__") and r.state == "success" for r in runs)
    quarter = f"Q{(start.month - 1) // 3 + 1}"
    assert company.xcoms("every_two", runs[0].run_id)[("quarter", "return_value")] == quarter


def test_the_next_run_of_a_custom_timetable_shows_in_the_dags_page(company: Orchestrator):
    from dagflow.config import Settings
    from dagflow.store.users import create_user
    from tests.webui.conftest import PASSWORD, login
    from webui import create_app

    start = midnight(3)
    _write(company, "future", 3, start, None)
    company.record_dags()
    company.run_until_idle()
    with company.db.session() as session:
        row = session.get(DagRow, "future")
        assert row is not None and row.next_dagrun is not None
        assert row.next_dagrun.replace(tzinfo=UTC) == start
    with company.db.session(write=True) as session:
        create_user(session, "viewer", PASSWORD, "viewer", now=utcnow())
    client = create_app(Settings.load(), database=company.db, TESTING=True).test_client()
    assert login(client, "viewer").status_code == 302

    page = client.get("/").get_data(as_text=True)

    assert "every 3 days" in page
    assert start.strftime("%Y-%m-%d %H:%M:%S") in page  # the next-run column


def test_a_backfill_follows_the_custom_timetable(company: Orchestrator):
    start = midnight(-30)
    _write(company, "backfilled", 5, midnight(30), None)  # the scheduler itself creates no run before then
    company.record_dags()
    with company.db.session(write=True) as session:
        actions.backfill(session, "backfilled", start=start, end=start + timedelta(days=12), owner="test")

    company.run_until_idle()

    runs = company.runs("backfilled")
    assert [r.logical_date for r in runs] == [start, start + timedelta(days=5), start + timedelta(days=10)]
    assert {r.run_type for r in runs} == {"backfill"}
    assert {r.state for r in runs} == {"success"}


def test_a_plugin_that_fails_to_import_is_an_import_error_naming_its_file(company: Orchestrator):
    broken = company.home / "plugins" / "broken_plugin.py"
    broken.write_text("import os\n\nraise RuntimeError('no licence server')\n")
    _write(company, "every_two", 2, midnight(-3), None)
    from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings

    processor = DagFileProcessor(
        ProcessorSettings(company.database_url, str(company.dags.path)), db=company.db
    )
    processor.scan()

    with company.db.session() as session:
        errors = {e.filename: (e.line, e.message) for e in session.scalars(select(ImportErrorRow))}
    assert errors == {str(broken): (3, "plugin failed to import: RuntimeError: no licence server")}
    assert company.runs("every_two") == []  # the good plugin and its DAG still load
    with company.db.session() as session:
        assert session.get(DagRow, "every_two") is not None

    broken.write_text("# fixed\n")
    processor.scan()
    with company.db.session() as session:
        assert list(session.scalars(select(ImportErrorRow))) == []


def test_a_dag_whose_timetable_no_plugin_registers_is_an_import_error(orchestrator: Orchestrator):
    orchestrator.write(
        "inline.py",
        """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import EmptyOperator
from dagflow.timetables.base import DagRunInfo, DataInterval, Timetable


class Unregistered(Timetable):
    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        return None


with DAG("inline", schedule=Unregistered(), start_date=datetime(2024, 1, 1)):
    EmptyOperator(task_id="t")
""",
    )
    with pytest.raises(AssertionError, match="not registered by a plugin"):
        orchestrator.record_dags()


LINKED = """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import BashOperator, EmptyOperator

with DAG("linked", schedule=None, start_date=datetime(2024, 1, 1)):
    BashOperator(task_id="call", bash_command="echo hi", weight_rule="company_plugin.ByNameLength")
    EmptyOperator(task_id="nothing", weight_rule="absolute", priority_weight=3)
"""


def test_plugin_weight_strategies_and_operator_links_reach_the_store_and_the_page(company: Orchestrator):
    from dagflow.config import Settings
    from dagflow.store.users import create_user
    from tests.webui.conftest import PASSWORD, login
    from webui import create_app

    company.write("linked.py", LINKED)
    company.record_dags()
    run_id = company.trigger("linked")
    company.run_until_idle()

    instances = company.task_instances("linked", run_id)
    assert (instances["call"].priority_weight, instances["nothing"].priority_weight) == (104, 3)
    xcoms = company.xcoms("linked", run_id)
    assert xcoms[("call", "_link_Ticket")] == "https://tickets.example.com/linked/call"
    assert xcoms[("call", "_link_Runbook")] == "https://runbooks.example.com/linked"
    assert ("nothing", "_link_Ticket") not in xcoms  # a plugin link applies to its operators only
    with company.db.session(write=True) as session:
        create_user(session, "viewer", PASSWORD, "viewer", now=utcnow())
    client = create_app(Settings.load(), database=company.db, TESTING=True).test_client()
    assert login(client, "viewer").status_code == 302

    page = client.get(f"/dags/linked/tasks/call?run_id={quote(run_id, safe='')}").get_data(as_text=True)

    assert "https://tickets.example.com/linked/call" in page and ">Ticket</a>" in page


def test_dags_test_and_next_execution_use_the_custom_timetable(company: Orchestrator, cli_runner):
    from dagflow.cli import cli

    start = midnight(-7)
    _write(company, "every_two", 2, start, None)
    company.record_dags()

    tested = cli_runner.invoke(
        cli, ["dags", "test", "every_two", "--logical-date", "2024-05-10T00:00:00+00:00", "--json"]
    )
    upcoming = cli_runner.invoke(cli, ["dags", "next-execution", "every_two", "-n", "3"])

    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.stdout)["xcom"] == {"quarter": "Q2"}
    assert upcoming.stdout.splitlines() == [(start + timedelta(days=n)).isoformat() for n in (0, 2, 4)]


def test_a_broken_plugin_is_listed_with_the_import_errors_of_a_parsed_folder(
    company: Orchestrator, cli_runner
):
    from dagflow.cli import cli

    broken = company.home / "plugins" / "broken_plugin.py"
    broken.write_text("raise RuntimeError('no licence server')\n")
    _write(company, "every_two", 2, midnight(-3), None)

    listed = cli_runner.invoke(
        cli, ["dags", "list-import-errors", "--dags-folder", str(company.dags.path), "--output", "json"]
    )

    errors = json.loads(listed.stdout)
    assert [(e["filename"], e["line"], e["message"]) for e in errors] == [
        (str(broken), 1, "plugin failed to import: RuntimeError: no licence server")
    ]


def test_a_dag_whose_plugin_went_away_is_not_scheduled_and_breaks_nothing(company: Orchestrator):
    _write(company, "every_two", 2, midnight(-3), None)
    company.record_dags()
    (company.home / "plugins" / "company_plugin.py").unlink()

    company.run_until_idle()

    assert company.runs("every_two") == []
    from dagflow.store.dags import stored_dags

    with company.db.session() as session:
        stored = stored_dags(session, ["every_two"])["every_two"]
    assert not stored.timetable.can_be_scheduled
    assert stored.timetable.summary == "every 2 days (unavailable)"

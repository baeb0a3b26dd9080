"""Scheduler-driven runs (inline executor) of expanded task groups, ``.map``/``.zip``/``.concat``,
``expand_kwargs`` over an output and ``[core] max_map_length``: the expansion is decided by the
scheduler's decisions, and each run ends as ``dag.test()`` ends it."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from dagflow.core.clock import utcnow
from dagflow.dagbag import DagBag
from dagflow.store.users import create_user
from tests.scheduler.conftest import Orchestrator, deployment
from tests.webui.conftest import PASSWORD, login
from webui import create_app

WHEN = datetime(2024, 1, 1, tzinfo=UTC)

MAPPING = """
from datetime import datetime
from dagflow import DAG, task, task_group

with DAG("mapping_features", schedule=None, start_date=datetime(2024, 1, 1), default_args={"retries": 0}):
    @task
    def numbers():
        return [1, 2, 3]

    @task
    def letters():
        return ["a", "b"]

    @task
    def echo(value):
        return value

    @task
    def collect(values):
        return values

    @task_group
    def scale(x, factor):
        @task
        def times(x, factor):
            if x == 3:
                raise ValueError("three is refused")
            return x * factor

        @task
        def tag(y, ti=None):
            return [y, ti.map_index]

        return tag(times(x, factor))

    n, a = numbers(), letters()
    collect.override(task_id="after_group", trigger_rule="all_done")(scale.partial(factor=10).expand(x=n))
    echo.override(task_id="zipped").expand(value=n.zip(a, fillvalue="-"))
    echo.override(task_id="chained").expand(value=n.concat(a).map(str))
    echo.override(task_id="kwargs").expand_kwargs(a.map(lambda v: {"value": v * 2}))

    @task_group
    def literal(v):
        return echo.override(task_id="shown")(v)

    literal.expand(v=["x", "y"])

    @task(map_index_template="{{ letter_label }}")
    def labelled(letter):
        from dagflow import get_current_context
        get_current_context()["letter_label"] = f"letter {letter}"

    labelled.expand(letter=a)

with DAG("too_long", schedule=None, start_date=datetime(2024, 1, 1), default_args={"retries": 0}):
    @task
    def many():
        return list(range(5))

    @task
    def one(x):
        return x

    one.expand(x=many())

with DAG("poke_value", schedule=None, start_date=datetime(2024, 1, 1)):
    from dagflow.sensors import PokeReturnValue

    @task.sensor(poke_interval=0.1, timeout=30, mode="reschedule")
    def wait_twice(ti=None):
        first = ti.get_first_reschedule_date()
        return PokeReturnValue(is_done=first is not None, xcom_value={"waited": first is not None})

    @task
    def use(found):
        return found["waited"]

    use(wait_twice())
"""


@pytest.fixture(scope="module")
def finished(store_backend: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestrator]:
    with deployment(store_backend, tmp_path_factory.mktemp("mapping_features")) as orchestrator:
        orchestrator.setenv(CORE__MAX_MAP_LENGTH="4")
        orchestrator.write("mapping_features.py", MAPPING)
        orchestrator.record_dags()
        orchestrator.trigger("mapping_features", logical_date=WHEN)
        orchestrator.trigger("too_long", logical_date=WHEN)
        orchestrator.trigger("poke_value", logical_date=WHEN)
        orchestrator.run_until_idle(executor="inline")
        yield orchestrator


def only_run(orchestrator: Orchestrator, dag_id: str) -> str:
    (run,) = orchestrator.runs(dag_id)
    return str(run.run_id)


def test_an_expanded_group_runs_index_by_index_under_the_scheduler(finished: Orchestrator):
    run_id = only_run(finished, "mapping_features")
    states = finished.states("mapping_features", run_id)
    xcoms = finished.xcoms("mapping_features", run_id)

    assert {k: v for k, v in states.items() if k.startswith("scale.")} == {
        "scale.times[0]": "success",
        "scale.times[1]": "success",
        "scale.times[2]": "failed",
        "scale.tag[0]": "success",
        "scale.tag[1]": "success",
        "scale.tag[2]": "upstream_failed",
    }
    assert xcoms[("scale.tag[1]", "return_value")] == [20, 1]
    assert xcoms[("after_group", "return_value")] == [[10, 0], [20, 1]]


def test_zip_concat_map_expand_kwargs_and_literal_groups_expand_under_the_scheduler(finished: Orchestrator):
    run_id = only_run(finished, "mapping_features")
    xcoms = finished.xcoms("mapping_features", run_id)

    def values(task_id: str) -> list[object]:
        found = {k[0]: v for k, v in xcoms.items() if k[0].startswith(f"{task_id}[")}
        return [found[f"{task_id}[{i}]"] for i in range(len(found))]

    assert [list(pair) for pair in values("zipped")] == [[1, "a"], [2, "b"], [3, "-"]]  # type: ignore[call-overload]
    assert values("chained") == ["1", "2", "3", "a", "b"]
    assert values("kwargs") == ["aa", "bb"]
    assert values("literal.shown") == ["x", "y"]


def test_the_scheduler_ends_each_run_as_dag_test_does(finished: Orchestrator):
    bag = DagBag(finished.dags.path)
    for dag_id in ("mapping_features", "too_long"):
        expected = bag.get_dag(dag_id).test(logical_date=WHEN, log_stream=io.StringIO(), max_map_length=4)
        run_id = only_run(finished, dag_id)
        assert finished.states(dag_id, run_id) == {ti.label: ti.state.value for ti in expected.task_instances}


def test_an_output_longer_than_max_map_length_fails_its_task_under_the_scheduler(finished: Orchestrator):
    run_id = only_run(finished, "too_long")

    assert finished.states("too_long", run_id) == {"many": "failed", "one": "upstream_failed"}
    assert "max_map_length (4)" in finished.log("too_long", run_id, "many")


def test_a_rescheduled_sensor_pushes_its_poke_return_value_when_done(finished: Orchestrator):
    run_id = only_run(finished, "poke_value")

    assert finished.states("poke_value", run_id) == {"wait_twice": "success", "use": "success"}
    xcoms = finished.xcoms("poke_value", run_id)
    assert xcoms[("wait_twice", "return_value")] == {"waited": True}
    assert xcoms[("use", "return_value")] is True


def test_a_map_index_template_labels_the_mapped_instances_in_the_store_the_run_page_and_the_api(
    finished: Orchestrator, monkeypatch: pytest.MonkeyPatch
):
    run_id = only_run(finished, "mapping_features")
    rows = finished.task_instances("mapping_features", run_id)
    assert {name: rows[name].rendered_map_index for name in ("labelled[0]", "labelled[1]", "zipped[0]")} == {
        "labelled[0]": "letter a",
        "labelled[1]": "letter b",
        "zipped[0]": None,
    }

    monkeypatch.setenv("DAGFLOW__WEBSERVER__COOKIE_SECURE", "False")
    with finished.db.session(write=True) as session:
        create_user(session, "viewer", PASSWORD, "viewer", now=utcnow())
    client = create_app(finished.settings(), database=finished.db, TESTING=True).test_client()
    assert login(client, "viewer").status_code in (200, 302)
    run_path = quote(run_id, safe="")
    page = client.get(f"/dags/mapping_features/runs/{run_path}").get_data(as_text=True)
    assert "<td>letter a</td>" in page and "<td>letter b</td>" in page
    ti_page = client.get(f"/dags/mapping_features/tasks/labelled?run_id={run_path}&map_index=1").get_data(
        as_text=True
    )
    assert "labelled [letter b] in" in ti_page  # the heading
    assert re.findall(r'map_index=\d">(letter [ab])</a>', ti_page) == ["letter a", "letter b"]  # its siblings
    ti_path = f"/api/v1/dags/mapping_features/dagRuns/{run_path}/taskInstances/labelled?map_index=1"
    api = client.get(ti_path).get_json()
    assert (api["map_index"], api["rendered_map_index"]) == (1, "letter b")

"""``/metrics``: the store as Prometheus metrics, without a login; and StatsD one setting away."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from dagflow.config import Settings
from dagflow.metrics.collector import task_to_task_gaps
from dagflow.metrics.instruments import MetricsSettings, SchedulerMetrics, statsd_name
from dagflow.store import dags as dag_store
from dagflow.store import metrics_reads
from tests.cli.test_jobs_check import add_scheduler
from tests.webui.seeding import DAG_ID


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_say_what_the_store_holds_without_a_login(seeded, client):
    add_scheduler(seeded.database, age=2, hostname="sched-1", pid=7)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    assert found[("dagflow_dag_runs", (("dag_id", DAG_ID), ("state", "running")))] == 1
    assert found[("dagflow_task_instances", (("dag_id", DAG_ID), ("state", "failed")))] == 1
    assert found[("dagflow_task_instances", (("dag_id", DAG_ID), ("state", "success")))] == 1
    assert found[("dagflow_pool_open_slots", (("pool", "default_pool"),))] > 0
    assert (
        found[("dagflow_ti_finish_total", (("dag_id", DAG_ID), ("state", "success"), ("task_id", "extract")))]
        == 1
    )
    task = (("dag_id", DAG_ID), ("task_id", "extract"))
    assert found[("dagflow_task_duration_seconds_bucket", (*task[:1], ("le", "0.1"), *task[1:]))] == 0
    assert found[("dagflow_task_duration_seconds_bucket", (*task[:1], ("le", "1.0"), *task[1:]))] == 1
    assert found[("dagflow_task_duration_seconds_sum", task)] == 0.5
    age = found[
        ("dagflow_heartbeat_age_seconds", (("hostname", "sched-1"), ("kind", "scheduler"), ("pid", "7")))
    ]
    assert 2 <= age < 30
    assert found[("dagflow_dag_processing_import_errors", ())] == 0
    assert found[("dagflow_metadatabase_up", ())] == 1


def test_task_to_task_gaps_run_from_the_last_upstream_end_to_the_start(seeded):
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    run = (DAG_ID, "r")
    times = [
        metrics_reads.TaskTimes(run, "extract", t0, t0 + timedelta(seconds=1)),
        metrics_reads.TaskTimes(
            run, "process.transform", t0 + timedelta(seconds=1.25), t0 + timedelta(seconds=2)
        ),
        metrics_reads.TaskTimes(run, "load", t0 + timedelta(seconds=2.5), None),
    ]
    with seeded.database.session() as session:
        dags = dag_store.stored_dags(session)
    assert task_to_task_gaps(times, dags) == [0.25, 0.5]


def test_statsd_gets_the_schedulers_measures_under_airflows_names(seeded):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    port = receiver.getsockname()[1]
    settings = MetricsSettings(statsd_on=True, statsd_host="127.0.0.1", statsd_port=port, statsd_interval=0)
    metrics = SchedulerMetrics(settings, seeded.database)
    metrics.heartbeat()
    metrics.executor_slots(open_slots=3, in_flight=1)
    metrics.loop_duration(0.02)
    received = set()
    try:
        while True:
            received.add(receiver.recv(4096).decode())
    except TimeoutError:
        pass
    finally:
        receiver.close()
    assert "dagflow.scheduler_heartbeat:1|c" in received
    assert "dagflow.executor.open_slots:3|g" in received
    assert any(line.startswith("dagflow.scheduler.scheduler_loop_duration:20.") for line in received)
    assert any(line.startswith("dagflow.pool.open_slots.default_pool:") for line in received)


def test_statsd_names_are_airflows_dotted_ones():
    assert statsd_name("dagflow_pool_open_slots", {"pool": "p"}) == "pool.open_slots.p"
    assert statsd_name("dagflow_dag_runs", {"dag_id": "d.x", "state": "running"}) == "dag.runs.d_x.running"


def test_the_scheduler_serves_no_metrics_port_unless_one_is_set():
    assert MetricsSettings.from_settings(Settings.load()).port is None
    assert MetricsSettings.from_settings(Settings.load({"DAGFLOW__METRICS__PORT": "9102"})).port == 9102

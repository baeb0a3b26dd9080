"""What the store says, as Prometheus metrics, read afresh on every scrape.

Runs and task instances by state, pool and queue use, import errors, the heartbeat age of every
scheduler and worker, and the histories (tries ended, their durations, run durations, the gap
between a task's upstreams ending and its start). The same on the web server and on every
scheduler: these describe the deployment, not the process serving them. Names follow Airflow's
metrics (``ti_finish``, ``pool_open_slots``, ``dagrun_duration_success``...) with a ``dagflow_``
prefix, so dashboards built on Airflow's statsd-exporter mapping carry across.
"""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from dagflow.core.clock import utcnow
from dagflow.serialization import StoredDag
from dagflow.store import Database, Session
from dagflow.store import dags as dag_store
from dagflow.store import metrics_reads as reads

log = logging.getLogger("dagflow.metrics")
PREFIX = "dagflow_"
#: Upper bounds (seconds) of the duration histograms: tasks of a second to runs of hours.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)
#: Task instances of the most recent runs looked at for the task-to-task latency.
LATENCY_WINDOW = 2000


class StoreCollector(Collector):
    """Reads the store on each scrape (see the module docstring)."""

    def __init__(self, db: Database):
        self.db = db

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        try:
            with self.db.session() as session:
                yield from _states(session)
                yield from _pools(session)
                yield from _heartbeats(session, now)
                yield from _histories(session)
                yield _latency(session)
        except Exception:  # a scrape must not fail the server: the store may be restarting
            log.exception("could not read the store for the metrics")
            yield GaugeMetricFamily(f"{PREFIX}metadatabase_up", "Whether the store answered.", value=0)
        else:
            yield GaugeMetricFamily(f"{PREFIX}metadatabase_up", "Whether the store answered.", value=1)


def _states(session: Session) -> Iterator[Metric]:
    runs = GaugeMetricFamily(f"{PREFIX}dag_runs", "DAG runs by DAG and state.", labels=["dag_id", "state"])
    for (dag_id, state), count in sorted(reads.runs_by_state(session).items()):
        runs.add_metric([dag_id, state], count)
    tis = GaugeMetricFamily(
        f"{PREFIX}task_instances", "Task instances by DAG and state.", labels=["dag_id", "state"]
    )
    for (dag_id, state), count in sorted(reads.task_instances_by_state(session).items()):
        tis.add_metric([dag_id, state], count)
    errors = GaugeMetricFamily(
        f"{PREFIX}dag_processing_import_errors",
        "DAG files that failed to load.",
        value=reads.import_error_count(session),
    )
    yield from (runs, tis, errors)


def _pools(session: Session) -> Iterator[Metric]:
    families = {
        kind: GaugeMetricFamily(f"{PREFIX}pool_{kind}_slots", f"Pool slots {kind}.", labels=["pool"])
        for kind in ("open", "queued", "running", "scheduled")
    }
    for name, use in sorted(reads.pool_use(session).items()):
        families["open"].add_metric([name], use.open)
        families["queued"].add_metric([name], use.queued)
        families["running"].add_metric([name], use.running)
        families["scheduled"].add_metric([name], use.scheduled)
    yield from families.values()
    queues = GaugeMetricFamily(
        f"{PREFIX}queue_tasks", "Queued and running task instances per queue.", labels=["queue", "state"]
    )
    for (queue, state), count in sorted(reads.queue_use(session).items()):
        queues.add_metric([queue, state], count)
    yield queues


def _heartbeats(session: Session, now: datetime) -> Iterator[Metric]:
    ages = GaugeMetricFamily(
        f"{PREFIX}heartbeat_age_seconds",
        "Seconds since the last heartbeat of each running scheduler and worker.",
        labels=["kind", "hostname", "pid"],
    )
    for beat in reads.heartbeats(session):
        if beat.at is not None:
            ages.add_metric([beat.kind, beat.hostname, str(beat.pid)], (now - beat.at).total_seconds())
    yield ages


def _histories(session: Session) -> Iterator[Metric]:
    finished = CounterMetricFamily(
        f"{PREFIX}ti_finish", "Tries ended, by DAG, task and state.", labels=["dag_id", "task_id", "state"]
    )
    for (dag_id, task_id, state), count in sorted(reads.tries_finished(session).items()):
        finished.add_metric([dag_id, task_id, state], count)
    yield finished
    durations = HistogramMetricFamily(
        f"{PREFIX}task_duration_seconds", "Durations of the tries that ended.", labels=["dag_id", "task_id"]
    )
    for (dag_id, task_id), hist in sorted(reads.try_duration_histograms(session, DURATION_BUCKETS).items()):
        durations.add_metric([dag_id, task_id], _buckets(hist.buckets, hist.count), hist.total)
    yield durations
    yield from _run_durations(session)


def _buckets(cumulative: list[int], count: int) -> list[tuple[str, float]]:
    return [
        *((str(bound), float(n)) for bound, n in zip(DURATION_BUCKETS, cumulative, strict=True)),
        ("+Inf", count),
    ]


def _run_durations(session: Session) -> Iterator[Metric]:
    by_state: dict[str, dict[str, list[float]]] = {"success": defaultdict(list), "failed": defaultdict(list)}
    for dag_id, state, seconds in reads.finished_run_durations(session):
        by_state[state][dag_id].append(seconds)
    for state, by_dag in by_state.items():
        family = HistogramMetricFamily(
            f"{PREFIX}dagrun_duration_{state}_seconds",
            f"Durations of the runs that ended {state}.",
            labels=["dag_id"],
        )
        for dag_id, values in sorted(by_dag.items()):
            cumulative = [sum(v <= bound for v in values) for bound in DURATION_BUCKETS]
            family.add_metric([dag_id], _buckets(cumulative, len(values)), sum(values))
        yield family


def _latency(session: Session) -> Metric:
    """The gap between a task instance's last upstream ending and its start, over the latest runs
    (quantiles of that window: it moves with the runs, so it is a gauge, not a counter)."""
    family = GaugeMetricFamily(
        f"{PREFIX}task_to_task_latency_seconds",
        "Seconds from a task's last upstream ending to its start, over the most recent runs.",
        labels=["quantile"],
    )
    gaps = task_to_task_gaps(reads.recent_task_times(session, limit=LATENCY_WINDOW), _specs(session))
    if len(gaps) >= 2:
        cuts = statistics.quantiles(gaps, n=100, method="inclusive")
        for quantile, value in (("0.5", cuts[49]), ("0.9", cuts[89]), ("0.99", cuts[98])):
            family.add_metric([quantile], value)
    return family


def _specs(session: Session) -> dict[str, StoredDag]:
    return dag_store.stored_dags(session)


def task_to_task_gaps(times: list[reads.TaskTimes], dags: dict[str, StoredDag]) -> list[float]:
    """For each task instance with upstreams that all ended, its start minus their last end."""
    ends: dict[tuple[tuple[str, str], str], datetime] = {}
    for t in times:
        if t.end is not None:
            ends[(t.run, t.task_id)] = t.end
    gaps = []
    for t in times:
        stored = dags.get(t.run[0])
        spec = stored.spec.tasks.get(t.task_id) if stored is not None else None
        if spec is None or not spec.upstream:
            continue
        upstream = [ends.get((t.run, u)) for u in spec.upstream]
        if all(end is not None for end in upstream):
            last = max(end for end in upstream if end is not None)
            gaps.append(max(0.0, (t.start - last).total_seconds()))
    return gaps

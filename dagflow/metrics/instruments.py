"""A scheduler's own metrics, on its Prometheus endpoint and, if asked, sent to StatsD.

Settings (section ``[metrics]``): ``port`` serves ``/metrics`` of this scheduler on that port (empty:
none, the default, since several schedulers on one machine each need a port of their own);
``statsd_on`` sends the same measures to a StatsD server (``statsd_host``, ``statsd_port``,
``statsd_prefix``) under Airflow's dotted names (``scheduler_heartbeat``,
``scheduler.scheduler_loop_duration``, ``executor.open_slots``, ``pool.open_slots.<pool>``...), and
every ``statsd_interval`` seconds the store-wide gauges of :mod:`dagflow.metrics.collector` too.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from dagflow.config import Settings
from dagflow.metrics.collector import PREFIX, StoreCollector
from dagflow.store import Database

log = logging.getLogger("dagflow.metrics")
LOOP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class MetricsSettings:
    port: int | None = None
    statsd_on: bool = False
    statsd_host: str = "localhost"
    statsd_port: int = 8125
    statsd_prefix: str = "dagflow"
    statsd_interval: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsSettings:
        port = str(settings.get("metrics", "port", "") or "").strip()
        return cls(
            port=int(port) if port else None,
            statsd_on=settings.getbool("metrics", "statsd_on"),
            statsd_host=settings.get("metrics", "statsd_host", "localhost"),
            statsd_port=settings.getint("metrics", "statsd_port"),
            statsd_prefix=settings.get("metrics", "statsd_prefix", "dagflow"),
            statsd_interval=settings.getfloat("metrics", "statsd_interval"),
        )


class SchedulerMetrics:
    """One scheduler's instruments (see the module docstring)."""

    def __init__(self, settings: MetricsSettings, db: Database):
        self.settings = settings
        self.db = db
        self.registry = CollectorRegistry()
        self.heartbeats = Counter(
            f"{PREFIX}scheduler_heartbeat", "Heartbeats of this scheduler.", registry=self.registry
        )
        self.loop = Histogram(
            f"{PREFIX}scheduler_loop_duration_seconds",
            "Duration of one pass of this scheduler's loop.",
            buckets=LOOP_BUCKETS,
            registry=self.registry,
        )
        self.open_slots = Gauge(
            f"{PREFIX}executor_open_slots", "Free slots of this scheduler's executor.", registry=self.registry
        )
        self.queued = Gauge(
            f"{PREFIX}executor_queued_tasks",
            "Workloads handed to the executor, not started.",
            registry=self.registry,
        )
        self.running = Gauge(
            f"{PREFIX}executor_running_tasks",
            "Workloads this scheduler's executor holds.",
            registry=self.registry,
        )
        self.store = StoreCollector(db)
        self.registry.register(self.store)
        self.statsd = _statsd_client(settings) if settings.statsd_on else None
        self._last_push = 0.0

    def serve(self) -> None:
        """Serve ``/metrics`` on ``[metrics] port`` (in a thread), if one is set."""
        if self.settings.port is not None:
            start_http_server(self.settings.port, registry=self.registry)
            log.info("metrics on http://0.0.0.0:%d/metrics", self.settings.port)

    def heartbeat(self) -> None:
        self.heartbeats.inc()
        if self.statsd is not None:
            self.statsd.incr("scheduler_heartbeat")

    def loop_duration(self, seconds: float) -> None:
        self.loop.observe(seconds)
        if self.statsd is not None:
            self.statsd.timing("scheduler.scheduler_loop_duration", seconds * 1000)
            self._push_store_gauges()

    def executor_slots(self, *, open_slots: int, in_flight: int) -> None:
        self.open_slots.set(open_slots)
        self.running.set(in_flight)
        if self.statsd is not None:
            self.statsd.gauge("executor.open_slots", open_slots)
            self.statsd.gauge("executor.running_tasks", in_flight)

    def _push_store_gauges(self) -> None:
        """Every ``statsd_interval``, the store-wide gauges under dotted names (``pool.open_slots.p``)."""
        now = time.monotonic()
        if self.statsd is None or now - self._last_push < self.settings.statsd_interval:
            return
        self._last_push = now
        for family in self.store.collect():
            if family.type != "gauge":
                continue
            for sample in family.samples:
                self.statsd.gauge(statsd_name(sample.name, sample.labels), sample.value)


def statsd_name(name: str, labels: dict[str, str]) -> str:
    """``dagflow_pool_open_slots{pool="p"}`` -> ``pool.open_slots.p`` (Airflow's dotted style)."""
    base = name.removeprefix(PREFIX)
    head, _, rest = base.partition("_")
    if head in ("pool", "executor", "dag", "scheduler", "task") and rest:
        base = f"{head}.{rest}"
    parts = [base, *(str(v).replace(".", "_") for v in labels.values())]
    return ".".join(parts)


def _statsd_client(settings: MetricsSettings):  # type: ignore[no-untyped-def]
    import statsd

    return statsd.StatsClient(settings.statsd_host, settings.statsd_port, prefix=settings.statsd_prefix)

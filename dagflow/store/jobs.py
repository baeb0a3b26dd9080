"""The long-lived processes' job rows (schedulers, and workers that record one) and their heartbeats.

A job is alive while its row says ``running`` and its heartbeat is younger than the health check
threshold (``[scheduler] scheduler_health_check_threshold``), as Airflow's ``Job.is_alive``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dagflow.core.states import JobState
from dagflow.store.models import JobRow

#: Airflow's job type names, for ``dagflow jobs check --job-type``, mapped to the stored ones.
AIRFLOW_JOB_TYPES = {"SchedulerJob": "scheduler", "CeleryWorker": "worker", "WorkerJob": "worker"}


@dataclass(frozen=True)
class LiveJob:
    id: int
    job_type: str
    hostname: str
    pid: int
    start_date: datetime
    latest_heartbeat: datetime

    def to_json(self, now: datetime) -> dict[str, object]:
        return {
            "id": self.id,
            "job_type": self.job_type,
            "hostname": self.hostname,
            "pid": self.pid,
            "start_date": self.start_date.isoformat(),
            "latest_heartbeat": self.latest_heartbeat.isoformat(),
            "heartbeat_age_seconds": round((now - self.latest_heartbeat).total_seconds(), 3),
        }


def stored_job_type(name: str) -> str:
    """The stored job type for a name given as Airflow's (``SchedulerJob``) or as stored (``scheduler``)."""
    return AIRFLOW_JOB_TYPES.get(name, name.lower())


def running_jobs(
    session: Session, *, job_type: str | None = None, hostname: str | None = None, limit: int | None = None
) -> list[LiveJob]:
    """Jobs whose rows say running, the latest heartbeat first."""
    query = (
        select(JobRow).where(JobRow.state == JobState.RUNNING.value).order_by(JobRow.latest_heartbeat.desc())
    )
    if job_type is not None:
        query = query.where(JobRow.job_type == job_type)
    if hostname is not None:
        query = query.where(JobRow.hostname == hostname)
    if limit is not None and limit > 0:
        query = query.limit(limit)
    return [
        LiveJob(j.id, j.job_type, j.hostname, j.pid, j.start_date, j.latest_heartbeat)
        for j in session.scalars(query)
    ]


def alive(jobs: list[LiveJob], *, now: datetime, threshold: float) -> list[LiveJob]:
    """Those whose heartbeat is younger than ``threshold`` seconds."""
    since = now - timedelta(seconds=threshold)
    return [job for job in jobs if job.latest_heartbeat >= since]

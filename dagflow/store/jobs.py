"""The long-lived processes' job rows and their heartbeats: schedulers, Celery workers, and the local
workers each scheduler reports.

A job is alive while its row says ``running`` and its heartbeat is younger than the health check
threshold (``[scheduler] scheduler_health_check_threshold``), as Airflow's ``Job.is_alive``.

A ``dagflow celery worker`` records a row of its own (``worker``) and beats at the scheduler's
cadence (``[scheduler] heartbeat_sec``). The local executor's worker processes record none: their
scheduler, which starts them and sees them die, lists the live ones in its own heartbeat
(``detail["workers"]``), so they cost no write of their own; each is reported as a ``worker`` with
its scheduler's last heartbeat, and is taken for dead with its scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dagflow.core.states import JobState
from dagflow.store.models import JobRow

#: Airflow's job type names, for ``dagflow jobs check --job-type``, mapped to the stored ones.
AIRFLOW_JOB_TYPES = {"SchedulerJob": "scheduler", "CeleryWorker": "worker", "WorkerJob": "worker"}
SCHEDULER = "scheduler"
WORKER = "worker"


@dataclass(frozen=True)
class LiveJob:
    #: None for a local worker: it has no row of its own (see the module docstring).
    id: int | None
    job_type: str
    hostname: str
    pid: int
    start_date: datetime
    latest_heartbeat: datetime
    #: A worker's executor: ``local`` or ``celery``.
    executor: str | None = None
    #: A local worker's scheduler, whose heartbeat reports it.
    scheduler_job_id: int | None = None
    #: A Celery worker's name (``-H``).
    name: str | None = None

    def to_json(self, now: datetime) -> dict[str, object]:
        return {
            "id": self.id,
            "job_type": self.job_type,
            "hostname": self.hostname,
            "pid": self.pid,
            "start_date": self.start_date.isoformat(),
            "latest_heartbeat": self.latest_heartbeat.isoformat(),
            "heartbeat_age_seconds": self.age(now),
            "executor": self.executor,
            "scheduler_job_id": self.scheduler_job_id,
            "name": self.name,
        }

    def age(self, now: datetime) -> float:
        """Seconds since the last heartbeat."""
        return round((now - self.latest_heartbeat).total_seconds(), 3)

    def describe(self, now: datetime) -> str:
        """One line for a terminal: what it is, where, and its last heartbeat."""
        what = self.job_type
        if self.executor == "local":
            what += f" (local, of scheduler {self.scheduler_job_id})"
        elif self.executor:
            what += f" ({self.executor}{f' {self.name}' if self.name else ''})"
        ident = f"job {self.id}" if self.id is not None else "no job row"
        return (
            f"{what}  {ident}  host {self.hostname}  pid {self.pid}  last heartbeat "
            f"{self.latest_heartbeat.isoformat()} ({self.age(now):g} s ago)"
        )


def stored_job_type(name: str) -> str:
    """The stored job type for a name given as Airflow's (``SchedulerJob``) or as stored (``scheduler``)."""
    return AIRFLOW_JOB_TYPES.get(name, name.lower())


def running_jobs(
    session: Session, *, job_type: str | None = None, hostname: str | None = None, limit: int | None = None
) -> list[LiveJob]:
    """Jobs whose rows say running, and the local workers their schedulers report, the latest
    heartbeat first (a scheduler before its workers)."""
    query = (
        select(JobRow)
        .where(JobRow.state == JobState.RUNNING.value)
        .order_by(JobRow.latest_heartbeat.desc(), JobRow.id)
    )
    if hostname is not None:
        query = query.where(JobRow.hostname == hostname)
    found = [job for row in session.scalars(query) for job in _jobs_of(row)]
    if job_type is not None:
        found = [job for job in found if job.job_type == job_type]
    return found[:limit] if limit is not None and limit > 0 else found


def _jobs_of(row: JobRow) -> list[LiveJob]:
    """The job a row records, and for a scheduler, the local workers it reports."""
    detail: dict[str, Any] = row.detail or {}
    if row.job_type != SCHEDULER:
        executor, name = detail.get("executor"), detail.get("name")
        return [
            LiveJob(
                row.id,
                row.job_type,
                row.hostname,
                row.pid,
                row.start_date,
                row.latest_heartbeat,
                executor,
                None,
                name,
            )
        ]
    jobs = [LiveJob(row.id, row.job_type, row.hostname, row.pid, row.start_date, row.latest_heartbeat)]
    for worker in detail.get("workers") or []:
        started = datetime.fromisoformat(worker["start_date"])
        jobs.append(
            LiveJob(
                None, WORKER, row.hostname, int(worker["pid"]), started, row.latest_heartbeat, "local", row.id
            )
        )
    return jobs


def alive(jobs: list[LiveJob], *, now: datetime, threshold: float) -> list[LiveJob]:
    """Those whose heartbeat is younger than ``threshold`` seconds."""
    since = now - timedelta(seconds=threshold)
    return [job for job in jobs if job.latest_heartbeat >= since]


def local_workers_detail(workers: Sequence[tuple[int, datetime]]) -> dict[str, Any]:
    """What a scheduler's heartbeat records of its live local workers (``(pid, started)`` each)."""
    return {"workers": [{"pid": pid, "start_date": started.isoformat()} for pid, started in workers]}


# -- a worker's own row ---------------------------------------------------------------------------


def register_worker(
    session: Session, *, hostname: str, pid: int, now: datetime, detail: dict[str, Any]
) -> int:
    """Record a starting worker (``detail``: its executor, name, queues); return its job id."""
    job = JobRow(
        job_type=WORKER,
        state=JobState.RUNNING.value,
        hostname=hostname,
        pid=pid,
        start_date=now,
        latest_heartbeat=now,
        detail=detail,
    )
    session.add(job)
    session.flush()
    return job.id


def worker_heartbeat(session: Session, job_id: int, now: datetime) -> None:
    """Beat for a worker (marked running again if it had been taken for dead after a pause)."""
    job = session.get(JobRow, job_id)
    if job is not None:
        job.latest_heartbeat, job.state, job.end_date = now, JobState.RUNNING.value, None


def fail_dead_workers(session: Session, *, alive_since: datetime, now: datetime) -> int:
    """Mark failed the rows of workers whose heartbeat is older than ``alive_since`` (a worker killed
    with -9, its machine gone), as schedulers do for one another, so that no row says running for a
    worker that is not; one that beats again is marked running again (:func:`worker_heartbeat`).
    Returns how many were marked."""
    result = session.execute(
        update(JobRow)
        .where(
            JobRow.job_type == WORKER,
            JobRow.state == JobState.RUNNING.value,
            JobRow.latest_heartbeat < alive_since,
        )
        .values(state=JobState.FAILED.value, end_date=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def end_worker(session: Session, job_id: int, now: datetime) -> None:
    """Record that a worker stopped."""
    job = session.get(JobRow, job_id)
    if job is not None:
        job.state, job.end_date = JobState.SUCCESS.value, now

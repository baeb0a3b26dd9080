"""Phase: compensations whose worker is gone, or whose scheduler is gone before a worker took them.

A compensation whose worker died (an executor event, or a heartbeat silent for
``task_heartbeat_timeout``), or that no worker took from its queue (an executor event), is recorded
as a failed try: up for retry while tries remain, else failed.
One queued by a scheduler that is gone goes back to not started, for this scheduler to hand out. A
running one is never handed out twice: its token changes only when its try is recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from dagflow.core.keys import TIKey
from dagflow.executors.base import Workload
from dagflow.scheduler.compensate_runs import queue_of, settings_of
from dagflow.scheduler.dags import DagCache
from dagflow.scheduler.liveness import Kill, LivenessSettings
from dagflow.store import Database, Session, scheduling
from dagflow.store import compensations as comp_store

log = logging.getLogger("dagflow.scheduler")


def fail_lost(session: Session, dags: DagCache, workload: Workload, reason: str, now: datetime) -> None:
    """Record a compensation try whose worker died with it in hand (or give back one never started)."""
    if comp_store.give_back(session, [workload.key]):
        return
    retry_at = _retry_at(session, dags, workload, now)
    if comp_store.fail_lost(
        session, workload.key, token=workload.token, error=reason, retry_at=retry_at, now=now
    ):
        log.warning("compensation %s: %s", workload.label, reason)


def fail_unclaimed(session: Session, dags: DagCache, workload: Workload, reason: str, now: datetime) -> None:
    """Record a compensation try that no worker took from its queue (its executor gave up sending it):
    failed as a lost worker's try is, unless it is no longer queued with the workload's token."""
    retry_at = _retry_at(session, dags, workload, now)
    state = comp_store.fail_unclaimed(
        session, workload.key, token=workload.token, error=reason, retry_at=retry_at, now=now
    )
    if state is not None:
        log.error("compensation %s: %s; marked %s", workload.label, reason, state.value)


def _retry_at(session: Session, dags: DagCache, workload: Workload, now: datetime) -> datetime:
    stored = dags.get(session, workload.key.dag_id)
    delay = settings_of(stored, workload.key.task_id)[1] if stored is not None else 0.0
    return now + timedelta(seconds=delay)


def _queue(session: Session, dags: DagCache, key: TIKey) -> str:
    """The queue the compensation was sent to (as :mod:`~dagflow.scheduler.compensate_runs` chose)."""
    stored = dags.get(session, key.dag_id)
    return queue_of(stored, key.task_id) if stored is not None else "default"


def check_compensations(
    db: Database, dags: DagCache, *, settings: LivenessSettings, kill: Kill, now: datetime
) -> int:
    """Fail compensations whose heartbeat went stale; give back those queued by a dead scheduler.
    Returns how many were changed."""
    silent_before = now - timedelta(seconds=settings.task_heartbeat_timeout)
    with db.session() as session:
        silent = comp_store.silent_compensations(session, heartbeat_before=silent_before)
    for row in silent:
        kill(TIKey(row.dag_id, row.run_id, row.task_id, row.map_index), "killed: its heartbeat stopped")
    alive_since = now - timedelta(seconds=settings.health_threshold)
    with db.session(write=True) as session:
        for row in silent:
            key = TIKey(row.dag_id, row.run_id, row.task_id, row.map_index)
            token, queue = row.attempt_token or "", _queue(session, dags, key)
            workload = Workload(key, row.try_number, token, "", compensation=True, queue=queue)
            fail_lost(session, dags, workload, "its heartbeat stopped: the worker running it is gone", now)
        alive = scheduling.fail_dead_schedulers(
            session, alive_since=alive_since, keep=settings.job_id, now=now
        )
        given_back = comp_store.give_back_queued(session, not_job_ids=alive, now=now)
    return len(silent) + given_back

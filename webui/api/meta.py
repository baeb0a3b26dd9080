"""Health, workers, import errors and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import jsonify

from dagflow.core.clock import utcnow
from dagflow.store import jobs as job_store
from dagflow.store import reads
from dagflow.store.rows import iso
from webui.api import api
from webui.api.common import page_params
from webui.db import read_session, settings
from webui.errors import error_response
from webui.workers import current_workers


@api.get("/health")
def health() -> Any:
    """Is the store reachable; which schedulers and workers are alive, each with its last heartbeat.
    ``scheduler`` is the latest one's, as Airflow reports it; a job is alive while its heartbeat is
    younger than ``[scheduler] scheduler_health_check_threshold``. Celery workers beat for
    themselves; a local executor's workers are reported by their scheduler's heartbeat (see
    :mod:`dagflow.store.jobs`)."""
    session = read_session()
    now = utcnow()
    threshold = settings().getfloat("scheduler", "scheduler_health_check_threshold")
    job = reads.latest_scheduler_job(session)
    fresh = (
        job is not None
        and job.state == "running"
        and now - job.latest_heartbeat < timedelta(seconds=threshold)
    )
    alive = job_store.alive(job_store.running_jobs(session), now=now, threshold=threshold)
    return jsonify(
        {
            "metadatabase": {"status": "healthy"},
            "scheduler": {
                "status": "healthy" if fresh else "unhealthy",
                "latest_heartbeat": iso(job.latest_heartbeat) if job is not None else None,
            },
            "schedulers": [j.to_json(now) for j in alive if j.job_type == "scheduler"],
            "workers": [j.to_json(now) for j in alive if j.job_type == job_store.WORKER],
        }
    )


@api.get("/workers")
def workers() -> Any:
    """The live Celery workers, their queues and the attempts they run (none for another executor)."""
    view = current_workers()
    if view.error is not None:
        return error_response(503, "Service Unavailable", view.error)
    return jsonify(view.to_json())


@api.get("/importErrors")
def import_errors() -> Any:
    offset, limit = page_params()
    page = reads.import_errors_page(read_session(), offset=offset, limit=limit)
    return jsonify(page.to_json("import_errors"))


@api.get("/openapi.json")
def openapi() -> Any:
    from webui.api.openapi import document

    return jsonify(document())

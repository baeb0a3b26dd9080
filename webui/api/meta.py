"""Health, import errors, pools and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import jsonify
from sqlalchemy import select

from dagflow.execution.taskrunner import utcnow
from dagflow.store.models import JobRow
from webui import queries
from webui.api import api
from webui.db import read_session


@api.get("/health")
def health() -> Any:
    """Is the store reachable, and is a scheduler heartbeating."""
    session = read_session()
    job = session.scalars(
        select(JobRow).where(JobRow.job_type == "scheduler").order_by(JobRow.latest_heartbeat.desc()).limit(1)
    ).first()
    fresh = (
        job is not None and job.state == "running" and utcnow() - job.latest_heartbeat < timedelta(seconds=30)
    )
    return jsonify(
        {
            "metadatabase": {"status": "healthy"},
            "scheduler": {
                "status": "healthy" if fresh else "unhealthy",
                "latest_heartbeat": queries.iso(job.latest_heartbeat) if job is not None else None,
            },
        }
    )


@api.get("/importErrors")
def import_errors() -> Any:
    errors = queries.import_errors(read_session())
    return jsonify({"import_errors": errors, "total_entries": len(errors)})


@api.get("/pools")
def pools() -> Any:
    found = queries.pools(read_session())
    return jsonify({"pools": found, "total_entries": len(found)})


@api.get("/openapi.json")
def openapi() -> Any:
    from webui.api.openapi import document

    return jsonify(document())

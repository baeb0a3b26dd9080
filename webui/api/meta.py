"""Health, import errors and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import jsonify
from sqlalchemy import select

from dagflow.core.clock import utcnow
from dagflow.store.models import ImportErrorRow, JobRow
from webui import queries
from webui.api import api
from webui.api.common import page_params
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
    offset, limit = page_params()
    query = select(ImportErrorRow).order_by(ImportErrorRow.filename)
    page = queries.paged(read_session(), query, offset, limit, queries.import_error_summary)
    return jsonify(page.to_json("import_errors"))


@api.get("/openapi.json")
def openapi() -> Any:
    from webui.api.openapi import document

    return jsonify(document())

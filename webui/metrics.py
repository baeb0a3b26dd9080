"""``/metrics``: what the store says, for Prometheus (:mod:`dagflow.metrics.collector`).

Served without a login, as Prometheus scrapes it: it holds counts, durations and DAG ids, never
task data. Each app has its own registry, so two apps in one process never share collectors.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from dagflow.metrics.collector import StoreCollector

bp = Blueprint("metrics", __name__)
REGISTRY = "DAGFLOW_METRICS_REGISTRY"


def init_app(app: Flask) -> None:
    registry = CollectorRegistry()
    registry.register(StoreCollector(app.config["DAGFLOW_DATABASE"]))
    app.config[REGISTRY] = registry
    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics() -> Any:
    return Response(generate_latest(current_app.config[REGISTRY]), mimetype=CONTENT_TYPE_LATEST)

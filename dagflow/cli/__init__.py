"""The ``dagflow`` command: a thin click layer over the library."""

from __future__ import annotations

import click

from dagflow import __version__
from dagflow.cli.lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={
        "celery": "dagflow.cli.celery_cmd:celery",
        "config": "dagflow.cli.config:config",
        "connections": "dagflow.cli.connections:connections",
        "dags": "dagflow.cli.dags:dags",
        "info": "dagflow.cli.info:info",
        "db": "dagflow.cli.db:db",
        "jobs": "dagflow.cli.jobs:jobs",
        "pools": "dagflow.cli.pools:pools",
        "port": "dagflow.cli.port:port",
        "runs": "dagflow.cli.runs:runs",
        "scheduler": "dagflow.cli.scheduler_cmd:scheduler",
        "standalone": "dagflow.cli.scheduler_cmd:standalone",
        "tasks": "dagflow.cli.tasks:tasks",
        "users": "dagflow.cli.users:users",
        "variables": "dagflow.cli.variables:variables",
        "webserver": "dagflow.cli.scheduler_cmd:webserver",
    },
)
@click.version_option(__version__, prog_name="dagflow")
def cli() -> None:
    """dagflow: write DAGs as in Airflow, run them here."""


def main() -> None:
    cli(prog_name="dagflow")

"""The ``dagflow`` command: a thin click layer over the library."""

from __future__ import annotations

import click

from dagflow import __version__
from dagflow.cli.lazy import LazyGroup

STORE = "dagflow.cli.store_cmds"


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={
        "dags": "dagflow.cli.dags:dags",
        "config": "dagflow.cli.config_cmd:config",
        "db": "dagflow.cli.db:db",
        "scheduler": "dagflow.cli.scheduler_cmd:scheduler",
        "standalone": "dagflow.cli.scheduler_cmd:standalone",
        "webserver": "dagflow.cli.scheduler_cmd:webserver",
        "users": "dagflow.cli.users:users",
        "runs": f"{STORE}:runs",
        "pools": f"{STORE}:pools",
        "tasks": f"{STORE}:tasks",
    },
)
@click.version_option(__version__, prog_name="dagflow")
def cli() -> None:
    """dagflow: write DAGs as in Airflow, run them here."""


def main() -> None:
    cli(prog_name="dagflow")

"""The ``dagflow`` command: a thin click layer over the library."""

from __future__ import annotations

import click

from dagflow import __version__
from dagflow.cli.config_cmd import config
from dagflow.cli.dags import dags
from dagflow.cli.db import db
from dagflow.cli.scheduler_cmd import scheduler, standalone, webserver
from dagflow.cli.store_cmds import (
    dags_backfill,
    dags_pause,
    dags_reserialize,
    dags_state,
    dags_trigger,
    dags_unpause,
    pools,
    runs,
    tasks,
)
from dagflow.cli.users import users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dagflow")
def cli() -> None:
    """dagflow: write DAGs as in Airflow, run them here."""


cli.add_command(dags)
cli.add_command(config)
cli.add_command(db)
cli.add_command(scheduler)
cli.add_command(standalone)
cli.add_command(webserver)
cli.add_command(users)
cli.add_command(runs)
cli.add_command(pools)
cli.add_command(tasks)
for command in (dags_trigger, dags_pause, dags_unpause, dags_state, dags_backfill, dags_reserialize):
    dags.add_command(command)


def main() -> None:
    cli(prog_name="dagflow")

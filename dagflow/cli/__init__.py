"""The ``dagflow`` command: a thin click layer over the library."""

from __future__ import annotations

import click

from dagflow import __version__
from dagflow.cli.config_cmd import config
from dagflow.cli.dags import dags


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dagflow")
def cli() -> None:
    """dagflow: write DAGs as in Airflow, run them here."""


cli.add_command(dags)
cli.add_command(config)


def main() -> None:
    cli(prog_name="dagflow")

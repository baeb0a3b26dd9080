"""The ``dagflow`` command stays cheap: commands that never touch the store do not import its libraries."""

from __future__ import annotations

import subprocess
import sys

RESOLVE = """
import sys
import click
from dagflow.cli import cli

ctx = click.Context(cli)
cli.get_command(ctx, "dags").get_command(ctx, "test")
cli.get_command(ctx, "tasks").get_command(ctx, "test")
cli.get_command(ctx, "config")
print(sorted({m.split(".")[0] for m in sys.modules} & {"sqlalchemy", "alembic", "psycopg"}))
print(sorted(m for m in sys.modules if m.startswith(("dagflow.store", "dagflow.actions"))))
"""


def test_dags_test_and_tasks_test_do_not_load_the_store():
    done = subprocess.run([sys.executable, "-c", RESOLVE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "[]"]


def test_every_command_group_loads():
    from click.testing import CliRunner

    from dagflow.cli import cli

    for group in ("config", "dags", "db", "pools", "runs", "tasks", "users"):
        result = CliRunner().invoke(cli, [group, "--help"])
        assert result.exit_code == 0, (group, result.output)

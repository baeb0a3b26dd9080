"""A trigger from a CLI that shares nothing with the scheduler but the database wakes it at once.

The CLI runs as its own process with its own ``DAGFLOW_HOME``, as it would on another machine; the
scheduler sleeps with a 30 s timer. On PostgreSQL the wake-up is a ``NOTIFY`` sent with the trigger's
commit; on SQLite a datagram to the socket named after the database file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from dagflow.scheduler.job import SchedulerOptions
from tests.scheduler.conftest import Orchestrator

QUICK = """
from datetime import datetime

from dagflow import DAG, task

with DAG("quick", schedule=None, start_date=datetime(2024, 1, 1)):

    @task
    def answer():
        return 42

    answer()
"""


def _cli_env(home: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGFLOW")}
    env.update(DAGFLOW_HOME=str(home), DAGFLOW__DATABASE__URL=database_url)
    return env


def test_a_trigger_from_a_cli_with_another_home_wakes_the_sleeping_scheduler(
    orchestrator: Orchestrator, tmp_path: Path, process_executor: str
):
    orchestrator.write("quick.py", QUICK)
    orchestrator.record_dags()
    cli_home = tmp_path / "another_machine"
    cli_home.mkdir()
    assert cli_home != orchestrator.home
    options = SchedulerOptions(max_wait=30, run_processor=False)
    with orchestrator.in_thread(options, workers=1, executor=process_executor) as background:
        background.wait_until_asleep()

        result = subprocess.run(
            [sys.executable, "-m", "dagflow", "dags", "trigger", "quick"],
            env=_cli_env(cli_home, orchestrator.database_url),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        triggered = time.monotonic()  # committed by now (the CLI's own start-up is not the scheduler's)
        run_id = result.stdout.strip()
        orchestrator.wait_for(lambda: orchestrator.run("quick", run_id).state == "success", timeout=10)
        waited = time.monotonic() - triggered

    assert waited < 10  # far less than the 30 s timer: the trigger's commit woke it
    orchestrator.check_ran_on(process_executor, "quick")
    assert not any(cli_home.glob("*.sock")), "the CLI's home holds no socket: the database names it"

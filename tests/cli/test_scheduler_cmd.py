"""``dagflow scheduler`` picks its executor by ``[core] executor``, and refuses one it does not know."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from click.testing import CliRunner

from dagflow.cli import cli
from dagflow.config import Settings
from dagflow.exceptions import DagflowConfigError
from dagflow.executors import EXECUTORS, make_executor
from dagflow.executors.inline import InlineExecutor


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        (
            "DAGFLOW__CORE__EXECUTOR",
            "kubernetes",
            "Error: [core] executor = 'kubernetes' is not an executor dagflow knows; "
            "use one of: celery, inline, local",
        ),
        (
            "DAGFLOW__CORE__HOSTNAME_CALLABLE",
            "socket.AF_INET",
            "Error: [core] hostname_callable = 'socket.AF_INET' (env DAGFLOW__CORE__HOSTNAME_CALLABLE): "
            "not a function; give a function as module.function or module:function",
        ),
    ],
    ids=["unknown executor", "hostname_callable no function"],
)
def test_a_bad_setting_stops_the_scheduler_with_one_line_before_it_starts_anything(
    cli_runner: CliRunner, dagflow_home: Path, monkeypatch: pytest.MonkeyPatch, variable, value, error
):
    monkeypatch.setenv(variable, value)

    result = cli_runner.invoke(cli, ["scheduler"], catch_exceptions=False)

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [error]
    assert not (dagflow_home / "dagflow.db").exists()  # the store was not even opened
    assert multiprocessing.active_children() == []


def test_standalone_refuses_an_unknown_executor_from_the_cfg_file_too(
    cli_runner: CliRunner, dagflow_home: Path
):
    (dagflow_home / "dagflow.cfg").write_text("[core]\nexecutor = kubernetes\n")

    result = cli_runner.invoke(cli, ["standalone"], catch_exceptions=False)

    assert result.exit_code == 2
    assert "[core] executor = 'kubernetes' is not an executor dagflow knows" in result.stderr
    assert multiprocessing.active_children() == []


def test_the_executor_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGFLOW__CORE__EXECUTOR", "Inline")
    executor = make_executor(Settings.load())
    try:
        assert isinstance(executor, InlineExecutor)
        assert executor.slots == 1
    finally:
        executor.close()
    assert sorted(EXECUTORS) == ["celery", "inline", "local"]
    monkeypatch.setenv("DAGFLOW__CORE__EXECUTOR", "nope")
    with pytest.raises(DagflowConfigError, match="use one of: celery, inline, local"):
        make_executor(Settings.load())

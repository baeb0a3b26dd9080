"""``dagflow port``: Airflow imports become dagflow imports, every other byte stays, and what cannot
be mapped is listed by line with exit status 1."""

from __future__ import annotations

from pathlib import Path

from dagflow.cli import cli
from dagflow.compat.port import port_source
from dagflow.dagbag import DagBag

SOURCE = (
    "# -*- coding: utf-8 -*-\r\n"
    '"""Café pipeline: from airflow.sdk import DAG stays in this docstring."""\r\n'
    "import pendulum\r\n"
    "from airflow.sdk import (  # the authoring API\r\n"
    "    DAG,\r\n"
    "    task,  # decorators\r\n"
    ")\r\n"
    "from airflow.exceptions import AirflowSkipException, AirflowFailException as Fail\r\n"
    "\r\n"
    "def helper():\r\n"
    "    from airflow.providers.standard.operators.python import PythonOperator, get_current_context\r\n"
    "    return PythonOperator, get_current_context  # from airflow.sdk import x\r\n"
)
PORTED = (
    "# -*- coding: utf-8 -*-\r\n"
    '"""Café pipeline: from airflow.sdk import DAG stays in this docstring."""\r\n'
    "import pendulum\r\n"
    "from dagflow import (  # the authoring API\r\n"
    "    DAG,\r\n"
    "    task,  # decorators\r\n"
    ")\r\n"
    "from dagflow.exceptions import SkipTask as AirflowSkipException, FailTask as Fail\r\n"
    "\r\n"
    "def helper():\r\n"
    "    from dagflow.operators.python import PythonOperator\r\n"
    "    from dagflow.context import get_current_context\r\n"
    "    return PythonOperator, get_current_context  # from airflow.sdk import x\r\n"
)


def test_imports_are_rewritten_and_every_other_byte_kept() -> None:
    result = port_source(SOURCE.encode())
    assert result.ported == PORTED.encode()
    assert result.unmapped == []


def test_byte_order_mark_is_kept_and_first_line_rewritten() -> None:
    source = b"\xef\xbb\xbffrom airflow.sdk import DAG\nfrom airflow.sdk import task\n"
    result = port_source(source)
    assert result.ported == b"\xef\xbb\xbffrom dagflow import DAG\nfrom dagflow import task\n"


def test_file_without_airflow_imports_is_unchanged() -> None:
    source = b"from dagflow import DAG\nx = '\xc3\xa9'\n\n\n"
    result = port_source(source)
    assert result.ported == source and not result.changed


def test_unmapped_names_are_reported_by_line_and_kept_in_place() -> None:
    source = b"from airflow.sdk import DAG, Asset\nimport airflow.operators.bash\nfrom airflow.sdk import *\n"
    result = port_source(source)
    assert result.ported == (
        b"from dagflow import DAG\nfrom airflow.sdk import Asset\n"
        b"import airflow.operators.bash\nfrom airflow.sdk import *\n"
    )
    assert [(u.line, u.construct) for u in result.unmapped] == [
        (1, "from airflow.sdk import Asset"),
        (2, "import airflow.operators.bash"),
        (3, "from airflow.sdk import *"),
    ]
    assert "no equivalent" in result.unmapped[0].reason


def test_statement_sharing_a_line_is_split_with_semicolons() -> None:
    source = b"if True: from airflow.sdk import DAG, get_current_context as gcc; x = 1\n"
    result = port_source(source)
    assert result.ported == b"if True: from dagflow import DAG, get_current_context as gcc; x = 1\n"
    mixed = port_source(
        b"if True: from airflow.operators.python import PythonOperator, get_current_context\n"
    )
    assert mixed.ported == (
        b"if True: from dagflow.operators.python import PythonOperator; "
        b"from dagflow.context import get_current_context\n"
    )


def test_file_that_does_not_parse_is_reported() -> None:
    result = port_source(b"from airflow.sdk import DAG\ndef (:\n")
    assert result.ported == b"from airflow.sdk import DAG\ndef (:\n"
    assert result.unmapped[0].line == 2


def test_default_prints_a_diff_and_exits_0_when_all_mapped(tmp_path: Path, cli_runner) -> None:
    path = tmp_path / "etl.py"
    path.write_bytes(b"from airflow.sdk import DAG\nprint(DAG)\n")
    ran = cli_runner.invoke(cli, ["port", str(path)])
    assert ran.exit_code == 0, ran.output
    assert f"--- {path}\n+++ {path}\n" in ran.stdout
    assert "-from airflow.sdk import DAG\n+from dagflow import DAG\n" in ran.stdout
    assert path.read_bytes() == b"from airflow.sdk import DAG\nprint(DAG)\n"


def test_unmapped_constructs_are_listed_with_file_and_line_and_exit_1(tmp_path: Path, cli_runner) -> None:
    path = tmp_path / "assets.py"
    path.write_bytes(b"import pendulum\nfrom airflow.sdk import Asset, DAG\n")
    ran = cli_runner.invoke(cli, ["port", "--write", str(tmp_path)])
    assert ran.exit_code == 1
    assert f"{path}:2: from airflow.sdk import Asset: not mapped: dagflow has no equivalent" in ran.stderr
    assert path.read_bytes() == b"import pendulum\nfrom dagflow import DAG\nfrom airflow.sdk import Asset\n"


def test_out_writes_ported_copies_and_leaves_sources(tmp_path: Path, cli_runner) -> None:
    src = tmp_path / "dags"
    (src / "sub").mkdir(parents=True)
    original = b"from airflow.operators.empty import EmptyOperator\n"
    (src / "sub" / "a.py").write_bytes(original)
    out = tmp_path / "ported"
    ran = cli_runner.invoke(cli, ["port", str(src), "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    assert (out / "sub" / "a.py").read_bytes() == b"from dagflow.operators.empty import EmptyOperator\n"
    assert (src / "sub" / "a.py").read_bytes() == original


def test_write_and_out_together_is_a_usage_error(tmp_path: Path, cli_runner) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    ran = cli_runner.invoke(cli, ["port", str(tmp_path / "a.py"), "--write", "--out", str(tmp_path / "o")])
    assert ran.exit_code == 2
    assert "either --write or --out" in ran.stderr


def test_ported_corpus_file_runs_without_the_layer(tmp_path: Path, cli_runner) -> None:
    corpus = Path(__file__).resolve().parent.parent / "portability" / "dags" / "skip_fail_retry.py"
    ran = cli_runner.invoke(cli, ["port", str(corpus), "--out", str(tmp_path)])
    assert ran.exit_code == 0, ran.output
    assert b"airflow" not in (tmp_path / "skip_fail_retry.py").read_bytes()
    bag = DagBag(tmp_path / "skip_fail_retry.py", airflow_compat=False)
    assert not bag.import_errors
    result = bag.get_dag("skip_fail_retry").test()
    assert result.get("flaky").try_number == 2
    assert result.get("nothing_to_do").state.value == "skipped"

"""``dagflow port``: Airflow imports become dagflow imports, every other byte stays, and what cannot
be mapped is listed by line with exit status 1."""

from __future__ import annotations

import ast
import io
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from dagflow.cli import cli
from dagflow.compat.port import port_source
from dagflow.dagbag import DagBag
from tests.portability.test_corpus import CASES, DAGS, case_environment, differences, load_expected

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


MODULE_ALIASES = b"""import pendulum
import airflow.operators.bash as bash_ops
from airflow import models
from airflow.operators import empty as empties

with models.DAG("aliases", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    bash_ops.BashOperator(task_id="say", bash_command="echo hi") >> empties.EmptyOperator(task_id="end")
"""


def test_module_aliases_become_the_dagflow_module_holding_what_the_file_reads(tmp_path: Path) -> None:
    result = port_source(MODULE_ALIASES)
    assert result.unmapped == []
    assert result.ported.splitlines()[1:4] == [
        b"import dagflow.operators.bash as bash_ops",
        b"import dagflow as models",
        b"import dagflow.operators.empty as empties",
    ]
    (tmp_path / "aliases.py").write_bytes(result.ported)
    bag = DagBag(tmp_path / "aliases.py", sys_path_root=tmp_path, airflow_compat=False)
    assert not bag.import_errors, [e.summary() for e in bag.import_errors.values()]
    run = bag.get_dag("aliases").test(log_stream=io.StringIO())
    assert run.state == "success"


def test_module_alias_whose_names_no_dagflow_module_holds_together_is_reported() -> None:
    source = (
        b"from airflow import models\nmodels.DAG, models.Variable\n"
        b"from airflow.utils import state\nstate.State\n"
    )
    result = port_source(source)
    assert result.ported == source
    assert [(u.line, u.construct) for u in result.unmapped] == [
        (1, "from airflow import models"),
        (3, "from airflow.utils import state"),
    ]
    assert result.unmapped[0].reason.endswith("(`from airflow.models import DAG, Variable`)")
    assert result.unmapped[1].reason.endswith("(`from airflow.utils.state import State`)")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (b"import airflow.sdk as sdk\nprint(sdk)\n", "`sdk` is used other than as `sdk.NAME`"),
        (
            b"import airflow.sdk as sdk\nsdk.Asset\n",
            "`sdk.Asset`: dagflow has no equivalent of airflow.sdk.Asset",
        ),
        (b"from airflow.operators import bash\n", "`bash` is never read: remove the import"),
        (
            b"import airflow.operators.bash\nairflow.operators.bash.BashOperator\n",
            "a module imported under its Airflow name is not rewritten: "
            "import the names you use with `from airflow.operators.bash import ...`",
        ),
    ],
)
def test_module_import_that_cannot_be_rewritten_says_why(source: bytes, reason: str) -> None:
    result = port_source(source)
    assert result.ported == source
    assert [u.line for u in result.unmapped] == [1]
    assert result.unmapped[0].reason.startswith(reason)


def test_star_import_is_reported_with_the_names_the_file_uses_from_it() -> None:
    source = b"from airflow.operators.python import *\nPythonOperator(python_callable=get_current_context)\n"
    result = port_source(source)
    assert result.ported == source
    assert result.unmapped[0].reason == (
        "star imports are not rewritten: import by name what the file uses from it "
        "(`from airflow.operators.python import PythonOperator, get_current_context`)"
    )


def test_reported_module_alias_is_one_line_naming_file_and_line(tmp_path: Path, cli_runner) -> None:
    path = tmp_path / "models.py"
    path.write_bytes(b"import pendulum\nfrom airflow import models\nmodels.Variable.get('x')\nmodels.DAG\n")
    ran = cli_runner.invoke(cli, ["port", str(path)])
    assert ran.exit_code == 1
    assert ran.stderr.splitlines()[0] == (
        f"{path}:2: from airflow import models: not mapped: no dagflow module has all the file reads as "
        "`models.NAME` under those names: import by name what you use of it "
        "(`from airflow.models import DAG, Variable`)"
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


@pytest.mark.parametrize("name", CASES)
def test_ported_corpus_file_reaches_the_same_outcome_without_the_layer(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = port_source((DAGS / f"{name}.py").read_bytes())
    if result.unmapped:
        pytest.skip(f"{name}.py uses what port cannot map: {result.unmapped[0]}")
    assert not any(_is_airflow_import(node) for node in ast.walk(ast.parse(result.ported)))
    # the whole folder, for the files a DAG reads beside it (templates...), then the ported file
    folder = tmp_path / "dags"
    shutil.copytree(DAGS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / f"{name}.py").write_bytes(result.ported)
    expected = load_expected(name)
    with case_environment(expected, monkeypatch):
        bag = DagBag(folder / f"{name}.py", sys_path_root=folder, airflow_compat=False)
        assert not bag.import_errors, [e.summary() for e in bag.import_errors.values()]
        when = expected.get("logical_date")
        run = bag.get_dag(expected["dag_id"]).test(
            logical_date=datetime.fromisoformat(when) if when else None,
            conf=expected.get("conf") or {},
            log_stream=io.StringIO(),
        )
    assert differences(expected, run) == []


def _is_airflow_import(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "airflow"
    return isinstance(node, ast.Import) and any(a.name.split(".")[0] == "airflow" for a in node.names)

"""``python my_dag.py``: an Airflow DAG file run directly, in a fresh interpreter of this environment.

``dagflow-airflow.pth``, installed with the package (``make setup`` runs ``pip install -e .``), puts
a finder on ``sys.meta_path`` at interpreter start that imports nothing of dagflow until a program
imports ``airflow``; then, with ``[core] airflow_compat`` on, the import layer serves it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import _dagflow_airflow
from dagflow import compat
from dagflow.compat import table

ROOT = Path(__file__).resolve().parents[2]
PTH = "dagflow-airflow.pth"

AIRFLOW_FILE = """
import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.sdk import task

with DAG("run_as_script", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    @task
    def extract():
        return 21

    @task
    def double(value):
        print(f"doubled: {value * 2}")

    double(extract()) >> PythonOperator(task_id="done", python_callable=lambda: print("all done"))

if __name__ == "__main__":
    run = dag.test()
    print("run state:", run.state)
"""


@pytest.fixture
def startup_hook() -> Path:
    """The ``.pth`` this interpreter's site-packages holds, checked to be the project's."""
    installed = Path(sysconfig.get_paths()["purelib"]) / PTH
    assert installed.is_file(), (
        f"{installed} is missing: install the project into this environment (`make setup`, which runs "
        "`pip install -e .`) so that `python my_dag.py` can import airflow"
    )
    assert installed.read_text() == (ROOT / PTH).read_text(), f"{installed} is stale: run `make setup`"
    return installed


def python(
    *args: str, cwd: Path, env: dict[str, str] | None = None, path: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter of this environment, importing this checkout's dagflow (and ``path``)."""
    pythonpath = os.pathsep.join(str(entry) for entry in (ROOT, *path))
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": pythonpath}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_the_environment_has_the_startup_hook_installed(startup_hook: Path) -> None:
    line = startup_hook.read_text().strip()
    assert line.startswith("import ") and "_dagflow_airflow" in line


def test_an_airflow_dag_file_runs_its_dag_test_when_run_with_python(
    startup_hook: Path, tmp_path: Path
) -> None:
    path = tmp_path / "my_dag.py"
    path.write_text(AIRFLOW_FILE)
    done = python(str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # what the tasks print is in their log, which dag.test() shows on stderr
    assert "doubled: 42" in done.stderr.splitlines()
    assert "all done" in done.stderr.splitlines()
    assert done.stdout.splitlines()[-1] == "run state: success"


def test_airflow_version_probe_answers_with_the_airflow_api_dagflow_serves(
    startup_hook: Path, tmp_path: Path
) -> None:
    done = python("-c", "import airflow; print(airflow.__version__)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == table.AIRFLOW_VERSION == "3.0.0+dagflow"


def test_interpreter_start_imports_nothing_of_dagflow(startup_hook: Path, tmp_path: Path) -> None:
    script = (
        "import sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagflow', 'webui', 'airflow'))); "
        "print([type(f).__name__ for f in sys.meta_path if getattr(f, '__dagflow_compat__', False)])"
    )
    done = python("-c", script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "['AirflowOnFirstImport']"]


@pytest.mark.parametrize("where", ["environment", "dagflow.cfg"])
def test_airflow_compat_off_leaves_import_airflow_failing_as_usual(
    startup_hook: Path, tmp_path: Path, dagflow_home: Path, where: str
) -> None:
    path = tmp_path / "my_dag.py"
    path.write_text(AIRFLOW_FILE)
    env = {}
    if where == "environment":
        env["DAGFLOW__CORE__AIRFLOW_COMPAT"] = "False"
    else:
        (dagflow_home / "dagflow.cfg").write_text("[core]\nairflow_compat = False\n")
    done = python(str(path), cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "ModuleNotFoundError: No module named 'airflow'"
    assert "Warning" not in done.stderr


def test_a_broken_setting_warns_once_and_leaves_the_usual_error(
    startup_hook: Path, tmp_path: Path, dagflow_home: Path
) -> None:
    (dagflow_home / "dagflow.cfg").write_text("[core]\nairflow_compat = sometimes\n")
    done = python("-c", "import airflow", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    warned = [line for line in lines if "RuntimeWarning" in line]
    assert len(warned) == 1
    assert "dagflow cannot serve `import airflow`" in warned[0]
    assert "[core] airflow_compat must be true or false, got 'sometimes'" in warned[0]
    assert lines[-1] == "ModuleNotFoundError: No module named 'airflow'"


def test_an_installed_airflow_is_imported_instead(startup_hook: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "airflow").mkdir(parents=True)
    (site / "airflow" / "__init__.py").write_text("__version__ = '3.3.2'\n")
    script = "import sys, airflow; print(airflow.__version__, 'dagflow' in sys.modules)"
    done = python("-c", script, cwd=tmp_path, path=(site,))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3.3.2 False"


def test_turning_the_layer_off_takes_the_startup_finder_away_too() -> None:
    """``DagBag(airflow_compat=False)`` and the setting off in dagflow's own processes win over it."""
    before = list(sys.meta_path)
    modules = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "airflow"}
    hook = _dagflow_airflow.AirflowOnFirstImport()
    sys.meta_path.append(hook)
    try:
        compat.disable()
        assert not [finder for finder in sys.meta_path if getattr(finder, _dagflow_airflow.MARKER, False)]
        with pytest.raises(ModuleNotFoundError, match=r"^No module named 'airflow'$"):
            import airflow  # noqa: F401
        assert not hook.decided
    finally:
        sys.meta_path[:] = before
        for name in [name for name in sys.modules if name.split(".")[0] == "airflow"]:
            del sys.modules[name]
        sys.modules.update(modules)

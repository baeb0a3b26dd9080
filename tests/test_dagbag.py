"""Loading a folder of DAG files: each broken file becomes one import error, every other file still loads."""

from __future__ import annotations

import signal
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from dagflow.dagbag import DagBag
from dagflow.exceptions import DagNotFound, TaskTerminated


@dataclass(frozen=True)
class Broken:
    """A DAG file that cannot load, the line its import error should point at, and what it should say."""

    name: str
    source: str
    line: int
    message: str


BROKEN = [
    Broken(
        "syntax_error.py",
        """
        from dagflow import DAG

        def broken(:
            pass
        """,
        3,
        "SyntaxError",
    ),
    Broken(
        "raises.py",
        """
        from dagflow import DAG

        raise RuntimeError("boom at import")
        """,
        3,
        "RuntimeError: boom at import",
    ),
    Broken(
        "raises_in_function.py",
        """
        def load_config():
            raise KeyError("region")


        CONFIG = load_config()
        """,
        2,
        "KeyError: 'region'",
    ),
    Broken(
        "missing_module.py",
        """
        from dagflow import DAG
        import not_a_real_module_for_dagflow_tests
        """,
        2,
        "ModuleNotFoundError: No module named 'not_a_real_module_for_dagflow_tests'",
    ),
    Broken(
        "cycle.py",
        """
        from dagflow import DAG
        from dagflow.operators import EmptyOperator

        with DAG("cycle_dag"):
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b >> a
        """,
        4,
        "DagCycleError: DAG 'cycle_dag' has a cycle:",
    ),
    Broken(
        "duplicate_task_id.py",
        """
        from dagflow import DAG
        from dagflow.operators import EmptyOperator

        with DAG("duplicate_dag"):
            EmptyOperator(task_id="a")
            EmptyOperator(task_id="a")
        """,
        6,
        "DuplicateTaskIdError: DAG 'duplicate_dag': task id 'a' is used twice",
    ),
    Broken(
        "unknown_trigger_rule.py",
        """
        from dagflow import DAG
        from dagflow.operators import EmptyOperator

        with DAG("trigger_rule_dag"):
            EmptyOperator(task_id="late", trigger_rule="sometimes")
        """,
        5,
        "unknown trigger_rule 'sometimes'; use one of: all_success",
    ),
    Broken(
        "bad_cron.py",
        """
        from dagflow import DAG

        with DAG("cron_dag", schedule="99 * * * *"):
            pass
        """,
        3,
        "ScheduleError: DAG 'cron_dag': schedule '99 * * * *' is not a valid cron expression",
    ),
    Broken(
        "slow.py",
        """
        import time

        time.sleep(5)
        """,
        3,
        "importing the file took longer than 0.5s",
    ),
]

GOOD = {
    "aa_first.py": """
        from dagflow import DAG
        from dagflow.operators import EmptyOperator

        with DAG("first_dag"):
            EmptyOperator(task_id="a")
        """,
    "zz_last.py": """
        from dagflow import DAG, task

        with DAG("last_dag"):

            @task
            def hello():
                return "hello"

            hello()
        """,
}


@pytest.fixture(scope="module")
def broken_bag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DagBag]:
    """Every kind of broken file next to good ones, loaded once (the slow file costs 0.5 s)."""
    folder = tmp_path_factory.mktemp("broken") / "dags"
    folder.mkdir()
    for case in BROKEN:
        (folder / case.name).write_text(textwrap.dedent(case.source).lstrip("\n"))
    for name, source in GOOD.items():
        (folder / name).write_text(textwrap.dedent(source).lstrip("\n"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "path", list(sys.path))
        bag = DagBag(folder, import_timeout=0.5)
    return folder.resolve(), bag


def test_every_broken_file_is_an_import_error_and_the_others_load(broken_bag):
    folder, bag = broken_bag
    assert sorted(bag.import_errors) == sorted(str(folder / case.name) for case in BROKEN)
    assert bag.dag_ids == ["first_dag", "last_dag"]


@pytest.mark.parametrize("case", BROKEN, ids=[case.name for case in BROKEN])
def test_import_error_points_at_the_file_and_line_and_says_why(broken_bag, case):
    folder, bag = broken_bag
    error = bag.import_errors[str(folder / case.name)]
    assert error.filename == str(folder / case.name)
    assert error.line == case.line
    assert case.message in error.message
    assert error.summary().startswith(f"{folder / case.name}:{case.line}: ")


def test_import_error_traceback_starts_in_the_dag_file(broken_bag):
    folder, bag = broken_bag
    error = bag.import_errors[str(folder / "raises_in_function.py")]
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert f'File "{folder / "raises_in_function.py"}", line 5' in error.traceback
    assert "dagbag.py" not in error.traceback
    assert error.traceback.rstrip().endswith("KeyError: 'region'")


def test_a_good_file_loaded_after_a_timed_out_file_works(broken_bag):
    folder, bag = broken_bag
    last = bag.get_dag("last_dag")
    assert last.fileloc == str(folder / "zz_last.py")
    assert last.test().xcom("hello") == "hello"


STOPPED_WHILE_PARSED = """
import os, signal
from dagflow import DAG

if not os.environ.get("DAGFLOW_TEST_PARSED_ONCE"):
    os.environ["DAGFLOW_TEST_PARSED_ONCE"] = "1"
    os.kill(os.getpid(), signal.SIGUSR1)  # the stop signal, landing while the file is parsed

with DAG("stopped_while_parsed"):
    pass
"""


def test_a_stop_signal_that_lands_while_a_file_is_parsed_stops_the_parse_and_is_no_import_error(
    dags_folder, monkeypatch
):
    """A worker stops a try with a signal whose handler raises :class:`TaskTerminated`; landing while
    the worker parses the try's DAG file, it stops the parse, and the file is not recorded as broken:
    the same worker parses it again for the next workload (its callbacks, say) and finds its DAGs."""
    path = dags_folder.write("stopped.py", STOPPED_WHILE_PARSED)
    monkeypatch.delenv("DAGFLOW_TEST_PARSED_ONCE", raising=False)

    def stop(signum, frame):
        raise TaskTerminated("stopped: its task instance was changed while it ran")

    previous = signal.signal(signal.SIGUSR1, stop)
    try:
        with pytest.raises(TaskTerminated):  # not kept as the file's import error
            DagBag(path, sys_path_root=dags_folder.path)
        bag = DagBag(path, sys_path_root=dags_folder.path)
        assert bag.import_errors == {}
        assert list(bag.dags) == ["stopped_while_parsed"]
    finally:
        signal.signal(signal.SIGUSR1, previous)


# -- discovery -----------------------------------------------------------------------------------------


EMPTY_DAG = """
from dagflow import DAG

with DAG({dag_id!r}):
    pass
"""

RAISES = 'raise RuntimeError("this file should never be imported")\n'


def test_dag_files_are_found_in_sub_folders(dags_folder):
    dags_folder.write("top.py", EMPTY_DAG.format(dag_id="top"))
    dags_folder.write("team/a/deep.py", EMPTY_DAG.format(dag_id="deep"))
    dags_folder.write("team/notes.txt", RAISES)
    dags_folder.write("team/query.sql", RAISES)
    bag = DagBag(dags_folder.path)
    assert bag.dag_ids == ["deep", "top"]
    assert bag.import_errors == {}
    assert bag.get_dag("deep").fileloc == str(dags_folder.path / "team/a/deep.py")


def test_dagflowignore_patterns_skip_files_and_folders(dags_folder):
    dags_folder.write(".dagflowignore", "# scratch work\nscratch_*.py\nvendored/\n!scratch_keep.py\n")
    dags_folder.write("scratch_1.py", RAISES)
    dags_folder.write("scratch_keep.py", EMPTY_DAG.format(dag_id="kept"))
    dags_folder.write("vendored/lib.py", RAISES)
    dags_folder.write("team/scratch_2.py", RAISES)
    dags_folder.write("real.py", EMPTY_DAG.format(dag_id="real"))
    bag = DagBag(dags_folder.path)
    assert bag.import_errors == {}
    assert bag.dag_ids == ["kept", "real"]


def test_nested_dagflowignore_applies_to_its_own_folder_only(dags_folder):
    dags_folder.write("team/.dagflowignore", "draft_*.py\nprivate/\n")
    dags_folder.write("team/draft_1.py", RAISES)
    dags_folder.write("team/private/secret.py", RAISES)
    dags_folder.write("team/published.py", EMPTY_DAG.format(dag_id="published"))
    dags_folder.write("draft_top.py", EMPTY_DAG.format(dag_id="draft_top"))
    dags_folder.write("other/private/shared.py", EMPTY_DAG.format(dag_id="shared"))
    bag = DagBag(dags_folder.path)
    assert bag.import_errors == {}
    assert bag.dag_ids == ["draft_top", "published", "shared"]


def test_a_dag_file_can_import_a_helper_module_beside_it(dags_folder):
    dags_folder.write(
        "dagbag_helper_for_test.py",
        """
        from dagflow.operators import EmptyOperator

        def make(task_id):
            return EmptyOperator(task_id=task_id)
        """,
    )
    dags_folder.write(
        "uses_helper.py",
        """
        from dagflow import DAG
        from dagbag_helper_for_test import make

        with DAG("uses_helper"):
            make("a") >> make("b")
        """,
    )
    bag = DagBag(dags_folder.path)
    assert bag.import_errors == {}
    assert bag.dag_ids == ["uses_helper"]
    assert bag.get_dag("uses_helper").task_ids == ["a", "b"]
    assert bag.file_dags[str(dags_folder.path / "dagbag_helper_for_test.py")] == []


def test_a_dag_that_is_not_assigned_to_a_name_is_found(dags_folder):
    dags_folder.write(
        "unassigned.py",
        """
        from dagflow import DAG, dag, task

        with DAG("with_statement"):
            pass

        @dag
        def decorated():
            @task
            def t():
                return 1

            t()

        decorated()
        """,
    )
    bag = DagBag(dags_folder.path)
    assert bag.dag_ids == ["decorated", "with_statement"]
    assert bag.get_dag("decorated").task_ids == ["t"]


def test_a_file_that_fails_after_defining_a_dag_contributes_no_dag(dags_folder):
    dags_folder.write(
        "half.py",
        """
        from dagflow import DAG

        with DAG("half"):
            pass

        raise RuntimeError("after the DAG")
        """,
    )
    bag = DagBag(dags_folder.path)
    assert bag.dag_ids == []
    assert bag.import_errors[str(dags_folder.path / "half.py")].line == 6


def test_the_second_file_defining_a_dag_id_gets_the_import_error(dags_folder):
    first = dags_folder.write("a_first.py", EMPTY_DAG.format(dag_id="same"))
    second = dags_folder.write("b_second.py", EMPTY_DAG.format(dag_id="same"))
    bag = DagBag(dags_folder.path)
    assert bag.get_dag("same").fileloc == str(first)
    assert list(bag.import_errors) == [str(second)]
    error = bag.import_errors[str(second)]
    assert error.line == 3
    assert f"DAG id 'same' is already defined in {first}" in error.message


def test_a_file_with_a_broken_dag_keeps_its_good_dag(dags_folder):
    path = dags_folder.write(
        "two.py",
        """
        from dagflow import DAG
        from dagflow.operators import EmptyOperator

        with DAG("good_one"):
            EmptyOperator(task_id="a")

        with DAG("looping"):
            x = EmptyOperator(task_id="x")
            y = EmptyOperator(task_id="y")
            x >> y >> x
        """,
    )
    bag = DagBag(dags_folder.path)
    assert bag.dag_ids == ["good_one"]
    assert bag.file_dags[str(path)] == ["good_one"]
    error = bag.import_errors[str(path)]
    assert (error.line, error.message) == (7, "DagCycleError: DAG 'looping' has a cycle: x -> y -> x")
    assert not error.traceback.startswith("Traceback")  # no frame of the file to show: no empty header


def test_a_dagbag_can_load_a_single_file(dags_folder):
    dags_folder.write("other.py", RAISES)
    path = dags_folder.write("only.py", EMPTY_DAG.format(dag_id="only"))
    bag = DagBag(path)
    assert bag.dag_ids == ["only"]
    assert bag.import_errors == {}


def test_get_dag_of_an_unknown_id_names_the_dags_found(dags_folder):
    dags_folder.write("one.py", EMPTY_DAG.format(dag_id="one"))
    bag = DagBag(dags_folder.path)
    with pytest.raises(DagNotFound, match=r"DAG 'two' not found in .* \(DAGs found: one\)"):
        bag.get_dag("two")


def test_an_empty_or_missing_folder_has_no_dags_and_no_errors(dags_folder, tmp_path):
    for folder in (dags_folder.path, tmp_path / "does_not_exist"):
        bag = DagBag(folder)
        assert (bag.dag_ids, bag.import_errors) == ([], {})

"""``dag.test()`` end to end, with real operators: XCom, templating, Bash, branching, retries,
callbacks, dynamic mapping, task groups, setup/teardown, params and the run's final state.

Every DAG is built inside its test and run at logical date 2024-01-01T00:00:00+00:00; the
expected outcomes are Airflow 3's (see the semantics notes the package follows).
"""

from __future__ import annotations

import gc
import io
import os
import runpy
import textwrap
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dagflow import (
    DAG,
    Param,
    TaskGroup,
    TriggerRule,
    get_current_context,
    setup,
    task,
    task_group,
    teardown,
)
from dagflow import dag as dag_decorator
from dagflow.core.states import RunState
from dagflow.exceptions import FailTask, ParamValidationError, SkipTask
from dagflow.operators import (
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from dagflow.runtime.inprocess import RunResult
from dagflow.runtime.xcom import RunRef

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)
RUN_ID = "manual__2024-01-01T00:00:00+00:00"


def run(dag: DAG, **kwargs) -> RunResult:
    kwargs.setdefault("logical_date", LOGICAL_DATE)
    kwargs.setdefault("log_stream", io.StringIO())
    return dag.test(**kwargs)


def states(result: RunResult) -> dict[str, str]:
    return {ti.label: ti.state.value for ti in result.task_instances}


def error_of(result: RunResult, task_id: str) -> str:
    """The error a task instance that failed recorded."""
    error = result.get(task_id).error
    assert error is not None, f"{task_id!r} recorded no error"
    return error


def xcoms(result: RunResult) -> dict[str, object]:
    """Return values pushed, by task instance label (tasks that pushed nothing are absent)."""
    return result.report()["xcom"]


def keys_pushed(result: RunResult, task_id: str, map_index: int = -1) -> list[str]:
    return result.xcom_store.keys_of(RunRef(result.dag_id, result.run_id), task_id, map_index)


def _identity(value):
    return value


# -- XCom ----------------------------------------------------------------------------------------


def test_return_value_is_pushed_and_none_is_not():
    with DAG("xcom_return", schedule=None) as dag:

        @task
        def value():
            return {"n": 1, "items": [1, 2]}

        @task
        def nothing():
            return None

        value()
        nothing()
        PythonOperator(task_id="not_pushed", python_callable=lambda: 5, do_xcom_push=False)

    result = run(dag)
    assert states(result) == {"value": "success", "nothing": "success", "not_pushed": "success"}
    assert xcoms(result) == {"value": {"n": 1, "items": [1, 2]}}
    assert keys_pushed(result, "nothing") == []
    assert keys_pushed(result, "not_pushed") == []


def test_return_value_passes_to_downstream_task_arguments():
    with DAG("xcom_args", schedule=None) as dag:

        @task
        def produce():
            return [1, 2, 3]

        @task
        def consume(values, factor):
            return [v * factor for v in values]

        consume(produce(), factor=10)

    result = run(dag)
    assert xcoms(result)["consume"] == [10, 20, 30]


def test_multiple_outputs_pushes_each_key_and_the_whole_dict():
    with DAG("multi", schedule=None) as dag:

        @task(multiple_outputs=True)
        def pair():
            return {"x": 1, "y": "two"}

        @task
        def join(x, y):
            return f"{x}-{y}"

        out = pair()
        join(out["x"], out["y"])

    result = run(dag)
    assert keys_pushed(result, "pair") == ["return_value", "x", "y"]
    assert result.xcom("pair", key="y") == "two"
    assert xcoms(result) == {"pair": {"x": 1, "y": "two"}, "join": "1-two"}


def test_multiple_outputs_with_a_non_dict_result_fails_the_task():
    with DAG("multi_not_dict", schedule=None) as dag:

        @task(multiple_outputs=True)
        def pair():
            return [1, 2]

        pair()

    assert states(run(dag)) == {"pair": "failed"}


def test_multiple_outputs_is_inferred_from_a_dict_return_annotation():
    with DAG("multi_inferred", schedule=None) as dag:

        @task
        def pair() -> dict[str, int]:
            return {"x": 1}

        pair()

    result = run(dag)
    assert result.xcom("pair", key="x") == 1


def test_output_key_on_a_task_without_multiple_outputs_fails_with_xcom_not_found():
    with DAG("output_key", schedule=None) as dag:

        @task
        def produce():
            return {"k": 1}

        @task
        def consume(k):
            return k

        consume(produce()["k"])

    result = run(dag)
    assert states(result) == {"produce": "success", "consume": "failed"}
    assert "XComNotFound" in error_of(result, "consume")
    assert result.state is RunState.FAILED


def test_output_key_reads_a_key_the_task_pushed_itself():
    with DAG("output_custom_key", schedule=None) as dag:

        @task
        def pusher(ti=None):
            ti.xcom_push(key="custom", value=42)

        @task
        def consume(value):
            return value

        consume(pusher()["custom"])

    assert xcoms(run(dag)) == {"consume": 42}


def test_missing_key_of_a_multiple_outputs_task_resolves_to_none():
    with DAG("multi_missing", schedule=None) as dag:

        @task(multiple_outputs=True)
        def pair():
            return {"x": 1}

        @task
        def consume(value):
            return value is None

        consume(pair()["nope"])

    assert xcoms(run(dag))["consume"] is True


def test_argument_from_a_skipped_upstream_resolves_to_none():
    with DAG("from_skipped", schedule=None) as dag:

        @task
        def skipper():
            raise SkipTask("nothing to do")

        @task(trigger_rule=TriggerRule.ALL_DONE)
        def consume(value):
            return value is None

        consume(skipper())

    result = run(dag)
    assert states(result) == {"skipper": "skipped", "consume": "success"}
    assert xcoms(result)["consume"] is True


def test_xcom_pull_by_task_id_list_and_key():
    with DAG("xcom_pull", schedule=None) as dag:

        @task
        def a():
            return "from_a"

        @task
        def silent(ti=None):
            ti.xcom_push(key="custom", value=7)

        @task
        def puller(ti=None):
            return {
                "single": ti.xcom_pull(task_ids="a"),
                "list": ti.xcom_pull(task_ids=["a", "silent"]),
                "custom": ti.xcom_pull(task_ids="silent", key="custom"),
                "nothing": ti.xcom_pull(task_ids="silent"),
                "missing_key": ti.xcom_pull(task_ids="a", key="nope"),
            }

        [a(), silent()] >> puller()

    assert xcoms(run(dag))["puller"] == {
        "single": "from_a",
        "list": ["from_a", None],
        "custom": 7,
        "nothing": None,
        "missing_key": None,
    }


def test_xcom_pull_from_a_mapped_task_gives_the_list_and_map_indexes_select():
    with DAG("xcom_pull_mapped", schedule=None) as dag:

        @task
        def square(x):
            return x * x

        @task
        def puller(ti=None):
            return {
                "all": ti.xcom_pull(task_ids="square"),
                "one": ti.xcom_pull(task_ids="square", map_indexes=1),
                "some": ti.xcom_pull(task_ids="square", map_indexes=[2, 0]),
                "absent": ti.xcom_pull(task_ids="square", map_indexes=[7], default="dflt"),
            }

        square.expand(x=[1, 2, 3]) >> puller()

    assert xcoms(run(dag))["puller"] == {"all": [1, 4, 9], "one": 4, "some": [9, 1], "absent": ["dflt"]}


def test_xcom_pull_from_a_mapped_task_with_one_instance_gives_the_bare_value():
    # Airflow's xcom_pull returns the single value found rather than a one-item list.
    with DAG("xcom_pull_single_mapped", schedule=None) as dag:

        @task
        def only(x):
            return x

        @task
        def puller(values, ti=None):
            return [ti.xcom_pull(task_ids="only"), list(values)]

        puller(only.expand(x=[7]))

    assert run(dag).xcom("puller") == [7, [7]]


def test_mapped_output_as_an_argument_is_the_list_of_values_without_nones():
    with DAG("mapped_output_arg", schedule=None) as dag:

        @task
        def maybe(x):
            return None if x == 2 else x * 10

        @task
        def collect(values):
            return list(values)

        collect(maybe.expand(x=[1, 2, 3]))

    result = run(dag)
    assert xcoms(result)["collect"] == [10, 30]


def test_value_that_cannot_be_stored_fails_the_task_naming_it_and_the_type():
    with DAG("not_json", schedule=None) as dag:

        @task
        def returns_object():
            return object()

        @task
        def pushes_bytes(ti=None):
            ti.xcom_push(key="s", value={"raw": b"x"})

        returns_object()
        pushes_bytes()

    result = run(dag)
    assert states(result) == {"returns_object": "failed", "pushes_bytes": "failed"}
    for task_id, type_name in (("returns_object", "builtins.object"), ("pushes_bytes", "builtins.bytes")):
        error = error_of(result, task_id)
        assert task_id in error
        assert f"of type {type_name}, which cannot be stored as an XCom" in error


# -- templating ----------------------------------------------------------------------------------


def test_bash_command_renders_the_template_context():
    with DAG("bash_ctx", schedule=None, params={"x": "px", "n": 3}) as dag:
        BashOperator(
            task_id="render",
            bash_command=(
                "echo '{{ ds }}|{{ ds_nodash }}|{{ ts }}|{{ ts_nodash }}|{{ run_id }}|{{ params.x }}|"
                "{{ params.n + 1 }}|{{ dag.dag_id }}|{{ task.task_id }}|{{ ti.task_id }}'"
            ),
        )

    result = run(dag)
    assert result.xcom("render") == (
        f"2024-01-01|20240101|2024-01-01T00:00:00+00:00|20240101T000000|{RUN_ID}|px|4|bash_ctx|render|render"
    )


def test_bash_command_leaves_no_file_open():
    with DAG("bash_files", schedule=None) as dag:
        BashOperator(task_id="echo", bash_command="echo one; echo two")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = run(dag)
        gc.collect()  # an unclosed pipe warns when it is collected
    assert result.xcom("echo") == "two"
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_run_id_is_manual_with_the_iso_logical_date():
    with DAG("run_id", schedule=None) as dag:
        EmptyOperator(task_id="e")

    result = run(dag, logical_date=datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC))
    assert result.run_id == "manual__2024-03-05T06:07:08+00:00"


def test_templates_can_pull_xcoms_and_call_macros():
    with DAG("macros", schedule=None) as dag:

        @task
        def a():
            return "from_a"

        render = BashOperator(
            task_id="render",
            bash_command=(
                "echo \"{{ ti.xcom_pull(task_ids='a') }} {{ macros.ds_add(ds, 5) }} "
                "{{ macros.ds_add(ds, -1) }} {{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}\""
            ),
        )
        a() >> render

    assert run(dag).xcom("render") == "from_a 2024-01-06 2023-12-31 01/01/2024"


def test_env_is_templated():
    with DAG("env_tpl", schedule=None, params={"x": "px"}) as dag:
        BashOperator(
            task_id="echo_env",
            bash_command='echo "$MY_VAR"',
            env={"MY_VAR": "{{ ds }}-{{ params.x }}"},
        )

    assert run(dag).xcom("echo_env") == "2024-01-01-px"


def test_python_operator_renders_op_args_op_kwargs_and_templates_dict():
    def show(first, templates_dict=None, when=None):
        return [first, when, templates_dict]

    with DAG("py_tpl", schedule=None, params={"who": "px"}) as dag:
        PythonOperator(
            task_id="show",
            python_callable=show,
            op_args=["{{ ds }}"],
            op_kwargs={"when": "{{ ts }}"},
            templates_dict={"run": "{{ run_id }}", "who": "{{ params.who | upper }}"},
        )

    assert run(dag).xcom("show") == [
        "2024-01-01",
        "2024-01-01T00:00:00+00:00",
        {"run": RUN_ID, "who": "PX"},
    ]


def test_dict_keys_are_not_rendered_only_values():
    with DAG("dict_keys", schedule=None) as dag:
        PythonOperator(task_id="show", python_callable=_identity, op_args=[{"{{ ds }}": "{{ ds }}"}])

    assert run(dag).xcom("show") == {"{{ ds }}": "2024-01-01"}


def test_a_literal_template_field_value_is_used_as_it_is():
    from dagflow.templating import literal

    with DAG("literal_value", schedule=None) as dag:
        BashOperator(task_id="braces", bash_command=literal("echo '{{ not a template }}'"))  # type: ignore[arg-type]
        PythonOperator(
            task_id="args",
            python_callable=lambda query, day: [query, day],
            op_kwargs={"query": literal("{{ ds }}.sql"), "day": "{{ ds }}"},
        )

    result = run(dag)
    assert result.xcom("braces") == "{{ not a template }}"
    assert result.xcom("args") == ["{{ ds }}.sql", "2024-01-01"]


def test_try_number_is_available_to_templates():
    with DAG("try_number_tpl", schedule=None) as dag:
        BashOperator(
            task_id="flaky",
            bash_command='echo "try {{ ti.try_number }}"; [ {{ ti.try_number }} -ge 2 ]',
            retries=1,
            retry_delay=0,
        )

    result = run(dag)
    assert result.xcom("flaky") == "try 2"
    assert result.get("flaky").try_number == 2


def test_taskflow_arguments_are_templated():
    with DAG("taskflow_tpl", schedule=None) as dag:

        @task
        def echo(value, other):
            return [value, other]

        echo("{{ ds_nodash }}", other=["{{ ds }}", 1])

    assert run(dag).xcom("echo") == ["20240101", ["2024-01-01", 1]]


def test_values_from_xcom_are_not_rendered_as_templates():
    with DAG("xcom_not_rendered", schedule=None) as dag:

        @task
        def produce():
            return "{{ ds }}"

        @task
        def consume(value, literal):
            return [value, literal]

        consume(produce(), "{{ ds }}")

    assert run(dag).xcom("consume") == ["{{ ds }}", "2024-01-01"]


def test_undefined_template_variable_fails_the_task():
    with DAG("strict", schedule=None) as dag:
        BashOperator(task_id="bad", bash_command="echo {{ no_such_name }}")

    result = run(dag)
    assert states(result) == {"bad": "failed"}
    assert "no_such_name" in error_of(result, "bad")


def test_template_rendering_errors_are_retried():
    with DAG("strict_retry", schedule=None) as dag:
        BashOperator(task_id="bad", bash_command="echo {{ no_such_name }}", retries=1, retry_delay=0)

    result = run(dag)
    assert result.get("bad").state.value == "failed"
    assert result.get("bad").try_number == 2


def test_each_run_renders_from_the_unrendered_templates():
    with DAG("rerender", schedule=None) as dag:
        BashOperator(task_id="when", bash_command="echo {{ ds }}")

    assert run(dag).xcom("when") == "2024-01-01"
    assert run(dag, logical_date=datetime(2024, 2, 2, tzinfo=UTC)).xcom("when") == "2024-02-02"


def test_an_output_in_an_f_string_becomes_an_xcom_pull_template():
    with DAG("f_string_output", schedule=None) as dag:

        @task
        def produce():
            return "hi"

        out = produce()
        echo = BashOperator(task_id="echo", bash_command=f"echo {out} there")
        out >> echo

    assert run(dag).xcom("echo") == "hi there"


def test_native_rendering_keeps_python_types():
    with DAG("native", schedule=None, params={"n": 3}, render_template_as_native_obj=True) as dag:
        PythonOperator(
            task_id="typed", python_callable=lambda v: [v, type(v).__name__], op_args=["{{ params.n + 1 }}"]
        )

    assert run(dag).xcom("typed") == [4, "int"]


def test_user_defined_macros_and_filters_and_context_names_win_over_macros():
    with DAG(
        "user_macros",
        schedule=None,
        user_defined_macros={"who": "me", "ds": "shadowed"},
        user_defined_filters={"shout": lambda s: s.upper() + "!"},
    ) as dag:
        BashOperator(
            task_id="m",
            bash_command="echo {{ who }} {{ 'x' | shout }} {{ ds }} {{ logical_date | ds_nodash }}",
        )

    assert run(dag).xcom("m") == "me X! 2024-01-01 20240101"


def test_sh_template_file_beside_the_dag_file_is_rendered_and_run(tmp_path: Path):
    (tmp_path / "script.sh").write_text('echo "script {{ ds }} {{ params.x }}"\n')
    dag_file = tmp_path / "script_dag.py"
    dag_file.write_text(
        textwrap.dedent(
            """
            from dagflow import DAG
            from dagflow.operators import BashOperator

            with DAG("script_dag", schedule=None, params={"x": "px"}) as dag:
                BashOperator(task_id="script", bash_command="script.sh")
            """
        )
    )
    dag = runpy.run_path(str(dag_file))["dag"]

    assert run(dag).xcom("script") == "script 2024-01-01 px"


def test_sh_template_file_is_found_on_template_searchpath(tmp_path: Path):
    (tmp_path / "found.bash").write_text("echo first\necho 'found {{ ds_nodash }}'\n")
    with DAG("searchpath", schedule=None, template_searchpath=str(tmp_path)) as dag:
        BashOperator(task_id="script", bash_command="found.bash")

    assert run(dag).xcom("script") == "found 20240101"


def test_missing_template_file_fails_the_task():
    with DAG("missing_script", schedule=None) as dag:
        BashOperator(task_id="script", bash_command="no_such_script.sh")

    result = run(dag)
    assert states(result) == {"script": "failed"}
    assert "no_such_script.sh" in error_of(result, "script")


# -- params and conf -----------------------------------------------------------------------------


def test_conf_overrides_params_in_templates_and_callables():
    with DAG("conf", schedule=None, params={"x": "px", "n": Param(3, type="integer")}) as dag:
        BashOperator(task_id="bash", bash_command="echo {{ params.x }}-{{ params.n }}")

        @task
        def read(params=None):
            return [params["x"], params["n"], params.get("extra")]

        read()

    result = run(dag, conf={"n": 7, "extra": "new"})
    assert result.xcom("bash") == "px-7"
    assert result.xcom("read") == ["px", 7, "new"]


def test_conf_that_breaks_a_param_schema_is_rejected_before_the_run():
    with DAG("conf_invalid", schedule=None, params={"n": Param(3, type="integer", minimum=1)}) as dag:
        EmptyOperator(task_id="e")

    with pytest.raises(ParamValidationError, match="n"):
        run(dag, conf={"n": "three"})
    with pytest.raises(ParamValidationError):
        run(dag, conf={"n": 0})


def test_a_param_without_default_needs_a_value_from_conf():
    with DAG("conf_required", schedule=None, params={"who": Param(type="string")}) as dag:
        BashOperator(task_id="hello", bash_command="echo hello {{ params.who }}")

    with pytest.raises(ParamValidationError):
        run(dag)
    assert run(dag, conf={"who": "you"}).xcom("hello") == "hello you"


def test_dag_function_arguments_are_params_that_conf_overrides():
    @dag_decorator(schedule=None)
    def with_args(x=1):
        @task
        def show(value):
            return value

        show(x)

    built = with_args()
    assert run(built).xcom("show") == 1
    assert run(built, conf={"x": 5}).xcom("show") == 5


def test_task_params_override_dag_params():
    with DAG("task_params", schedule=None, params={"x": "dag", "y": "dag"}) as dag:
        BashOperator(task_id="t", bash_command="echo {{ params.x }}-{{ params.y }}", params={"x": "task"})

    assert run(dag).xcom("t") == "task-dag"


# -- BashOperator --------------------------------------------------------------------------------


def test_bash_pushes_the_last_line_of_output_with_stderr_merged():
    with DAG("bash_output", schedule=None) as dag:
        BashOperator(task_id="lines", bash_command="echo one; echo two")
        BashOperator(task_id="stderr", bash_command="echo out; echo err >&2")

    result = run(dag)
    assert xcoms(result) == {"lines": "two", "stderr": "err"}


def test_bash_non_zero_exit_fails_the_task():
    with DAG("bash_fail", schedule=None) as dag:
        BashOperator(task_id="fail", bash_command="echo before; exit 3")

    result = run(dag)
    assert states(result) == {"fail": "failed"}
    assert "exit code 3" in error_of(result, "fail")
    assert keys_pushed(result, "fail") == []


def test_bash_exit_99_skips_the_task():
    with DAG("bash_skip", schedule=None) as dag:
        skip = BashOperator(task_id="skip", bash_command="exit 99")
        after = EmptyOperator(task_id="after")
        skip >> after

    result = run(dag)
    assert states(result) == {"skip": "skipped", "after": "skipped"}
    assert result.state is RunState.SUCCESS


def test_bash_skip_on_exit_code_can_be_changed_or_disabled():
    with DAG("bash_skip_codes", schedule=None) as dag:
        BashOperator(task_id="custom_skips", bash_command="exit 3", skip_on_exit_code=3)
        BashOperator(task_id="custom_99_fails", bash_command="exit 99", skip_on_exit_code=3)
        BashOperator(task_id="listed", bash_command="exit 2", skip_on_exit_code=[1, 2])
        BashOperator(task_id="never", bash_command="exit 99", skip_on_exit_code=None)

    assert states(run(dag)) == {
        "custom_skips": "skipped",
        "custom_99_fails": "failed",
        "listed": "skipped",
        "never": "failed",
    }


def test_bash_skip_check_comes_before_the_exit_code_check():
    with DAG("bash_skip_zero", schedule=None) as dag:
        BashOperator(task_id="zero_skips", bash_command="echo x", skip_on_exit_code=0)

    assert states(run(dag)) == {"zero_skips": "skipped"}


def test_bash_env_without_append_env_drops_the_inherited_path(monkeypatch: pytest.MonkeyPatch):
    marker = "/dagflow-test-marker-dir"
    monkeypatch.setenv("PATH", f"{marker}:{os.environ['PATH']}")
    command = f'case "$PATH" in *{marker}*) echo inherited;; *) echo dropped;; esac'
    with DAG("bash_path", schedule=None) as dag:
        BashOperator(task_id="replaced", bash_command=command, env={"MINE": "1"})
        BashOperator(task_id="appended", bash_command=command, env={"MINE": "1"}, append_env=True)

    assert xcoms(run(dag)) == {"replaced": "dropped", "appended": "inherited"}


def test_bash_env_replaces_the_environment_unless_append_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGFLOW_TEST_INHERITED", "inherited")
    command = 'echo "${DAGFLOW_TEST_INHERITED:-missing} ${MINE:-unset}"'
    with DAG("bash_env", schedule=None) as dag:
        BashOperator(task_id="replaced", bash_command=command, env={"MINE": "mine"})
        BashOperator(task_id="appended", bash_command=command, env={"MINE": "mine"}, append_env=True)
        BashOperator(task_id="inherited", bash_command=command)

    assert xcoms(run(dag)) == {
        "replaced": "missing mine",
        "appended": "inherited mine",
        "inherited": "inherited unset",
    }


def test_bash_env_has_the_airflow_context_variables_even_when_replaced():
    with DAG("bash_ctx_env", schedule=None) as dag:
        BashOperator(
            task_id="ctx",
            bash_command=(
                'echo "$AIRFLOW_CTX_DAG_ID $AIRFLOW_CTX_TASK_ID '
                '$AIRFLOW_CTX_TRY_NUMBER $AIRFLOW_CTX_DAG_RUN_ID"'
            ),
            env={"X": "1"},
        )

    assert run(dag).xcom("ctx") == f"bash_ctx_env ctx 1 {RUN_ID}"


def test_bash_runs_in_cwd_or_a_fresh_temporary_directory(tmp_path: Path):
    with DAG("bash_cwd", schedule=None) as dag:
        BashOperator(task_id="given", bash_command="pwd -P", cwd=str(tmp_path))
        BashOperator(task_id="default", bash_command="pwd -P")

    result = run(dag)
    assert result.xcom("given") == str(tmp_path.resolve())
    scratch = result.xcom("default")
    assert scratch != os.getcwd()
    assert not os.path.exists(scratch), "the temporary working directory is removed afterwards"


def test_bash_missing_cwd_fails_the_task(tmp_path: Path):
    with DAG("bash_bad_cwd", schedule=None) as dag:
        BashOperator(task_id="nowhere", bash_command="pwd", cwd=str(tmp_path / "absent"))

    result = run(dag)
    assert states(result) == {"nowhere": "failed"}
    assert "absent" in error_of(result, "nowhere")


# -- branching -----------------------------------------------------------------------------------


def test_branch_python_operator_follows_the_chosen_task_and_skips_the_others():
    with DAG("branch", schedule=None) as dag:
        choose = BranchPythonOperator(task_id="choose", python_callable=lambda: "b")
        a = PythonOperator(task_id="a", python_callable=_identity, op_args=["a"])
        after_a = PythonOperator(task_id="after_a", python_callable=_identity, op_args=["after_a"])
        b = PythonOperator(task_id="b", python_callable=_identity, op_args=["b"])
        join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        choose >> [a, b]
        a >> after_a
        [after_a, b] >> join

    result = run(dag)
    assert states(result) == {
        "choose": "success",
        "a": "skipped",
        "after_a": "skipped",
        "b": "success",
        "join": "success",
    }
    assert result.state is RunState.SUCCESS


def test_branch_pushes_no_return_value_when_it_skips():
    with DAG("branch_xcom", schedule=None) as dag:
        choose = BranchPythonOperator(task_id="choose", python_callable=lambda: "b")
        choose >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]

    result = run(dag)
    assert keys_pushed(result, "choose") == ["skipmixin_key"]
    assert result.xcom("choose", key="skipmixin_key") == {"followed": ["b"]}


def test_branch_that_skips_nothing_pushes_its_return_value():
    with DAG("branch_all", schedule=None) as dag:
        choose = BranchPythonOperator(task_id="choose", python_callable=lambda: ["a", "b"])
        choose >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]

    result = run(dag)
    assert states(result) == {"choose": "success", "a": "success", "b": "success"}
    assert result.xcom("choose") == ["a", "b"]


def test_task_branch_decorator_chooses_a_list_of_branches():
    with DAG("task_branch", schedule=None) as dag:

        @task.branch
        def choose():
            return ["a", "c"]

        choose() >> [EmptyOperator(task_id=t) for t in ("a", "b", "c")]

    assert states(run(dag)) == {"choose": "success", "a": "success", "b": "skipped", "c": "success"}


def test_branch_returning_none_skips_every_direct_downstream():
    with DAG("branch_none", schedule=None) as dag:

        @task.branch
        def choose():
            return None

        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        after = EmptyOperator(task_id="after", trigger_rule=TriggerRule.ALL_DONE)
        choose() >> [a, b]
        a >> after

    result = run(dag)
    assert states(result) == {"choose": "success", "a": "skipped", "b": "skipped", "after": "success"}


def test_a_task_downstream_of_the_chosen_branch_is_not_skipped():
    with DAG("branch_join", schedule=None) as dag:

        @task.branch
        def choose():
            return "a"

        a = EmptyOperator(task_id="a")
        join = EmptyOperator(task_id="join")
        branch = choose()
        branch >> [a, join]
        a >> join

    assert states(run(dag)) == {"choose": "success", "a": "success", "join": "success"}


def test_branch_returning_a_task_group_id_follows_the_groups_roots():
    with DAG("branch_group", schedule=None) as dag:

        @task.branch
        def choose():
            return "grp"

        with TaskGroup("grp") as grp:
            first = EmptyOperator(task_id="first")
            second = EmptyOperator(task_id="second")
            first >> second
        other = EmptyOperator(task_id="other")
        choose() >> [grp, other]

    assert states(run(dag)) == {
        "choose": "success",
        "grp.first": "success",
        "grp.second": "success",
        "other": "skipped",
    }


def test_branch_inside_a_task_group_may_name_tasks_of_its_group_without_prefix():
    with DAG("branch_relative", schedule=None) as dag, TaskGroup("grp"):
        choose = BranchPythonOperator(task_id="choose", python_callable=lambda: "a")
        choose >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]

    assert states(run(dag)) == {"grp.choose": "success", "grp.a": "success", "grp.b": "skipped"}


def test_branch_inside_a_task_group_may_name_a_nested_group_without_prefix():
    with DAG("branch_relative_group", schedule=None) as dag, TaskGroup("grp"):
        choose = BranchPythonOperator(task_id="choose", python_callable=lambda: ["inner"])
        with TaskGroup("inner") as inner:
            EmptyOperator(task_id="first")
        choose >> [inner, EmptyOperator(task_id="other")]

    assert states(run(dag)) == {
        "grp.choose": "success",
        "grp.inner.first": "success",
        "grp.other": "skipped",
    }


def test_branch_inside_an_expanded_task_group_skips_for_its_own_index_and_returns_its_choice():
    with DAG("branch_per_index", schedule=None) as dag:

        @task_group
        def per_item(item):
            @task.branch
            def route(i):
                return "per_item.big" if i > 5 else "per_item.small"

            @task(trigger_rule="none_failed_min_one_success")
            def done(i):
                return i

            route(item) >> [EmptyOperator(task_id="big"), EmptyOperator(task_id="small")] >> done(item)

        per_item.expand(item=[3, 8])

    result = run(dag)
    assert states(result) == {
        "per_item.route[0]": "success",
        "per_item.route[1]": "success",
        "per_item.big[0]": "skipped",
        "per_item.big[1]": "success",
        "per_item.small[0]": "success",
        "per_item.small[1]": "skipped",
        "per_item.done[0]": "success",
        "per_item.done[1]": "success",
    }
    assert [result.xcom("per_item.route", i) for i in (0, 1)] == ["per_item.small", "per_item.big"]


def test_short_circuit_inside_an_expanded_task_group_skips_its_index_of_the_next_task():
    with DAG("short_circuit_per_index", schedule=None) as dag:

        @task_group
        def per_item(item):
            @task.short_circuit
            def worth_it(i):
                return i > 5

            @task
            def work(i):
                return i

            @task(trigger_rule="all_done")
            def audit(i):
                return i

            work(worth_it(item)) >> audit(item)

        per_item.expand(item=[3, 8])

    # the index's direct downstream is skipped; what follows it goes by its trigger rule
    assert states(run(dag)) == {
        "per_item.worth_it[0]": "success",
        "per_item.worth_it[1]": "success",
        "per_item.work[0]": "skipped",
        "per_item.work[1]": "success",
        "per_item.audit[0]": "success",
        "per_item.audit[1]": "success",
    }


def test_branch_returning_an_unknown_task_id_fails():
    with DAG("branch_unknown", schedule=None) as dag:

        @task.branch
        def choose():
            return "nope"

        choose() >> EmptyOperator(task_id="a")

    result = run(dag)
    assert states(result) == {"choose": "failed", "a": "upstream_failed"}
    assert "nope" in error_of(result, "choose")


# -- short circuit -------------------------------------------------------------------------------


def test_short_circuit_with_a_truthy_result_continues_and_pushes_it():
    with DAG("sc_true", schedule=None) as dag:
        sc = ShortCircuitOperator(task_id="sc", python_callable=lambda: "yes")
        sc >> EmptyOperator(task_id="direct") >> EmptyOperator(task_id="grand")

    result = run(dag)
    assert states(result) == {"sc": "success", "direct": "success", "grand": "success"}
    assert result.xcom("sc") == "yes"


def test_short_circuit_ignoring_trigger_rules_skips_everything_downstream():
    with DAG("sc_ignore", schedule=None) as dag:
        sc = ShortCircuitOperator(task_id="sc", python_callable=lambda: 0)
        direct = EmptyOperator(task_id="direct")
        sc >> direct >> EmptyOperator(task_id="grand_all_done", trigger_rule=TriggerRule.ALL_DONE)

    result = run(dag)
    assert states(result) == {"sc": "success", "direct": "skipped", "grand_all_done": "skipped"}
    assert keys_pushed(result, "sc") == ["skipmixin_key"]


def test_short_circuit_respecting_trigger_rules_skips_only_direct_downstream():
    with DAG("sc_respect", schedule=None) as dag:

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def sc():
            return False

        direct = EmptyOperator(task_id="direct")
        sc() >> direct
        direct >> [
            EmptyOperator(task_id="grand_all_success"),
            EmptyOperator(task_id="grand_all_done", trigger_rule=TriggerRule.ALL_DONE),
            EmptyOperator(task_id="grand_none_failed", trigger_rule=TriggerRule.NONE_FAILED),
        ]

    assert states(run(dag)) == {
        "sc": "success",
        "direct": "skipped",
        "grand_all_success": "skipped",
        "grand_all_done": "success",
        "grand_none_failed": "success",
    }


def test_short_circuit_does_not_skip_teardowns():
    with DAG("sc_teardown", schedule=None) as dag:
        sc = ShortCircuitOperator(task_id="sc", python_callable=lambda: False)
        work = EmptyOperator(task_id="work")
        cleanup = EmptyOperator(task_id="cleanup")
        sc >> work >> cleanup
        cleanup.as_teardown()

    assert states(run(dag)) == {"sc": "success", "work": "skipped", "cleanup": "success"}


def test_falsy_short_circuit_with_only_teardowns_downstream_skips_nothing_and_pushes_its_result():
    with DAG("sc_only_teardown", schedule=None) as dag:
        sc = ShortCircuitOperator(task_id="sc", python_callable=lambda: False)
        cleanup = EmptyOperator(task_id="cleanup")
        sc >> cleanup
        cleanup.as_teardown()

    result = run(dag)
    assert states(result) == {"sc": "success", "cleanup": "success"}
    assert result.xcom("sc") is False


# -- retries, skips, timeouts --------------------------------------------------------------------


def test_failed_tries_are_retried_with_increasing_try_numbers():
    with DAG("retries", schedule=None, default_args={"retry_delay": timedelta(0)}) as dag:

        @task(retries=2)
        def flaky(ti=None):
            if ti.try_number < 3:
                raise RuntimeError(f"transient failure on try {ti.try_number}")
            return f"ok on try {ti.try_number}"

        @task(retries=1)
        def always_fails():
            raise RuntimeError("permanent")

        flaky()
        always_fails()

    result = run(dag)
    assert states(result) == {"flaky": "success", "always_fails": "failed"}
    assert result.get("flaky").try_number == 3
    assert result.get("always_fails").try_number == 2
    assert result.xcom("flaky") == "ok on try 3"
    assert result.report()["tries"] == {"flaky": 3, "always_fails": 2}


def test_a_retry_waits_at_least_its_retry_delay():
    starts: list[float] = []

    with DAG("retry_delay", schedule=None) as dag:

        @task(retries=1, retry_delay=timedelta(seconds=0.2))
        def flaky(ti=None):
            starts.append(time.monotonic())
            if ti.try_number == 1:
                raise RuntimeError("first try fails")

        flaky()

    assert states(run(dag)) == {"flaky": "success"}
    assert len(starts) == 2
    assert starts[1] - starts[0] >= 0.2


def test_fail_task_does_not_retry():
    with DAG("fail_task", schedule=None) as dag:

        @task(retries=3, retry_delay=0)
        def give_up():
            raise FailTask("no point retrying")

        give_up()

    result = run(dag)
    assert states(result) == {"give_up": "failed"}
    assert result.get("give_up").try_number == 1


def test_skip_task_skips_the_task_and_its_downstream():
    with DAG("skip_task", schedule=None) as dag:

        @task(retries=2)
        def skipper():
            raise SkipTask("nothing to do")

        skipper() >> EmptyOperator(task_id="after")

    result = run(dag)
    assert states(result) == {"skipper": "skipped", "after": "skipped"}
    assert result.get("skipper").try_number == 1
    assert result.state is RunState.SUCCESS


def test_execution_timeout_is_a_retryable_failure():
    with DAG("timeout", schedule=None) as dag:

        @task(retries=1, retry_delay=0, execution_timeout=timedelta(seconds=0.2))
        def slow_once(ti=None):
            if ti.try_number == 1:
                time.sleep(5)
            return "fast enough"

        @task(execution_timeout=timedelta(seconds=0.2))
        def always_slow():
            time.sleep(5)

        slow_once()
        always_slow()

    result = run(dag)
    assert states(result) == {"slow_once": "success", "always_slow": "failed"}
    assert result.get("slow_once").try_number == 2
    assert "timeout" in error_of(result, "always_slow").lower()


def test_execution_timeout_calls_on_kill():
    killed: list[str] = []

    class Slow(PythonOperator):
        def on_kill(self) -> None:
            killed.append(self.task_id)

    with DAG("timeout_kill", schedule=None) as dag:
        Slow(task_id="slow", python_callable=lambda: time.sleep(5), execution_timeout=timedelta(seconds=0.2))

    assert states(run(dag)) == {"slow": "failed"}
    assert killed == ["slow"]


# -- callbacks -----------------------------------------------------------------------------------


def test_task_callbacks_run_once_per_event():
    calls: list[tuple[str, str, int]] = []

    def record(kind):
        def callback(context):
            calls.append((kind, context["ti"].task_id, context["ti"].try_number))

        return callback

    callbacks = {
        "on_success_callback": record("success"),
        "on_failure_callback": record("failure"),
        "on_retry_callback": record("retry"),
        "on_skipped_callback": record("skipped"),
        "on_execute_callback": record("execute"),
    }
    with DAG("callbacks", schedule=None, default_args={"retry_delay": 0, **callbacks}) as dag:

        @task
        def ok():
            return 1

        @task(retries=2)
        def bad():
            raise RuntimeError("boom")

        @task
        def skipper():
            raise SkipTask()

        ok()
        bad()
        skipper()

    run(dag)
    assert sorted(calls) == sorted(
        [
            ("execute", "ok", 1),
            ("execute", "bad", 1),
            ("execute", "bad", 2),
            ("execute", "bad", 3),
            ("execute", "skipper", 1),
            ("success", "ok", 1),
            ("retry", "bad", 1),
            ("retry", "bad", 2),
            ("failure", "bad", 3),
            ("skipped", "skipper", 1),
        ]
    )


def test_failure_callback_sees_the_exception():
    seen: list[BaseException] = []

    with DAG("callback_exception", schedule=None) as dag:

        @task(on_failure_callback=lambda context: seen.append(context["exception"]))
        def bad():
            raise ValueError("the reason")

        bad()

    run(dag)
    assert len(seen) == 1
    assert isinstance(seen[0], ValueError)


def test_a_failing_callback_does_not_change_the_task_state():
    def broken(context):
        raise RuntimeError("callback bug")

    with DAG("callback_broken", schedule=None) as dag:
        PythonOperator(task_id="ok", python_callable=lambda: 1, on_success_callback=broken)

    result = run(dag)
    assert states(result) == {"ok": "success"}
    assert result.state is RunState.SUCCESS


def test_empty_operator_with_a_callback_runs_it():
    calls: list[str] = []
    with DAG("empty_callback", schedule=None) as dag:
        EmptyOperator(task_id="e", on_success_callback=lambda context: calls.append(context["ti"].task_id))

    assert states(run(dag)) == {"e": "success"}
    assert calls == ["e"]


@pytest.mark.parametrize(
    ("fails", "expected"), [(False, [("success", "success")]), (True, [("task_failure", "failed")])]
)
def test_dag_callbacks_run_once_with_the_runs_outcome(fails, expected):
    success: list[tuple[str, str]] = []
    failure: list[tuple[str, str]] = []
    during: list[str] = []

    def work():
        during.append(get_current_context()["dag_run"].state)
        if fails:
            raise RuntimeError("boom")

    with DAG(
        "dag_callbacks",
        schedule=None,
        on_success_callback=lambda context: success.append((context["reason"], context["dag_run"].state)),
        on_failure_callback=lambda context: failure.append((context["reason"], context["dag_run"].state)),
    ) as dag:
        PythonOperator(task_id="work", python_callable=work)

    run(dag)
    assert (failure if fails else success) == expected
    assert (success if fails else failure) == []
    assert during == ["running"]  # the run's state while its task runs


# -- the context ---------------------------------------------------------------------------------


def test_get_current_context_inside_a_task():
    with DAG("current_context", schedule=None) as dag:

        @task
        def inspect_context():
            context = get_current_context()
            return [context["ti"].task_id, context["ds"], context["run_id"], context["dag"].dag_id]

        inspect_context()

    assert run(dag).xcom("inspect_context") == ["inspect_context", "2024-01-01", RUN_ID, "current_context"]


def test_get_current_context_outside_a_task_raises():
    with pytest.raises(RuntimeError):
        get_current_context()


def test_callable_gets_the_context_names_it_declares_or_all_with_kwargs():
    def declared(ds, ti, params):
        return [ds, ti.task_id, params]

    def everything(**kwargs):
        return sorted(k for k in ("ds", "ti", "dag_run", "task", "run_id", "macros") if k in kwargs)

    with DAG("callable_ctx", schedule=None, params={"p": 1}) as dag:
        PythonOperator(task_id="declared", python_callable=declared)
        PythonOperator(task_id="everything", python_callable=everything)

    result = run(dag)
    assert result.xcom("declared") == ["2024-01-01", "declared", {"p": 1}]
    assert result.xcom("everything") == ["dag_run", "ds", "macros", "run_id", "task", "ti"]


def test_positional_argument_named_like_a_context_key_fails_the_task():
    def takes_ds(ds):
        return ds

    with DAG("positional_ctx", schedule=None) as dag:
        PythonOperator(task_id="clash", python_callable=takes_ds, op_args=["mine"])

    assert states(run(dag)) == {"clash": "failed"}


# -- dynamic task mapping ------------------------------------------------------------------------


def test_expand_over_a_literal_list_gives_one_instance_per_value():
    with DAG("map_literal", schedule=None) as dag:

        @task
        def double(x, ti=None):
            return [ti.map_index, 2 * x]

        double.expand(x=[1, 2, 3])

    result = run(dag)
    assert states(result) == {"double[0]": "success", "double[1]": "success", "double[2]": "success"}
    assert [result.xcom("double", i) for i in range(3)] == [[0, 2], [1, 4], [2, 6]]


def test_map_index_template_labels_each_mapped_instance_from_its_arguments_or_its_context():
    with DAG("map_labels", schedule=None) as dag:
        PythonOperator.partial(
            task_id="greet", python_callable=_identity, map_index_template="{{ task.op_kwargs['value'] }}"
        ).expand(op_kwargs=[{"value": "paris"}, {"value": "oslo"}])

        @task(map_index_template="{{ city_label }}")
        def visit(city):
            get_current_context()["city_label"] = f"city {city.upper()}"
            if city == "rome":
                raise ValueError("closed")  # the label set before the failure is still rendered

        visit.expand(city=["lima", "rome"])

        @task
        def plain(x):
            return x

        plain.expand(x=[1])
        EmptyOperator(task_id="unmapped", map_index_template="{{ 'never' }}")

    result = run(dag)
    labels = {ti.label: ti.rendered_map_index for ti in result.task_instances}
    assert labels == {
        "greet[0]": "paris",
        "greet[1]": "oslo",
        "visit[0]": "city LIMA",
        "visit[1]": "city ROME",
        "plain[0]": None,
        "unmapped": None,
    }
    assert result.get("visit", 1).state.value == "failed"


def test_a_map_index_template_that_fails_to_render_leaves_the_index_and_the_task_succeeds():
    with DAG("map_bad_label", schedule=None) as dag:

        @task(map_index_template="{{ missing.attribute }}")
        def work(x):
            return x

        work.expand(x=[1])

    log = io.StringIO()
    result = run(dag, log_stream=log)
    assert result.get("work", 0).state.value == "success"
    assert result.get("work", 0).rendered_map_index is None
    assert "map_index_template '{{ missing.attribute }}' could not be rendered" in log.getvalue()


def test_partial_arguments_are_shared_by_every_map_index():
    with DAG("map_partial", schedule=None) as dag:

        @task
        def add(x, y):
            return x + y

        @task
        def collect(values):
            return sorted(values)

        collect(add.partial(y=100).expand(x=[1, 2, 3]))

    assert run(dag).xcom("collect") == [101, 102, 103]


def test_expanding_several_arguments_gives_the_cross_product_last_varying_fastest():
    with DAG("map_product", schedule=None) as dag:

        @task
        def combine(a, b):
            return f"{a}{b}"

        combine.expand(a=[1, 2], b=["x", "y", "z"])

    result = run(dag)
    assert [result.xcom("combine", i) for i in range(6)] == ["1x", "1y", "1z", "2x", "2y", "2z"]


def test_expanding_a_dict_gives_key_value_pairs():
    with DAG("map_dict", schedule=None) as dag:

        @task
        def show(pair):
            key, value = pair
            return f"{key}={value}"

        show.expand(pair={"a": 1, "b": 2})

    result = run(dag)
    assert [result.xcom("show", i) for i in range(2)] == ["a=1", "b=2"]


def test_expanding_an_upstreams_dict_gives_its_key_value_pairs():
    with DAG("map_upstream_dict", schedule=None) as dag:

        @task
        def make():
            return {"a": 1, "b": 2}

        @task
        def show(pair):
            return f"{pair[0]}={pair[1]}"

        show.expand(pair=make())

    result = run(dag)
    assert [result.xcom("show", i) for i in range(2)] == ["a=1", "b=2"]


def test_an_expanded_argument_overrides_the_same_partial_argument():
    with DAG("map_partial_override", schedule=None) as dag:

        @task
        def add(x, y):
            return x + y

        add.partial(x=1, y=10).expand(x=[5])

    assert run(dag).xcom("add", 0) == 15


def test_expand_kwargs_gives_one_instance_per_dict():
    with DAG("map_kwargs", schedule=None) as dag:

        @task
        def make():
            return [{"a": 5, "b": 6}]

        @task
        def add(a, b):
            return a + b

        add.expand_kwargs([{"a": 1, "b": 2}, {"a": 3, "b": 4}])
        add.expand_kwargs(make())

    result = run(dag)
    assert xcoms(result) == {"make": [{"a": 5, "b": 6}], "add[0]": 3, "add[1]": 7, "add__1[0]": 11}


def test_mapping_over_an_upstreams_output():
    with DAG("map_upstream", schedule=None) as dag:

        @task
        def make_list():
            return [1, 2, 3, 4]

        @task
        def double(x):
            return 2 * x

        @task
        def total(values):
            return sum(values)

        total(double.expand(x=make_list()))

    result = run(dag)
    assert states(result)["double[3]"] == "success"
    assert "double[4]" not in states(result)
    assert result.xcom("total") == 20


def test_mapping_over_a_mapped_tasks_output():
    with DAG("map_chain", schedule=None) as dag:

        @task
        def add_one(x):
            return x + 1

        @task
        def square(x):
            return x * x

        square.expand(x=add_one.expand(x=[1, 2, 3]))

    result = run(dag)
    assert [result.xcom("square", i) for i in range(3)] == [4, 9, 16]


def test_a_mapped_upstream_index_that_returned_none_shrinks_the_next_expansion():
    with DAG("map_chain_none", schedule=None) as dag:

        @task
        def add_one(x):
            return None if x == 2 else x + 1

        @task
        def square(x):
            return x * x

        square.expand(x=add_one.expand(x=[1, 2, 3]))

    result = run(dag)
    assert [ti.label for ti in result.task_instances if ti.task_id == "square"] == ["square[0]", "square[1]"]
    assert [result.xcom("square", i) for i in range(2)] == [4, 16]


def test_map_indexes_retry_and_skip_independently():
    with DAG("map_retries", schedule=None) as dag:

        @task(retries=1, retry_delay=0)
        def work(x, ti=None):
            if x == "flaky" and ti.try_number == 1:
                raise RuntimeError("first try")
            if x == "skip":
                raise SkipTask()
            return x

        work.expand(x=["flaky", "ok", "skip"])

    result = run(dag)
    assert states(result) == {"work[0]": "success", "work[1]": "success", "work[2]": "skipped"}
    assert [result.get("work", i).try_number for i in range(3)] == [2, 1, 1]
    assert result.state is RunState.SUCCESS


@pytest.mark.parametrize("source", ["literal", "upstream"])
def test_mapping_over_an_empty_list_skips_the_mapped_task(source):
    with DAG("map_empty", schedule=None) as dag:

        @task
        def make():
            return []

        @task
        def double(x):
            return 2 * x

        @task
        def total(values):
            return sum(values)

        total(double.expand(x=[] if source == "literal" else make()))

    result = run(dag)
    assert states(result)["double"] == "skipped"
    assert states(result)["total"] == "skipped"
    assert result.state is RunState.SUCCESS


@pytest.mark.parametrize("returned", [5, "abc", None])
def test_upstream_returning_something_unmappable_fails_and_the_mapped_task_is_upstream_failed(returned):
    with DAG("map_bad_upstream", schedule=None) as dag:

        @task
        def make():
            return returned

        @task
        def double(x):
            return 2 * x

        double.expand(x=make())

    result = run(dag)
    assert states(result) == {"make": "failed", "double": "upstream_failed"}
    assert "mapped" in error_of(result, "make")
    assert result.state is RunState.FAILED


def test_one_failed_map_index_fails_an_all_success_downstream():
    with DAG("map_one_fails", schedule=None) as dag:

        @task
        def check(x):
            if x == 2:
                raise ValueError("bad value")
            return x

        @task
        def collect(values):
            return list(values)

        @task(trigger_rule=TriggerRule.ALL_DONE)
        def report(values):
            return list(values)

        checked = check.expand(x=[1, 2, 3])
        collect(checked)
        report(checked)

    result = run(dag)
    assert states(result) == {
        "check[0]": "success",
        "check[1]": "failed",
        "check[2]": "success",
        "collect": "upstream_failed",
        "report": "success",
    }
    assert result.xcom("report") == [1, 3]


def test_classic_python_operator_mapped_over_op_args():
    def square(v):
        return v * v

    with DAG("map_classic", schedule=None) as dag:
        PythonOperator.partial(task_id="classic_square", python_callable=square).expand(op_args=[[5], [6]])

    result = run(dag)
    assert [result.xcom("classic_square", i) for i in range(2)] == [25, 36]


def test_bash_operator_mapped_over_commands_renders_literal_templates():
    with DAG("map_bash", schedule=None) as dag:
        BashOperator.partial(task_id="bash_mapped").expand(
            bash_command=["echo first", "echo second {{ ds }}"]
        )

    result = run(dag)
    assert [result.xcom("bash_mapped", i) for i in range(2)] == ["first", "second 2024-01-01"]


def test_mapped_values_from_xcom_are_not_rendered():
    with DAG("map_xcom_not_rendered", schedule=None) as dag:

        @task
        def commands():
            return ["echo '{{ ds }}'"]

        BashOperator.partial(task_id="bash_mapped").expand(bash_command=commands())

    assert run(dag).xcom("bash_mapped", 0) == "{{ ds }}"


# -- task groups ---------------------------------------------------------------------------------


def test_task_group_ids_are_prefixed_and_groups_depend_on_groups():
    with DAG("groups", schedule=None) as dag:

        @task
        def fetch_a():
            return [1, 2]

        @task
        def fetch_b():
            return [10]

        @task
        def combine(ti=None):
            return ti.xcom_pull(task_ids="extract.fetch_a") + ti.xcom_pull(task_ids="extract.fetch_b")

        @task
        def check(ti=None):
            return sum(ti.xcom_pull(task_ids="transform.combine"))

        with TaskGroup("extract") as extract:
            fetch_a()
            fetch_b()
        with TaskGroup("transform") as transform:
            c = combine()
            with TaskGroup("validate") as validate:
                check()
            c >> validate
        extract >> transform

    assert sorted(dag.task_dict) == [
        "extract.fetch_a",
        "extract.fetch_b",
        "transform.combine",
        "transform.validate.check",
    ]
    assert dag.task_dict["transform.combine"].upstream_task_ids == {"extract.fetch_a", "extract.fetch_b"}
    assert dag.task_dict["transform.validate.check"].upstream_task_ids == {"transform.combine"}
    result = run(dag)
    assert result.state is RunState.SUCCESS
    assert result.xcom("transform.validate.check") == 13


def test_task_group_decorator_called_twice_gets_a_suffixed_group():
    with DAG("group_decorator", schedule=None) as dag:

        @task
        def work(n):
            return n

        @task_group
        def stage(n):
            work(n)

        stage(1)
        stage(2)

    result = run(dag)
    assert xcoms(result) == {"stage.work": 1, "stage__1.work": 2}


# -- setup and teardown --------------------------------------------------------------------------


def _setup_work_teardown(work_fails=False, teardown_fails=False, setup_outcome="ok", fail_dagrun=False):
    def outcome(kind):
        def run_it():
            if kind == "fail":
                raise RuntimeError("deliberate")
            if kind == "skip":
                raise SkipTask("deliberate")
            return kind

        return run_it

    with DAG("setup_teardown", schedule=None) as dag:
        create = PythonOperator(task_id="create", python_callable=outcome(setup_outcome))
        work = PythonOperator(task_id="work", python_callable=outcome("fail" if work_fails else "ok"))
        more = EmptyOperator(task_id="more")
        delete = PythonOperator(task_id="delete", python_callable=outcome("fail" if teardown_fails else "ok"))
        create >> work >> more >> delete
        delete.as_teardown(setups=create, on_failure_fail_dagrun=fail_dagrun)
    return run(dag)


def test_teardown_runs_after_the_work_failed_and_the_run_fails():
    result = _setup_work_teardown(work_fails=True)
    assert states(result) == {
        "create": "success",
        "work": "failed",
        "more": "upstream_failed",
        "delete": "success",
    }
    assert result.state is RunState.FAILED


def test_a_failed_teardown_does_not_fail_the_run():
    result = _setup_work_teardown(teardown_fails=True)
    assert states(result)["delete"] == "failed"
    assert result.state is RunState.SUCCESS


def test_a_failed_teardown_fails_the_run_with_on_failure_fail_dagrun():
    result = _setup_work_teardown(teardown_fails=True, fail_dagrun=True)
    assert states(result)["delete"] == "failed"
    assert result.state is RunState.FAILED


def test_a_failed_setup_makes_its_work_and_teardown_upstream_failed():
    result = _setup_work_teardown(setup_outcome="fail")
    assert states(result) == {
        "create": "failed",
        "work": "upstream_failed",
        "more": "upstream_failed",
        "delete": "upstream_failed",
    }
    assert result.state is RunState.FAILED


def test_a_skipped_setup_skips_its_work_and_teardown():
    result = _setup_work_teardown(setup_outcome="skip")
    assert set(states(result).values()) == {"skipped"}
    assert result.state is RunState.SUCCESS


def test_an_all_done_task_in_a_failed_setups_scope_is_upstream_failed():
    with DAG("indirect_setup", schedule=None) as dag:

        @setup
        def create():
            raise RuntimeError("no resource")

        @task(trigger_rule=TriggerRule.ALL_DONE)
        def use():
            return "used"

        @teardown
        def delete():
            return "deleted"

        s = create()
        w1 = EmptyOperator(task_id="w1")
        w2 = use()
        t = delete()
        s >> w1 >> w2 >> t
        s >> t

    result = run(dag)
    assert states(result) == {
        "create": "failed",
        "w1": "upstream_failed",
        "use": "upstream_failed",
        "delete": "upstream_failed",
    }


def test_setup_and_teardown_decorators_mark_the_tasks():
    with DAG("st_decorators", schedule=None) as dag:

        @setup
        def create():
            return "resource"

        @task
        def use(resource):
            raise RuntimeError(f"could not use {resource}")

        @teardown
        def delete():
            return "deleted"

        s = create()
        t = delete()
        s >> use(s) >> t
        s >> t

    assert dag.task_dict["create"].is_setup
    assert dag.task_dict["delete"].is_teardown
    assert dag.task_dict["delete"].trigger_rule is TriggerRule.ALL_DONE_SETUP_SUCCESS
    result = run(dag)
    assert states(result) == {"create": "success", "use": "failed", "delete": "success"}
    assert result.xcom("delete") == "deleted"
    assert result.state is RunState.FAILED


# -- the run as a whole --------------------------------------------------------------------------


def test_empty_operator_succeeds_without_running():
    with DAG("empty", schedule=None) as dag:
        EmptyOperator(task_id="e")

    result = run(dag)
    assert states(result) == {"e": "success"}
    assert result.get("e").try_number == 1
    assert keys_pushed(result, "e") == []


def test_run_succeeds_when_every_leaf_succeeded_or_was_skipped():
    with DAG("leaves_ok", schedule=None) as dag:
        root = EmptyOperator(task_id="root")

        @task
        def skipper():
            raise SkipTask()

        root >> [EmptyOperator(task_id="ok"), skipper()]

    result = run(dag)
    assert states(result) == {"root": "success", "ok": "success", "skipper": "skipped"}
    assert result.state is RunState.SUCCESS


def test_run_fails_when_a_leaf_failed():
    with DAG("leaf_failed", schedule=None) as dag:
        root = EmptyOperator(task_id="root")

        @task
        def bad():
            raise RuntimeError("boom")

        root >> [EmptyOperator(task_id="ok"), bad()]

    result = run(dag)
    assert result.state is RunState.FAILED


def test_a_failure_upstream_of_an_all_done_leaf_does_not_fail_the_run():
    with DAG("all_done_leaf", schedule=None) as dag:

        @task
        def bad():
            raise RuntimeError("boom")

        bad() >> EmptyOperator(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)

    result = run(dag)
    assert states(result) == {"bad": "failed", "cleanup": "success"}
    assert result.state is RunState.SUCCESS


def test_one_failed_alert_runs_and_upstream_failure_propagates_through_a_diamond():
    with DAG("diamond", schedule=None) as dag:

        @task
        def root():
            return "root"

        @task
        def left(x):
            return x + "-left"

        @task
        def right(x):
            raise RuntimeError("broken")

        @task
        def merge():
            return "merged"

        @task(trigger_rule=TriggerRule.ONE_FAILED)
        def alert():
            return "alerted"

        r = root()
        branches = [left(r), right(r)]
        branches >> merge() >> EmptyOperator(task_id="leaf")
        branches >> alert()

    result = run(dag)
    assert states(result) == {
        "root": "success",
        "left": "success",
        "right": "failed",
        "merge": "upstream_failed",
        "leaf": "upstream_failed",
        "alert": "success",
    }
    assert result.state is RunState.FAILED


# -- @task.bash ------------------------------------------------------------------------------------


def test_task_bash_runs_the_command_its_function_returns_rendered_with_the_context():
    with DAG("task_bash", schedule=None, params={"who": "px"}) as dag:

        @task
        def count():
            return 3

        @task.bash(env={"GREETING": "hello"}, append_env=True)
        def greet(n, ds=None):
            return f'echo "$GREETING {{{{ params.who }}}} {n} {ds} $(({n} + 1))"'

        greet(count())

    result = run(dag)
    assert states(result) == {"count": "success", "greet": "success"}
    assert result.xcom("greet") == "hello px 3 2024-01-01 4"


def test_task_bash_maps_like_any_task_and_skips_on_exit_99():
    with DAG("task_bash_map", schedule=None) as dag:

        @task.bash
        def echo(n):
            return f"echo {n}" if n else "exit 99"

        echo.expand(n=[0, 1, 2])

    result = run(dag)
    assert states(result) == {"echo[0]": "skipped", "echo[1]": "success", "echo[2]": "success"}
    assert xcoms(result) == {"echo[1]": "1", "echo[2]": "2"}


@pytest.mark.parametrize("returned", [None, "", "   ", 5])
def test_task_bash_whose_function_returns_no_command_fails_naming_the_task(returned):
    with DAG("task_bash_bad", schedule=None) as dag:

        @task.bash(retries=0)
        def nothing():
            return returned

        nothing()

    result = run(dag)
    assert states(result) == {"nothing": "failed"}
    error = error_of(result, "nothing")
    assert "'nothing'" in error and "@task.bash" in error and "non-empty string" in error

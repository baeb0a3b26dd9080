"""Every trigger rule a DAG author reaches for, after a success, a failure, skips and an upstream
failure, with the states Airflow's trigger rule dependency gives each of them."""

import pendulum
from airflow.exceptions import AirflowSkipException
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task
from airflow.utils.trigger_rule import TriggerRule as TR

with DAG(
    dag_id="trigger_rules_catalogue",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 0},
):
    ok = EmptyOperator(task_id="ok")

    @task
    def broken():
        raise ValueError("the source file is truncated")

    @task
    def not_today(reason):
        raise AirflowSkipException(reason)

    failed = broken()
    skipped_a = not_today.override(task_id="skipped_a")("holiday")
    skipped_b = not_today.override(task_id="skipped_b")("no data")
    after_broken = EmptyOperator(task_id="after_broken")
    failed >> after_broken

    def rule(task_id, trigger_rule, upstream):
        node = EmptyOperator(task_id=task_id, trigger_rule=trigger_rule)
        upstream >> node
        return node

    # one_done counts successes and failures only: upstream_failed and skipped do not fire it
    rule("one_done_on_failure", TR.ONE_DONE, [failed, skipped_a])
    rule("one_done_only_skips", TR.ONE_DONE, [skipped_a, skipped_b])
    rule("one_done_upstream_failed", TR.ONE_DONE, [after_broken])
    # one_failed counts upstream_failed as a failure
    rule("one_failed_via_upstream_failed", TR.ONE_FAILED, [ok, after_broken])
    rule("one_failed_none", TR.ONE_FAILED, [ok, skipped_a])
    rule("all_failed", TR.ALL_FAILED, [failed, after_broken])
    rule("all_failed_but_one_ran", TR.ALL_FAILED, [failed, ok])
    rule("all_skipped", TR.ALL_SKIPPED, [skipped_a, skipped_b])
    rule("none_skipped", TR.NONE_SKIPPED, [ok, failed])
    rule("none_failed", TR.NONE_FAILED, [ok, skipped_a])
    rule("none_failed_after_upstream_failed", TR.NONE_FAILED, [ok, after_broken])
    # none_failed_min_one_success: all upstreams skipped means skipped
    rule("min_one_success_only_skips", TR.NONE_FAILED_MIN_ONE_SUCCESS, [skipped_a, skipped_b])
    # one_success with every upstream done and none a success (not all skipped): upstream_failed
    rule("one_success_none", TR.ONE_SUCCESS, [failed, skipped_a])
    rule("always_after_upstream_failed", TR.ALWAYS, [after_broken])
    rule("all_done", TR.ALL_DONE, [failed, skipped_a, after_broken])

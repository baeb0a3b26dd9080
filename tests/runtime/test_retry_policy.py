"""A task's retry_policy decides from the exception a try raised whether it is retried, and when."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from dagflow import DAG, task
from dagflow.exceptions import DagDefinitionError, FailTask
from dagflow.models.retry_policy import (
    ChainRetryPolicy,
    ExceptionRetryPolicy,
    RetryAction,
    RetryDecision,
    RetryPolicy,
    RetryRule,
)
from dagflow.runtime.inprocess import RunResult


class QuotaError(Exception):
    pass


class DailyQuotaError(QuotaError):
    pass


def run(dag: DAG) -> RunResult:
    return dag.test(logical_date=datetime(2024, 1, 1, tzinfo=UTC), log_stream=io.StringIO())


def tries_of(policy: RetryPolicy, error: Exception, *, retries: int = 3) -> tuple[str, int]:
    """The state and try count of a task that raises ``error`` on every try."""
    with DAG("policy", schedule=None) as dag:

        @task(retries=retries, retry_delay=0, retry_policy=policy)
        def flaky():
            raise error

        flaky()

    ti = run(dag).get("flaky")
    return ti.state.value, ti.try_number


def test_a_fail_rule_fails_at_once_leaving_the_retries_unused():
    policy = ExceptionRetryPolicy(rules=[RetryRule(exception=PermissionError, action=RetryAction.FAIL)])
    assert tries_of(policy, PermissionError("no access")) == ("failed", 1)
    assert tries_of(policy, ValueError("other")) == ("failed", 4)  # no rule matched: the task's retries


def test_retry_never_adds_tries_beyond_the_tasks_retries():
    policy = ExceptionRetryPolicy(rules=[RetryRule(exception=ValueError, retry_delay=timedelta(0))])
    assert tries_of(policy, ValueError("again"), retries=2) == ("failed", 3)


def test_rules_match_subclasses_unless_told_not_to():
    by_family = ExceptionRetryPolicy([RetryRule(exception=QuotaError, action=RetryAction.FAIL)])
    exact = ExceptionRetryPolicy(
        [RetryRule(exception=QuotaError, action=RetryAction.FAIL, match_subclasses=False)]
    )
    assert by_family.evaluate(DailyQuotaError(), 1, 3).action is RetryAction.FAIL
    assert exact.evaluate(DailyQuotaError(), 1, 3).action is RetryAction.DEFAULT
    assert exact.evaluate(QuotaError(), 1, 3).action is RetryAction.FAIL


def test_rules_name_exceptions_by_dotted_path_and_the_first_match_wins():
    with pytest.warns(UserWarning, match="cannot be imported"):
        missing = RetryRule(exception="no_such_package.errors.Boom", action=RetryAction.FAIL)
    policy = ExceptionRetryPolicy(
        rules=[
            missing,
            RetryRule(
                exception=["builtins.KeyError", LookupError], action=RetryAction.FAIL, reason="bad key"
            ),
            RetryRule(exception=Exception, action=RetryAction.RETRY),
        ]
    )
    assert policy.evaluate(KeyError("k"), 1, 3) == RetryDecision(RetryAction.FAIL, reason="bad key")
    assert policy.evaluate(IndexError(), 1, 3).action is RetryAction.FAIL
    assert policy.evaluate(ValueError(), 1, 3).action is RetryAction.RETRY


def test_a_dotted_path_that_cannot_be_imported_is_a_warning_at_the_dag_files_line():
    with pytest.warns(UserWarning, match="'no_such_package.errors.Boom' cannot be imported") as caught:
        RetryRule(exception="no_such_package.errors.Boom")
    assert caught[0].filename == __file__


def test_a_rule_needs_a_class_or_a_dotted_path():
    with pytest.raises(DagDefinitionError, match="dotted path"):
        RetryRule(exception="ValueError")


def test_the_policys_delay_replaces_the_retry_delay_for_that_retry():
    starts: list[float] = []
    quick = ExceptionRetryPolicy([RetryRule(exception=TimeoutError, retry_delay=timedelta(seconds=0.1))])

    with DAG("policy_delay", schedule=None) as dag:

        @task(retries=1, retry_delay=timedelta(hours=1), retry_policy=quick)
        def flaky(ti=None):
            starts.append(time.monotonic())
            if ti.try_number == 1:
                raise TimeoutError("slow upstream")

        flaky()

    assert run(dag).get("flaky").state.value == "success"
    assert 0.1 <= starts[1] - starts[0] < 60


def test_fail_task_ends_the_try_without_asking_the_policy():
    asked: list[BaseException] = []

    class Recording(RetryPolicy):
        def evaluate(self, exception, try_number, max_tries, context=None):
            asked.append(exception)
            return RetryDecision.retry()

    assert tries_of(Recording(), FailTask("stop")) == ("failed", 1)
    assert asked == []


def test_a_chain_asks_until_a_policy_decides_and_survives_a_broken_one():
    class Broken(RetryPolicy):
        def evaluate(self, exception, try_number, max_tries, context=None):
            raise RuntimeError("policy bug")

    chain = ChainRetryPolicy(
        [
            Broken(),
            ExceptionRetryPolicy([RetryRule(exception=KeyError, action=RetryAction.FAIL)]),
            ExceptionRetryPolicy(
                [RetryRule(exception=ValueError, action=RetryAction.FAIL, reason="bad value")]
            ),
        ]
    )
    decision = chain.evaluate(ValueError(), 1, 3)
    assert decision.action is RetryAction.FAIL
    assert decision.reason is not None and decision.reason.startswith(
        "ExceptionRetryPolicy: bad value (after Broken"
    )
    assert chain.evaluate(OSError(), 1, 3).action is RetryAction.DEFAULT
    assert tries_of(chain, ValueError("v")) == ("failed", 1)


def test_a_chain_takes_a_nonempty_list_of_policies():
    with pytest.raises(DagDefinitionError, match="list"):
        ChainRetryPolicy(ExceptionRetryPolicy([]))  # type: ignore[arg-type]
    with pytest.raises(DagDefinitionError, match="at least one"):
        ChainRetryPolicy([])


def test_retry_policy_must_be_a_policy():
    with DAG("bad_policy", schedule=None), pytest.raises(DagDefinitionError, match="retry_policy"):

        @task(retry_policy="retry please")
        def nope():
            pass

        nope()

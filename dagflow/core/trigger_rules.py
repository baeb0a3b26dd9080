"""What each trigger rule means: a pure function of the upstream task instances' states.

The rules follow Airflow's meaning exactly, including its less obvious corners, because users port
DAGs that rely on them:

* a rule can *decide* a task without running it (``skipped`` or ``upstream_failed``) as soon as the
  outcome can no longer change, which is how skips and failures cascade down a DAG;
* ``one_success``, ``one_failed`` and ``one_done`` fire without waiting for the other upstreams;
* ``all_done_min_one_success`` skips as soon as any upstream was skipped;
* a task inside a setup/teardown scope also waits for its *indirect* setups to succeed.

Nothing here touches a database or a DAG object, so the scheduler daemon and the in-process runner
share it and it can be tested exhaustively.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from dagflow.core.states import TaskState


class TriggerRule(StrEnum):
    """When a task may run, given the states of its direct upstream task instances."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"

    @classmethod
    def parse(cls, value: object, *, where: str) -> TriggerRule:
        """Return the rule named by ``value`` or raise a ValueError that says where and what is allowed."""
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return cls(value)
        except ValueError:
            from dagflow.exceptions import DagDefinitionError

            allowed = ", ".join(rule.value for rule in cls)
            raise DagDefinitionError(
                f"{where}: unknown trigger_rule {value!r}; use one of: {allowed}"
            ) from None


TR = TriggerRule


@dataclass(frozen=True, slots=True)
class UpstreamCounts:
    """How many of a task instance's upstream task instances are in each finished state.

    ``total`` counts every relevant upstream task instance, finished or not; the ``setup_*`` fields
    count the subset of them that belong to setup tasks.
    """

    total: int
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    removed: int = 0
    setup_total: int = 0
    setup_success: int = 0
    setup_skipped: int = 0

    @property
    def done(self) -> int:
        return self.success + self.skipped + self.failed + self.upstream_failed + self.removed

    @property
    def all_done(self) -> bool:
        return self.done >= self.total

    @classmethod
    def of(cls, states: Iterable[tuple[TaskState | None, bool]]) -> UpstreamCounts:
        """Count ``(state, is_setup)`` pairs, one per upstream task instance."""
        tally: dict[TaskState | None, int] = {}
        setup_tally: dict[TaskState | None, int] = {}
        total = setup_total = 0
        for state, is_setup in states:
            total += 1
            tally[state] = tally.get(state, 0) + 1
            if is_setup:
                setup_total += 1
                setup_tally[state] = setup_tally.get(state, 0) + 1
        return cls(
            total=total,
            success=tally.get(TaskState.SUCCESS, 0),
            skipped=tally.get(TaskState.SKIPPED, 0),
            failed=tally.get(TaskState.FAILED, 0),
            upstream_failed=tally.get(TaskState.UPSTREAM_FAILED, 0),
            removed=tally.get(TaskState.REMOVED, 0),
            setup_total=setup_total,
            setup_success=setup_tally.get(TaskState.SUCCESS, 0),
            setup_skipped=setup_tally.get(TaskState.SKIPPED, 0),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of evaluating a trigger rule for one task instance.

    ``met``: the task instance may run now. ``new_state``: the rule decided the task instance without
    running it. ``reason``: why it may not run yet, in words a user can act on.
    """

    met: bool
    new_state: TaskState | None = None
    reason: str = ""


MET = Verdict(met=True)


def _decided_state(rule: TriggerRule, c: UpstreamCounts, map_index: int) -> TaskState | None:  # noqa: C901
    """The state a rule settles on without running the task, or None while the task may still run."""
    failures = c.failed or c.upstream_failed
    if rule is TR.ALL_SUCCESS:
        if failures:
            return TaskState.UPSTREAM_FAILED
        if c.skipped:
            return TaskState.SKIPPED
        if c.removed and c.success and map_index >= c.success:
            return TaskState.REMOVED
    elif rule is TR.ALL_FAILED:
        if c.success or c.skipped:
            return TaskState.SKIPPED
    elif rule is TR.ONE_SUCCESS:
        if c.all_done and c.done == c.skipped:
            return TaskState.SKIPPED
        if c.all_done and c.success <= 0:
            return TaskState.UPSTREAM_FAILED
    elif rule is TR.ONE_FAILED:
        if c.all_done and not failures:
            return TaskState.SKIPPED
    elif rule is TR.ONE_DONE:
        if c.all_done and not (c.failed or c.success):
            return TaskState.SKIPPED
    elif rule in (TR.NONE_FAILED, TR.NONE_FAILED_MIN_ONE_SUCCESS):
        if failures:
            return TaskState.UPSTREAM_FAILED
        if rule is TR.NONE_FAILED_MIN_ONE_SUCCESS and c.skipped == c.total:
            return TaskState.SKIPPED
    elif rule is TR.NONE_SKIPPED:
        if c.skipped:
            return TaskState.SKIPPED
    elif rule is TR.ALL_SKIPPED:
        if c.success or failures:
            return TaskState.SKIPPED
    elif rule is TR.ALL_DONE_MIN_ONE_SUCCESS:
        return _all_done_min_one_success_state(c)
    elif rule is TR.ALL_DONE_SETUP_SUCCESS and c.all_done and c.setup_total:
        if c.setup_skipped >= c.setup_total:
            return TaskState.SKIPPED
        if c.setup_success == 0:
            return TaskState.UPSTREAM_FAILED
    return None


def _all_done_min_one_success_state(c: UpstreamCounts) -> TaskState | None:
    # A skipped upstream is never "done" for this rule, so the task is skipped at once.
    if c.skipped:
        return TaskState.SKIPPED
    non_skipped_done = c.success + c.failed + c.upstream_failed + c.removed
    if non_skipped_done >= c.total and c.success == 0:
        return TaskState.UPSTREAM_FAILED
    return None


def _unmet_reason(rule: TriggerRule, c: UpstreamCounts, map_index: int) -> str:  # noqa: C901
    """Why ``rule`` is not met yet, or "" when it is."""
    removed = c.removed if map_index >= 0 else 0
    waiting = c.total - c.done
    if rule is TR.ONE_SUCCESS and c.success <= 0:
        return "waits for one upstream to succeed"
    if rule is TR.ONE_FAILED and not (c.failed or c.upstream_failed):
        return "waits for one upstream to fail"
    if rule is TR.ONE_DONE and c.success + c.failed <= 0:
        return "waits for one upstream to succeed or fail"
    if rule is TR.ALL_SUCCESS and c.total - c.success - removed > 0:
        return f"waits for all upstreams to succeed ({c.total - c.success - removed} not yet)"
    if rule is TR.ALL_FAILED and c.total - c.failed - c.upstream_failed - removed > 0:
        return "waits for all upstreams to fail"
    if rule in (TR.ALL_DONE, TR.ALL_DONE_SETUP_SUCCESS) and not c.all_done:
        return f"waits for all upstreams to finish ({waiting} not yet)"
    if rule is TR.ALL_DONE_SETUP_SUCCESS and c.setup_total and not c.setup_success:
        return "waits for at least one upstream setup to succeed"
    none_failed = rule in (TR.NONE_FAILED, TR.NONE_FAILED_MIN_ONE_SUCCESS)
    if none_failed and c.total - c.success - c.skipped - removed > 0:
        return "waits for all upstreams to succeed or be skipped"
    if rule is TR.NONE_SKIPPED and (not c.all_done or c.skipped):
        return f"waits for all upstreams to finish unskipped ({waiting} not yet)"
    if rule is TR.ALL_SKIPPED and c.total - c.skipped > 0:
        return "waits for all upstreams to be skipped"
    if rule is TR.ALL_DONE_MIN_ONE_SUCCESS:
        return _all_done_min_one_success_reason(c, map_index)
    return ""


def _all_done_min_one_success_reason(c: UpstreamCounts, map_index: int) -> str:
    non_skipped_done = c.success + c.failed + c.upstream_failed + c.removed
    non_skipped_total = c.total - c.skipped
    if map_index >= 0:
        non_skipped_done -= c.removed
        non_skipped_total -= c.removed
    if c.skipped:
        return "an upstream was skipped"
    if non_skipped_done < non_skipped_total:
        return f"waits for all upstreams to finish ({non_skipped_total - non_skipped_done} not yet)"
    if c.success == 0:
        return "waits for at least one upstream to succeed"
    return ""


def evaluate_rule(rule: TriggerRule, counts: UpstreamCounts, *, map_index: int = -1) -> Verdict:
    """Evaluate ``rule`` against the task instance's direct upstreams."""
    if counts.total == 0:
        return MET
    if rule is TR.ALWAYS:
        return MET
    new_state = _decided_state(rule, counts, map_index)
    reason = _unmet_reason(rule, counts, map_index)
    if new_state is not None:
        return Verdict(met=False, new_state=new_state, reason=f"{rule.value}: decided {new_state.value}")
    if reason:
        return Verdict(met=False, reason=f"trigger rule {rule.value} {reason}")
    return MET


def evaluate_setups(counts: UpstreamCounts, *, map_index: int = -1) -> Verdict:
    """Evaluate the indirect setups of a task inside a setup/teardown scope.

    Every such setup must succeed; a failed one makes the task ``upstream_failed`` and a skipped one
    makes it ``skipped``, without waiting for the others.
    """
    if counts.total == 0:
        return MET
    new_state: TaskState | None = None
    if counts.failed or counts.upstream_failed:
        new_state = TaskState.UPSTREAM_FAILED
    elif counts.skipped:
        new_state = TaskState.SKIPPED
    elif counts.removed and counts.success and map_index >= counts.success:
        new_state = TaskState.REMOVED
    not_succeeded = counts.total - counts.success - (counts.removed if map_index >= 0 else 0)
    if new_state is not None:
        return Verdict(met=False, new_state=new_state, reason=f"a setup ended {new_state.value}")
    if not_succeeded > 0:
        return Verdict(met=False, reason=f"waits for its setups to succeed ({not_succeeded} not yet)")
    return MET


def evaluate(
    rule: TriggerRule,
    direct: UpstreamCounts,
    indirect_setups: UpstreamCounts | None = None,
    *,
    map_index: int = -1,
) -> Verdict:
    """The full trigger-rule check for one task instance: indirect setups first, then the rule."""
    if direct.total == 0 or rule is TR.ALWAYS:
        return MET
    setup_verdict = MET
    if indirect_setups is not None and indirect_setups.total:
        setup_verdict = evaluate_setups(indirect_setups, map_index=map_index)
        if setup_verdict.new_state is not None:
            return setup_verdict
    verdict = evaluate_rule(rule, direct, map_index=map_index)
    if verdict.new_state is not None or not verdict.met:
        return verdict
    return setup_verdict

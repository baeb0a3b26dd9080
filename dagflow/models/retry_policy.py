"""Retry policies: a task's ``retry_policy`` looks at the exception a try failed with and decides.

A policy may fail the task at once (retries left unused), retry it (with a delay of its own for
this retry), or leave the task's ``retries`` and ``retry_delay`` to decide (``DEFAULT``). It never
adds tries: once the task's retries are used up the try fails whatever the policy says, and it is
not asked about a :class:`~dagflow.exceptions.FailTask` (nor a sensor's timeout, a skip or a
reschedule), which end the try as they always do. The policy runs where the try ran, so it sees the
exception object itself.

``ExceptionRetryPolicy`` maps exception classes to decisions, first matching rule first;
``ChainRetryPolicy`` asks several policies in turn until one decides. Airflow 3.3 DAG files import
them from ``airflow.sdk``.
"""

from __future__ import annotations

import abc
import enum
import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError
from dagflow.models.airflow_args import warn_in_dag_file
from dagflow.runtime.tasklog import TASK_LOGGER

if TYPE_CHECKING:
    from dagflow.context import Context

log = logging.getLogger(f"{TASK_LOGGER}.retry_policy")  # in the log of the try it decides about


class RetryAction(enum.Enum):
    """What a policy decided about a failed try."""

    #: Retry, if the task has retries left (a policy cannot add tries).
    RETRY = "retry"
    #: Fail now, leaving any retries unused.
    FAIL = "fail"
    #: No opinion: the task's own ``retries`` and ``retry_delay`` apply.
    DEFAULT = "default"


@dataclass(frozen=True)
class RetryDecision:
    """A policy's answer; ``retry_delay`` (for ``RETRY``) replaces the task's delay for this retry."""

    action: RetryAction = RetryAction.DEFAULT
    retry_delay: timedelta | None = None
    reason: str | None = None

    @classmethod
    def fail(cls, reason: str | None = None) -> RetryDecision:
        return cls(RetryAction.FAIL, reason=reason)

    @classmethod
    def retry(cls, delay: timedelta | None = None, reason: str | None = None) -> RetryDecision:
        return cls(RetryAction.RETRY, retry_delay=delay, reason=reason)

    @classmethod
    def default(cls) -> RetryDecision:
        return cls()


class RetryPolicy(abc.ABC):
    """Subclass and implement :meth:`evaluate` for a policy of your own."""

    @abc.abstractmethod
    def evaluate(
        self, exception: BaseException, try_number: int, max_tries: int, context: Context | None = None
    ) -> RetryDecision:
        """Decide about failed try ``try_number`` (from 1, up to ``max_tries + 1``) and its ``exception``."""


ExceptionSpec = type[BaseException] | str


def _importable(spec: str) -> type[BaseException] | None:
    """The exception class at dotted path ``spec``; None if it cannot be imported here."""
    module_name, _, name = spec.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _resolve(spec: ExceptionSpec) -> type[BaseException] | None:
    """The class a rule names (a class, or its dotted path); None, logged, if it cannot be imported:
    such a rule matches nothing (the package may be missing where the task runs)."""
    if isinstance(spec, type):
        return spec
    found = _importable(spec)
    if found is None:
        log.warning("retry rule: exception class %r cannot be imported here; the rule matches nothing", spec)
    return found


@dataclass
class RetryRule:
    """One mapping of exception classes to a decision.

    ``exception`` is a class, a dotted path (``"requests.exceptions.HTTPError"``, imported when a try
    fails, so the file loads without the package) or a list of either. With ``match_subclasses``
    (the default) subclasses match too; without it only the very classes named.
    """

    exception: ExceptionSpec | list[ExceptionSpec]
    action: RetryAction = RetryAction.RETRY
    retry_delay: timedelta | None = None
    reason: str | None = None
    match_subclasses: bool = True
    _classes: list[type[BaseException]] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for spec in self.specs:
            if isinstance(spec, str) and "." not in spec.strip("."):
                raise DagDefinitionError(
                    f"RetryRule: exception {spec!r} must be a class or a dotted path (builtins.ValueError)"
                )
            if not isinstance(spec, (str, type)):
                raise DagDefinitionError(
                    f"RetryRule: exception must be a class or a dotted path, got {spec!r}"
                )
        if not isinstance(self.action, RetryAction):
            raise DagDefinitionError(f"RetryRule: action must be a RetryAction, got {self.action!r}")
        for spec in self.specs:
            if isinstance(spec, str) and _importable(spec) is None:
                warn_in_dag_file(
                    f"RetryRule: exception class {spec!r} cannot be imported here; it may be where the task "
                    "runs, else the rule matches nothing (check the spelling)"
                )

    @property
    def specs(self) -> list[ExceptionSpec]:
        return list(self.exception) if isinstance(self.exception, list) else [self.exception]

    def matches(self, exc: BaseException) -> bool:
        if self._classes is None:
            self._classes = [cls for cls in map(_resolve, self.specs) if cls is not None]
        if self.match_subclasses:
            return isinstance(exc, tuple(self._classes))
        return type(exc) in self._classes


class ExceptionRetryPolicy(RetryPolicy):
    """Rules tried in order, the first that matches the exception deciding; ``default`` otherwise."""

    def __init__(self, rules: Sequence[RetryRule], default: RetryAction = RetryAction.DEFAULT) -> None:
        self.rules, self.default = list(rules), default

    def evaluate(
        self, exception: BaseException, try_number: int, max_tries: int, context: Context | None = None
    ) -> RetryDecision:
        for rule in self.rules:
            if rule.matches(exception):
                reason = rule.reason or f"matched the rule for {type(exception).__name__}"
                return RetryDecision(rule.action, retry_delay=rule.retry_delay, reason=reason)
        return RetryDecision(self.default)


class ChainRetryPolicy(RetryPolicy):
    """Policies asked in order about the same exception; the first to say ``RETRY`` or ``FAIL`` decides.

    A policy that raises (an ``Exception``) or answers something other than a :class:`RetryDecision`
    is logged and counts as ``DEFAULT``. The deciding reason names the policy and what the ones
    before it said.
    """

    def __init__(self, policies: Sequence[RetryPolicy]) -> None:
        if isinstance(policies, RetryPolicy):
            raise DagDefinitionError(
                "ChainRetryPolicy takes a list of policies; put the one policy in a list"
            )
        self.policies = list(policies)
        if not self.policies:
            raise DagDefinitionError("ChainRetryPolicy needs at least one policy")
        for position, policy in enumerate(self.policies):
            if not isinstance(policy, RetryPolicy):
                raise DagDefinitionError(
                    f"ChainRetryPolicy: policies[{position}] is a {type(policy).__name__}, not a RetryPolicy"
                )

    def evaluate(
        self, exception: BaseException, try_number: int, max_tries: int, context: Context | None = None
    ) -> RetryDecision:
        said: list[str] = []
        for policy in self.policies:
            name = type(policy).__name__
            decision = ask(policy, exception, try_number, max_tries, context)
            if decision.action is RetryAction.DEFAULT:
                said.append(f"{name}: {decision.reason or 'no decision'}")
                continue
            reason = f"{name}: {decision.reason or decision.action.value}"
            if said:
                reason += f" (after {'; '.join(said)})"
            return RetryDecision(decision.action, retry_delay=decision.retry_delay, reason=reason)
        return RetryDecision(reason="; ".join(said))


def ask(
    policy: RetryPolicy, exception: BaseException, try_number: int, max_tries: int, context: Context | None
) -> RetryDecision:
    """``policy``'s decision; a policy that raises or answers nonsense is logged and counts as DEFAULT
    (its own failure must not change how the task's failure is handled)."""
    name = type(policy).__name__
    try:
        decision: Any = policy.evaluate(exception, try_number, max_tries, context)
    except Exception as exc:
        log.exception("retry policy %s raised; the task's own retries apply", name)
        return RetryDecision(reason=f"raised {type(exc).__name__}")
    if not isinstance(decision, RetryDecision):
        log.error(
            "retry policy %s answered %r, not a RetryDecision; the task's own retries apply", name, decision
        )
        return RetryDecision(reason="answered no RetryDecision")
    return decision


def as_retry_policy(value: object, where: str) -> RetryPolicy | None:
    """A task's ``retry_policy`` argument, checked."""
    if value is None or isinstance(value, RetryPolicy):
        return value
    raise DagDefinitionError(
        f"{where}: retry_policy must be a RetryPolicy (such as ExceptionRetryPolicy), got {value!r}"
    )

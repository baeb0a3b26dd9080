"""The names of the trigger rules; what each one means lives in :mod:`dagflow.trigger_rules`."""

from __future__ import annotations

from enum import StrEnum


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

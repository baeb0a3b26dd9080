"""EmptyOperator: a task that does nothing, useful to join or group dependencies."""

from __future__ import annotations

from typing import Any, ClassVar

from dagflow.context import Context
from dagflow.models.baseoperator import BaseOperator


class EmptyOperator(BaseOperator):
    """Does nothing. Without callbacks it is marked successful without running at all."""

    ui_color = "#e8f7e4"
    inherits_from_empty_operator: ClassVar[bool] = True

    def execute(self, context: Context) -> Any:
        return None

"""SmoothOperator: a task that logs a link to Sade's "Smooth Operator", as Airflow's does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagflow.models.baseoperator import BaseOperator

if TYPE_CHECKING:
    from dagflow.context import Context


class SmoothOperator(BaseOperator):
    """Logs a link to the song and succeeds: a placeholder task that is not an EmptyOperator."""

    ui_color = "#e8f7e4"
    yt_link: str = "https://www.youtube.com/watch?v=4TYv2PhG89A"

    def execute(self, context: Context) -> Any:
        self.log.info("Enjoy Sade - Smooth Operator: %s", self.yt_link)
        return None

"""Plugins: classes in the plugins folder that add timetables, weight strategies, macros and links.

A plugin is a subclass of :class:`DagflowPlugin` (also importable as ``AirflowPlugin``) in a ``.py``
file under ``[core] plugins_folder`` (default ``$DAGFLOW_HOME/plugins``)::

    class CompanyPlugin(DagflowPlugin):
        name = "company"
        timetables = [AfterWorkdayTimetable]
        priority_weight_strategies = [ByDeadline]
        macros = [fiscal_quarter]            # {{ macros.company.fiscal_quarter(ds) }}
        operator_extra_links = [TicketLink()]
        global_operator_extra_links = []

The folder is on ``sys.path`` while DAG files load, so a DAG file can import a plugin's module by
its file name, as in Airflow.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["AirflowPlugin", "DagflowPlugin"]


class DagflowPlugin:
    """Subclass and set the class attributes you need; ``name`` is required."""

    name: ClassVar[str] = ""
    timetables: ClassVar[list[type[Any]]] = []
    priority_weight_strategies: ClassVar[list[type[Any]]] = []
    macros: ClassVar[list[Any]] = []
    operator_extra_links: ClassVar[list[Any]] = []
    global_operator_extra_links: ClassVar[list[Any]] = []
    # accepted so that Airflow plugins load; dagflow does not serve these
    flask_blueprints: ClassVar[list[Any]] = []
    fastapi_apps: ClassVar[list[Any]] = []
    fastapi_root_middlewares: ClassVar[list[Any]] = []
    external_views: ClassVar[list[Any]] = []
    react_apps: ClassVar[list[Any]] = []
    appbuilder_views: ClassVar[list[Any]] = []
    appbuilder_menu_items: ClassVar[list[Any]] = []
    listeners: ClassVar[list[Any]] = []
    hooks: ClassVar[list[Any]] = []
    executors: ClassVar[list[Any]] = []
    operators: ClassVar[list[Any]] = []
    sensors: ClassVar[list[Any]] = []

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """Called once when the plugin is loaded."""


AirflowPlugin = DagflowPlugin

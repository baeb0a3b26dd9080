"""SQL operators of Airflow's ``common.sql`` provider: run queries, and check their results.

The hook is the one for the connection's type (``sqlite``, ``postgres``), found from ``conn_id``;
``database`` overrides the connection's schema. ``sql`` is a string, a list of strings, or a
templated ``.sql`` file (beside the DAG file or in ``template_searchpath``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from dagflow.exceptions import DagflowError
from dagflow.hooks.base import hook_for
from dagflow.models.baseoperator import BaseOperator
from dagflow.providers.common_sql.handlers import fetch_all_handler, return_single_query_results

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.providers.common_sql.hooks import DbApiHook


class SQLCheckFailed(DagflowError):
    """A check operator's query did not return what it must (the try fails, and may be retried)."""


class BaseSQLOperator(BaseOperator):
    """Finds the SQL hook of ``conn_id``'s connection type."""

    def __init__(
        self,
        *,
        conn_id: str | None = None,
        database: str | None = None,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.conn_id, self.database = conn_id, database
        self.hook_params = hook_params or {}

    def get_db_hook(self) -> DbApiHook:
        from dagflow.models.connection import Connection
        from dagflow.providers.common_sql.hooks import DbApiHook

        if not self.conn_id:
            raise DagflowError(f"task {self.task_id!r}: conn_id is required to run SQL")
        conn = Connection.get(self.conn_id)
        hook = hook_for(conn, **self.hook_params)
        if not isinstance(hook, DbApiHook):
            raise DagflowError(
                f"task {self.task_id!r}: connection {self.conn_id!r} of type {conn.conn_type!r} "
                "is not a SQL database"
            )
        if self.database:
            hook.schema = self.database
        return hook


def _default_output_processor(results: Any, descriptions: Any) -> Any:
    return results


class SQLExecuteQueryOperator(BaseSQLOperator):
    """Run SQL; push what ``handler`` makes of the results (every row, by default).

    A single SQL string gives the last statement's result; a list (or ``split_statements=True`` with
    ``return_last=False``) gives a list with one result per statement.
    """

    template_fields: ClassVar[Sequence[str]] = ("sql", "parameters", "conn_id", "database", "hook_params")
    template_ext: ClassVar[Sequence[str]] = (".sql", ".json")
    template_fields_renderers = {"sql": "sql", "parameters": "json"}
    ui_color = "#cdaaed"

    def __init__(
        self,
        *,
        sql: str | list[str],
        autocommit: bool = False,
        parameters: Sequence[Any] | dict[str, Any] | None = None,
        handler: Callable[[Any], Any] = fetch_all_handler,
        output_processor: Callable[[Any, Any], Any] | None = None,
        conn_id: str | None = None,
        database: str | None = None,
        split_statements: bool | None = None,
        return_last: bool = True,
        show_return_value_in_logs: bool = False,
        requires_result_fetch: bool = False,
        **kwargs: Any,
    ):
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql, self.autocommit, self.parameters = sql, autocommit, parameters
        self.handler = handler
        self.output_processor = output_processor or _default_output_processor
        self.split_statements, self.return_last = split_statements, return_last
        self.show_return_value_in_logs = show_return_value_in_logs
        self.requires_result_fetch = requires_result_fetch

    def _fetches(self) -> bool:
        return self.do_xcom_push or self.requires_result_fetch

    def execute(self, context: Context) -> Any:
        hook = self.get_db_hook()
        extra = {} if self.split_statements is None else {"split_statements": self.split_statements}
        output = hook.run(
            sql=self.sql,
            autocommit=self.autocommit,
            parameters=self.parameters,
            handler=self.handler if self._fetches() else None,
            return_last=self.return_last,
            **extra,
        )
        if not self._fetches():
            return None
        if return_single_query_results(self.sql, self.return_last, self.split_statements):
            result = self.output_processor([output], hook.descriptions)[-1]
        else:
            result = self.output_processor(output, hook.descriptions)
        if self.show_return_value_in_logs:
            self.log.info("Operator output is: %s", result)
        return result


def _to_float(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


class SQLCheckOperator(BaseSQLOperator):
    """Fail unless the first row of ``sql`` exists and every value in it is truthy (Airflow's rule:
    ``0``, ``''``, ``False`` and ``NULL`` fail)."""

    template_fields: ClassVar[Sequence[str]] = ("sql", "parameters", "conn_id", "database")
    template_ext: ClassVar[Sequence[str]] = (".hql", ".sql")
    template_fields_renderers = {"sql": "sql"}
    ui_color = "#fff7e6"

    def __init__(
        self,
        *,
        sql: str,
        conn_id: str | None = None,
        database: str | None = None,
        parameters: Sequence[Any] | dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql, self.parameters = sql, parameters

    def execute(self, context: Context) -> None:
        records = self.get_db_hook().get_first(self.sql, self.parameters)
        self.log.info("Record: %s", records)
        if not records:
            raise SQLCheckFailed(f"task {self.task_id!r}: the check query returned no rows: {self.sql}")
        if not all(records):
            raise SQLCheckFailed(
                f"task {self.task_id!r}: check failed. Query: {self.sql} Results: {records!s}"
            )
        self.log.info("Success.")


class SQLValueCheckOperator(BaseSQLOperator):
    """Fail unless every value of the first row of ``sql`` equals ``pass_value`` (numbers within
    ``tolerance``, a fraction: 0.1 accepts 10 % either side; other values compared as text)."""

    template_fields: ClassVar[Sequence[str]] = ("sql", "pass_value", "conn_id", "database")
    template_ext: ClassVar[Sequence[str]] = (".hql", ".sql")
    template_fields_renderers = {"sql": "sql"}
    ui_color = "#fff7e6"

    def __init__(
        self,
        *,
        sql: str,
        pass_value: Any,
        tolerance: Any = None,
        conn_id: str | None = None,
        database: str | None = None,
        parameters: Sequence[Any] | dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(conn_id=conn_id, database=database, **kwargs)
        self.sql, self.pass_value, self.parameters = sql, str(pass_value), parameters
        tol = _to_float(tolerance)
        self.tol = tol if isinstance(tol, float) else None
        self.has_tolerance = self.tol is not None

    def execute(self, context: Context) -> None:
        records = self.get_db_hook().get_first(self.sql, self.parameters)
        if not records:
            raise SQLCheckFailed(f"task {self.task_id!r}: the check query returned no rows: {self.sql}")
        expected = _to_float(self.pass_value)
        if isinstance(expected, float):
            tests = self._numeric_matches(records, expected)
        else:
            tests = [str(record) == expected for record in records]
        if not all(tests):
            tolerance = f"{self.tol:.1%}" if self.tol is not None else None
            raise SQLCheckFailed(
                f"task {self.task_id!r}: check failed. Pass value: {expected} Tolerance: {tolerance} "
                f"Query: {self.sql} Results: {records!s}"
            )

    def _numeric_matches(self, records: Sequence[Any], expected: float) -> list[bool]:
        try:
            values = [float(record) for record in records]
        except (TypeError, ValueError):
            raise SQLCheckFailed(
                f"task {self.task_id!r}: a result of {records!s} is not a number to compare with {expected}"
            ) from None
        if self.tol is not None:
            return [expected * (1 - self.tol) <= v <= expected * (1 + self.tol) for v in values]
        return [v == expected for v in values]

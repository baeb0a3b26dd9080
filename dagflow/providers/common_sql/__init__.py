"""Airflow's ``common.sql`` provider: ``SQLExecuteQueryOperator``, the check operators, ``DbApiHook``
and the result handlers, all exported here."""

from dagflow.providers.common_sql.handlers import (
    fetch_all_handler,
    fetch_one_handler,
    return_single_query_results,
)
from dagflow.providers.common_sql.hooks import DbApiHook
from dagflow.providers.common_sql.operators import (
    BaseSQLOperator,
    SQLCheckFailed,
    SQLCheckOperator,
    SQLExecuteQueryOperator,
    SQLValueCheckOperator,
)

__all__ = [
    "BaseSQLOperator",
    "DbApiHook",
    "SQLCheckFailed",
    "SQLCheckOperator",
    "SQLExecuteQueryOperator",
    "SQLValueCheckOperator",
    "fetch_all_handler",
    "fetch_one_handler",
    "return_single_query_results",
]

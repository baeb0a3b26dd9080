"""What to keep of a statement's results: Airflow's ``fetch_all_handler`` and ``fetch_one_handler``."""

from __future__ import annotations

from typing import Any


def return_single_query_results(
    sql: str | list[str], return_last: bool, split_statements: bool | None
) -> bool:
    """Whether one statement's result (not a list of results) is returned: a single SQL string,
    unless it is split into statements and every result is asked for."""
    return isinstance(sql, str) and (return_last or not split_statements)


def fetch_all_handler(cursor: Any) -> list[tuple[Any, ...]] | None:
    """Every row of a statement that returns rows; None for one that returns none (an INSERT)."""
    if cursor.description is not None:
        return [tuple(row) for row in cursor.fetchall()]
    return None


def fetch_one_handler(cursor: Any) -> tuple[Any, ...] | None:
    """The first row of a statement that returns rows, else None."""
    if cursor.description is not None:
        row = cursor.fetchone()
        return None if row is None else tuple(row)
    return None

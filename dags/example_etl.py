"""
### Extract, transform, load with TaskFlow

Reads `data/orders.csv` (shipped beside this file), cleans it, totals revenue per country and
loads the totals into a SQLite file, then reads them back.

What it shows:

* `@task` functions passing data through **XCom**: calling `clean(extract())` makes `clean` run
  after `extract` and receive its return value. XCom values must be JSON: lists, dicts, numbers.
* A context value (`ds`) received by declaring it as a parameter.
* An **idempotent** load: a run replaces its own rows, so running the same date twice gives the
  same table.
* Writing outside the repository: the database lives under `$DAGFLOW_HOME` (or the temp
  directory when it is unset), and it is looked up when the task runs, not when the file is parsed.

Try it: `dagflow dags test example_etl`
"""

from __future__ import annotations

import csv
import os
import sqlite3
import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from dagflow import DAG, task

ORDERS_CSV = Path(__file__).parent / "data" / "orders.csv"


def database_path() -> Path:
    base = os.environ.get("DAGFLOW_HOME") or tempfile.gettempdir()
    path = Path(base) / "example_etl" / "orders.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


with DAG(
    "example_etl",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "etl"],
    doc_md=__doc__,
):

    @task
    def extract() -> list[dict[str, str]]:
        """Read the raw CSV rows, every value still a string."""
        with ORDERS_CSV.open(newline="") as handle:
            return list(csv.DictReader(handle))

    @task
    def clean(rows: list[dict[str, str]]) -> list[dict]:
        """Keep shipped orders with a positive quantity, once each; normalise names and countries."""
        orders: dict[str, dict] = {}
        for row in rows:
            quantity = int(row["quantity"]) if row["quantity"].strip() else 0
            if row["status"] != "shipped" or quantity <= 0:
                continue
            orders[row["order_id"]] = {
                "order_id": int(row["order_id"]),
                "customer": row["customer"].strip(),
                "country": row["country"].strip().upper(),
                "revenue": round(quantity * float(row["unit_price"]), 2),
            }
        print(f"kept {len(orders)} of {len(rows)} rows")
        return list(orders.values())

    @task
    def revenue_by_country(orders: list[dict]) -> list[dict]:
        """One row per country: how many orders and how much revenue."""
        totals: dict[str, dict] = defaultdict(lambda: {"orders": 0, "revenue": 0.0})
        for order in orders:
            total = totals[order["country"]]
            total["orders"] += 1
            total["revenue"] = round(total["revenue"] + order["revenue"], 2)
        return [{"country": country, **total} for country, total in sorted(totals.items())]

    @task
    def load(totals: list[dict], ds=None) -> str:
        """Replace this run's rows (keyed by ``ds``) in the ``revenue`` table; return the database path."""
        path = database_path()
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS revenue ("
                " ds TEXT, country TEXT, orders INTEGER, revenue REAL, PRIMARY KEY (ds, country))"
            )
            db.execute("DELETE FROM revenue WHERE ds = ?", (ds,))
            db.executemany(
                "INSERT INTO revenue VALUES (?, ?, ?, ?)",
                [(ds, t["country"], t["orders"], t["revenue"]) for t in totals],
            )
        return str(path)

    @task
    def summarize(path: str, ds=None) -> dict:
        """Read the loaded rows back, as a check that the load worked."""
        with sqlite3.connect(path) as db:
            rows = db.execute(
                "SELECT country, orders, revenue FROM revenue WHERE ds = ? ORDER BY revenue DESC", (ds,)
            ).fetchall()
        return {
            "countries": len(rows),
            "orders": sum(orders for _, orders, _ in rows),
            "revenue": round(sum(revenue for _, _, revenue in rows), 2),
            "top_country": rows[0][0] if rows else None,
        }

    summarize(load(revenue_by_country(clean(extract()))))

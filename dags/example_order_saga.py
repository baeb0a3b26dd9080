"""
### An order as a saga: each step says how to undo itself

```
open_stock ─> reserve_stock ─> charge_card ─> ship_order
              (undo: release)  (undo: refund)
```

* `reserve_stock` takes items out of a small SQLite warehouse; its compensation, declared with
  `@reserve_stock.compensation`, puts them back. A compensation receives the task's own arguments
  and then its return value (here the reservation id).
* `charge_card` records a payment in the same database; `@charge_card.compensation` refunds it.
  It also reads `context["compensation"]`: which tasks failed and why it runs.
* `ship_order` fails when the run's conf says so (`{"fail_shipping": true}`). The run then ends
  `failed`, and dagflow compensates what succeeded, in reverse order: the refund first, then the
  release of the stock. `open_stock` has no compensation and is left alone; `ship_order` failed,
  so it has nothing to undo.
* The run's state stays `failed`; its compensation state (`compensated`) is a field of its own.

Try it:

    dagflow dags test example_order_saga --json
    dagflow dags test example_order_saga --conf '{"fail_shipping": true}' --json

The second prints `"compensation": {"state": "compensated", "tasks": {"charge_card": "success",
"reserve_stock": "success"}, "order": ["charge_card", "reserve_stock"]}`, and the warehouse has
its stock back. With the scheduler, `dagflow runs compensate example_order_saga RUN_ID` undoes a
run that succeeded (an order cancelled later), and `--resume` retries compensations that failed.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path

from dagflow import DAG, Param, task

#: The warehouse of this deployment: a file in its DAGFLOW_HOME (each test and each machine its own).
WAREHOUSE = str(Path(os.environ.get("DAGFLOW_HOME", "~/dagflow")).expanduser() / "example_order_saga.sqlite")


def connect(path: str) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, quantity INTEGER)")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS reservation (id TEXT PRIMARY KEY, sku TEXT, quantity INTEGER)"
    )
    connection.execute(
        "CREATE TABLE IF NOT EXISTS payment (id TEXT PRIMARY KEY, amount REAL, refunded INTEGER)"
    )
    return connection


@task
def open_stock(params=None) -> str:
    """Make sure the warehouse has the item (a fresh machine starts with 10)."""
    with connect(params["warehouse"]) as db:
        db.execute("INSERT OR IGNORE INTO stock VALUES (?, 10)", (params["sku"],))
    return params["sku"]


@task(retries=1, retry_delay=1)
def reserve_stock(sku: str, quantity: int, params=None) -> str:
    reservation = uuid.uuid4().hex
    with connect(params["warehouse"]) as db:
        (left,) = db.execute("SELECT quantity FROM stock WHERE sku = ?", (sku,)).fetchone()
        if left < quantity:
            raise RuntimeError(f"only {left} of {sku} left, {quantity} wanted")
        db.execute("UPDATE stock SET quantity = quantity - ? WHERE sku = ?", (quantity, sku))
        db.execute("INSERT INTO reservation VALUES (?, ?, ?)", (reservation, sku, quantity))
    return reservation


@reserve_stock.compensation
def release_stock(sku: str, quantity: int, reservation: str, params=None) -> None:
    """Put the reserved items back; doing it twice must not release twice (the row is gone)."""
    with connect(params["warehouse"]) as db:
        found = db.execute("SELECT quantity FROM reservation WHERE id = ?", (reservation,)).fetchone()
        if found is not None:
            db.execute("DELETE FROM reservation WHERE id = ?", (reservation,))
            db.execute("UPDATE stock SET quantity = quantity + ? WHERE sku = ?", (found[0], sku))
    print(f"released {quantity} x {sku} (reservation {reservation})")


@task
def charge_card(reservation: str, params=None) -> str:
    payment = uuid.uuid4().hex
    with connect(params["warehouse"]) as db:
        db.execute("INSERT INTO payment VALUES (?, ?, 0)", (payment, params["amount"]))
    return payment


@charge_card.compensation
def refund_card(reservation: str, payment: str, params=None, compensation=None) -> None:
    with connect(params["warehouse"]) as db:
        db.execute("UPDATE payment SET refunded = 1 WHERE id = ?", (payment,))
    print(f"refunded payment {payment}: {', '.join(compensation['failed_tasks'])} failed")


@task
def ship_order(payment: str, params=None) -> str:
    if params["fail_shipping"]:
        raise RuntimeError("the carrier refused the parcel")
    return f"shipped, paid by {payment}"


with DAG(
    "example_order_saga",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    tags=["example", "saga"],
    doc_md=__doc__,
    params={
        "warehouse": Param(WAREHOUSE, type="string"),
        "sku": Param("apple", type="string"),
        "quantity": Param(2, type="integer", minimum=1),
        "amount": Param(9.5, type="number"),
        "fail_shipping": Param(False, type="boolean"),
    },
) as dag:
    sku = open_stock()
    reservation = reserve_stock(sku, quantity=2)
    ship_order(charge_card(reservation))

"""XComs beyond JSON: datetimes, dates, sets, tuples and Decimals round-trip between tasks."""

from datetime import date
from decimal import Decimal

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def xcom_rich_values():
    @task
    def produce_when():
        return pendulum.datetime(2024, 2, 29, 12, 30, tz="UTC")

    @task
    def produce_tags():
        return {"red", "green", "blue"}

    @task
    def produce_pair():
        return ("left", 2)

    @task
    def produce_money():
        return {"amount": Decimal("19.99"), "day": date(2024, 3, 1)}

    @task
    def inspect(when, tags, pair, money):
        return {
            "when": [type(when).__name__, when.add(days=1).to_date_string()],
            "tags": [type(tags).__name__, "green" in tags, len(tags)],
            "pair": [type(pair).__name__, pair[1] * 2],
            "money": [type(money["amount"]).__name__, str(money["amount"] * 2), money["day"].isoformat()],
        }

    inspect(produce_when(), produce_tags(), produce_pair(), produce_money())


xcom_rich_values()

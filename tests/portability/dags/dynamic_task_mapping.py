"""Dynamic task mapping as the Airflow docs show it: expand, partial, and a reduce step."""

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def dynamic_task_mapping():
    @task
    def make_list():
        return [1, 2, 3]

    @task
    def add(x, y):
        return x + y

    @task
    def total(values):
        return sum(values)

    added = add.partial(y=10).expand(x=make_list())
    total(added)


dynamic_task_mapping()

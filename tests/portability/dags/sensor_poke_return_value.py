"""Sensors that hand a value to their downstream with PokeReturnValue: a @task.sensor and a
BaseSensorOperator subclass, each done on its second poke."""

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, BaseSensorOperator, PokeReturnValue, task


class CountingSensor(BaseSensorOperator):
    """Done once it has poked ``needed`` times; pushes how many pokes it took."""

    def __init__(self, *, needed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.needed = needed
        self.pokes = 0

    def poke(self, context) -> PokeReturnValue:
        self.pokes += 1
        return PokeReturnValue(is_done=self.pokes >= self.needed, xcom_value={"pokes": self.pokes})


with DAG(
    dag_id="sensor_poke_return_value",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    attempts: list[int] = []

    @task.sensor(poke_interval=0.05, timeout=30, mode="poke")
    def wait_for_upload() -> PokeReturnValue:
        attempts.append(1)
        ready = len(attempts) >= 2
        return PokeReturnValue(is_done=ready, xcom_value="s3://bucket/upload.csv" if ready else None)

    @task
    def process(path: str, counted: dict) -> str:
        return f"{path} after {counted['pokes']} pokes"

    counter = CountingSensor(task_id="counter", needed=2, poke_interval=timedelta(seconds=0.05))
    process(wait_for_upload(), counter.output)

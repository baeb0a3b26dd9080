"""Sensors in reschedule mode, a soft_fail sensor that times out (skipped), a sensor timeout that does
not retry, and @task.sensor returning PokeReturnValue after a few pokes."""

import tempfile
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG, PokeReturnValue, get_current_context, task

with DAG(
    dag_id="sensors_reschedule_soft_fail",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    # soft_fail: a sensor that times out is skipped instead of failed
    partner_feed = PythonSensor(
        task_id="partner_feed",
        python_callable=lambda: False,
        mode="reschedule",
        poke_interval=1,
        timeout=2,
        soft_fail=True,
    )
    use_feed = EmptyOperator(task_id="use_feed")
    partner_feed >> use_feed

    # a sensor timeout fails the task at once: retries are not used
    warehouse_ready = PythonSensor(
        task_id="warehouse_ready",
        python_callable=lambda: False,
        poke_interval=1,
        timeout=1,
        retries=2,
        retry_delay=pendulum.duration(seconds=0),
    )
    load = EmptyOperator(task_id="load")
    warehouse_ready >> load

    # reschedule mode frees the worker between pokes; the pokes share one try
    @task.sensor(poke_interval=1, timeout=30, mode="reschedule")
    def file_count(run_id=None, ti=None):
        marker = Path(tempfile.gettempdir()) / ("sensor_pokes_" + "".join(c for c in run_id if c.isalnum()))
        if ti.get_first_reschedule_date(get_current_context()) is None:
            marker.unlink(missing_ok=True)  # the try's first poke starts counting anew
        pokes = int(marker.read_text()) + 1 if marker.exists() else 1
        marker.write_text(str(pokes))
        if pokes < 3:
            return PokeReturnValue(is_done=False)
        marker.unlink()
        return PokeReturnValue(is_done=True, xcom_value={"pokes": pokes})

    @task
    def report(found):
        return found["pokes"]

    report(file_count())

"""BranchDayOfWeekOperator with WeekDay, and DayOfWeekSensor, both on the logical date (a Saturday)."""

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.weekday import BranchDayOfWeekOperator
from airflow.providers.standard.sensors.weekday import DayOfWeekSensor
from airflow.providers.standard.utils.weekday import WeekDay
from airflow.sdk import DAG

with DAG(
    dag_id="std_branch_weekday",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    schedule="@daily",
) as dag:
    weekend_check = BranchDayOfWeekOperator(
        task_id="weekend_check",
        week_day={WeekDay.SATURDAY, WeekDay.SUNDAY},
        use_task_logical_date=True,
        follow_task_ids_if_true="weekend",
        follow_task_ids_if_false="workday",
    )
    weekend = EmptyOperator(task_id="weekend")
    workday = EmptyOperator(task_id="workday")
    weekend_check >> [weekend, workday]

    wait_for_saturday = DayOfWeekSensor(
        task_id="wait_for_saturday",
        week_day="Saturday",
        use_task_logical_date=True,
        poke_interval=1,
        timeout=5,
    )
    wait_for_saturday >> weekend

"""Templates computing with the pendulum logical_date, as Airflow's templating docs do."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

with DAG(
    dag_id="templated_logical_date",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    tomorrow = BashOperator(
        task_id="tomorrow",
        bash_command="echo {{ logical_date.add(days=1).format('YYYY-MM-DD') }}",
    )
    stamp = BashOperator(
        task_id="stamp",
        bash_command=(
            "echo {{ ds_nodash }}-{{ logical_date.format('dddd') }}-{{ logical_date.end_of('month').day }}"
        ),
    )
    week = PythonOperator(
        task_id="week",
        python_callable=lambda when: when,
        op_args=[
            "{{ logical_date.start_of('week').to_date_string() }}/{{ logical_date.subtract(hours=1).hour }}"
        ],
    )
    tomorrow >> stamp >> week

"""A classic DAG written with the Airflow 2 import paths Airflow 3 still accepts."""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator
from airflow.utils.trigger_rule import TriggerRule

default_args = {
    "owner": "data-team",
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
}


def _count_words(sentence):
    return len(sentence.split())


with DAG(
    dag_id="airflow2_import_paths",
    default_args=default_args,
    start_date=datetime(2023, 6, 1),
    schedule="@daily",
    catchup=False,
) as dag:
    start = EmptyOperator(task_id="start")
    count = PythonOperator(
        task_id="count_words",
        python_callable=_count_words,
        op_kwargs={"sentence": "the quick brown fox"},
    )
    shout = BashOperator(task_id="shout", bash_command="echo DONE")
    fails = BashOperator(task_id="fails", bash_command="exit 3", retries=0)
    always = EmptyOperator(task_id="always", trigger_rule=TriggerRule.ALL_DONE)
    after_failure = EmptyOperator(task_id="after_failure")

    start >> [count, shout, fails]
    [count, shout, fails] >> always
    fails >> after_failure

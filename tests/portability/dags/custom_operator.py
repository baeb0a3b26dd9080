"""A custom operator as Airflow's "Creating a custom Operator" guide writes one: template fields,
execute(context), a log line, and an Airflow 2 style @task from airflow.decorators downstream."""

from datetime import datetime

from airflow.decorators import task
from airflow.models.baseoperator import BaseOperator, chain
from airflow.sdk import DAG


class HelloOperator(BaseOperator):
    template_fields = ("name",)

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.name = name

    def execute(self, context):
        message = f"Hello {self.name} on {context['logical_date'].format('MMM D, YYYY')}"
        self.log.info(message)
        return message


with DAG(dag_id="custom_operator", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    hello = HelloOperator(task_id="hello", name="{{ params.who }}", params={"who": "Ada"})

    @task
    def shout(message):
        return message.upper()

    @task
    def length(message):
        return len(message)

    loud = shout(hello.output)
    chain(hello, [loud, length(hello.output)])

"""A JSON Variable drives dynamic task mapping; a secret Variable is used but never returned."""

import pendulum
from airflow.sdk import DAG, Variable, task

with DAG(
    dag_id="variable_driven_mapping",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
):

    @task
    def list_regions():
        return Variable.get("regions", deserialize_json=True)

    @task
    def process(region: str):
        token = Variable.get("service_api_token")
        print(f"calling the service for {region} with {token}")
        return f"{region}:{len(token)}"

    @task
    def summary(results):
        return sorted(results)

    summary(process.expand(region=list_regions()))

"""Variables read in tasks through the Variable model: text, JSON, a default for a missing key, and the
KeyError it raises for a key that is not set."""

import pendulum
from airflow.models import Variable
from airflow.sdk import DAG, task

with DAG(
    dag_id="variables_from_env",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["variables"],
):

    @task
    def read_text():
        return Variable.get("country")

    @task
    def read_json():
        config = Variable.get("pipeline_config", deserialize_json=True)
        return {"batch": config["batch_size"], "first_table": config["tables"][0]}

    @task
    def read_missing():
        fallback = Variable.get("not_configured", default_var="fallback")
        try:
            Variable.get("also_not_configured")
        except KeyError:
            return [fallback, "missing"]
        return [fallback, "present"]

    @task
    def combine(country: str, config: dict, missing: list):
        return f"{country}:{config['batch']}:{missing[0]}"

    combine(read_text(), read_json(), read_missing())

"""Transforming upstream outputs before mapping over them: .map(), .zip() with and without a
fillvalue, .concat(), and expand_kwargs over a mapped output."""

import pendulum
from airflow.sdk import DAG, task

with DAG(
    dag_id="xcom_map_zip_concat",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):

    @task
    def cities() -> list[str]:
        return ["oslo", "lima", "rome"]

    @task
    def temperatures() -> list[int]:
        return [3, 19]

    @task
    def report(pair) -> str:
        city, temp = pair
        return f"{city}={temp}"

    @task
    def shout(word: str) -> str:
        return word

    @task
    def convert(city: str, unit: str) -> str:
        return f"{city} in {unit}"

    names, temps = cities(), temperatures()
    report.override(task_id="paired").expand(pair=names.zip(temps))
    report.override(task_id="padded").expand(pair=names.zip(temps, fillvalue="n/a"))
    shout.expand(word=names.concat(temps.map(str)).map(lambda w: w.upper()))
    convert.expand_kwargs(names.map(lambda c: {"city": c, "unit": "C" if c != "lima" else "F"}))

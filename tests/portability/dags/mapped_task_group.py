"""Dynamic task mapping over a task group: one pass of the group's tasks per file, each map index
pulling its own upstream in the group, and a summary downstream that sees every index."""

import pendulum
from airflow.sdk import dag, get_current_context, task, task_group


@dag(
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mapping"],
)
def mapped_task_group():
    @task
    def list_files() -> list[str]:
        return ["a.csv", "bb.csv", "ccc.csv"]

    @task_group(group_id="process")
    def process(file_name: str, suffix: str):
        @task
        def measure(file_name: str) -> int:
            return len(file_name.removesuffix(".csv"))

        @task
        def describe(size: int, suffix: str) -> str:
            index = get_current_context()["ti"].map_index
            return f"{index}:{size}{suffix}"

        return describe(measure(file_name), suffix)

    @task
    def summarize(descriptions: list[str]) -> str:
        return ", ".join(descriptions)

    summarize(process.partial(suffix="B").expand(file_name=list_files()))


mapped_task_group()

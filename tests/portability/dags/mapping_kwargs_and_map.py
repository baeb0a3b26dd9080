"""Dynamic task mapping beyond expand(x=...): a classic operator mapped over op_kwargs, expand_kwargs
over a list of dicts, XComArg.map, a mapped BashOperator, map_index_template and an empty expansion."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import dag, task


def load_file(target, name, rows):
    return f"{target}/{name}:{rows}"


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def mapping_kwargs_and_map():
    @task
    def list_files():
        return [{"name": "a.csv", "rows": 3}, {"name": "b.csv", "rows": 5}]

    files = list_files()

    loads = PythonOperator.partial(
        task_id="load",
        python_callable=load_file,
        op_args=["warehouse"],
        map_index_template="{{ task.op_kwargs['name'] }}",
    ).expand(op_kwargs=files)

    @task
    def describe(name, rows, unit="rows"):
        return f"{name} has {rows} {unit}"

    described = describe.partial(unit="lines").expand_kwargs(files)

    @task
    def shout(name):
        return name

    # .map() transforms each element lazily, before the mapped task sees it
    shout.expand(name=files.map(lambda f: f["name"].upper()))

    BashOperator.partial(task_id="count").expand(bash_command=["echo 1", "echo 22", "echo 333"])

    @task
    def collect(loaded, descriptions):
        return {"loaded": list(loaded), "descriptions": list(descriptions)}

    collect(loads.output, described)

    @task
    def nothing_new():
        return []

    @task
    def process(item):
        return item

    @task
    def summarize(items):
        return len(list(items))

    # a zero-length expansion skips the mapped task, and all_success then skips what needs it
    summarize(process.expand(item=nothing_new()))


mapping_kwargs_and_map()

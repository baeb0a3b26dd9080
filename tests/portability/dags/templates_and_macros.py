"""Templates as Airflow users write them: a .sql file found through template_searchpath,
user-defined macros and filters, the macros module, and render_template called from a task."""

import os

import pendulum
from airflow.sdk import DAG, BaseOperator, get_current_context, task


class ReportOperator(BaseOperator):
    """Renders a SQL file (template_ext) and returns the statement it would run."""

    template_fields = ("sql",)
    template_ext = (".sql",)

    def __init__(self, *, sql: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sql = sql

    def execute(self, context) -> str:
        return " ".join(line.strip() for line in self.sql.splitlines() if not line.startswith("--"))


with DAG(
    dag_id="templates_and_macros",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    template_searchpath=[os.path.join(os.path.dirname(__file__), "templates")],
    user_defined_macros={"region": "emea"},
    user_defined_filters={"shout": lambda text: text.upper()},
    params={"table": "sales"},
):
    ReportOperator(task_id="weekly_report", sql="daily_report.sql")

    @task
    def dates(ds=None) -> list[str]:
        macros = get_current_context()["macros"]
        return [
            macros.ds_format(ds, "%Y-%m-%d", "%d/%m/%Y"),
            macros.ds_add(ds, 31),
            (macros.datetime(2024, 1, 1) + macros.timedelta(days=1)).strftime("%a"),
            str(macros.dateutil.relativedelta.relativedelta(months=2).months),
        ]

    @task
    def rendered_here() -> str:
        context = get_current_context()
        return context["task"].render_template(
            "{{ region | shout }}-{{ ds_nodash }}-{{ params.table }}", context
        )

    dates()
    rendered_here()

"""Variables and connection fields in templates: var.value, var.json, var.value.get and conn.<id>.*."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(
    dag_id="templated_var_and_conn",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
):
    greet = BashOperator(
        task_id="greet",
        bash_command="echo '{{ var.value.environment }}-{{ var.json.limits.max_rows }}-{{ ds_nodash }}'",
    )

    endpoint = BashOperator(
        task_id="endpoint",
        bash_command=(
            "echo '{{ conn.reporting_api.host }}:{{ conn.reporting_api.port }}"
            "/{{ conn.reporting_api.schema }}?user={{ conn.reporting_api.login }}'"
        ),
    )

    fallback = BashOperator(
        task_id="fallback",
        bash_command=(
            "echo \"{{ var.value.get('unset_variable', 'none') }} {{ var.json.limits.tables | length }}\""
        ),
    )

    greet >> endpoint >> fallback

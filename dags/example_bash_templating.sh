#!/usr/bin/env bash
# A script template: dagflow renders it with Jinja (the same context as any templated field), then runs it.
set -euo pipefail

echo "Nightly report for {{ ds }} (run {{ run_id }})"
{% for region in params.regions %}
echo "  checking region {{ region }}"
{% endfor %}
echo "rows={{ ti.xcom_pull(task_ids='count_rows') }} regions={{ params.regions | length }}"

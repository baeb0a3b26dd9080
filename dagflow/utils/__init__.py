"""Small helpers DAG authors import, as Airflow's ``airflow.utils`` offers them (``WeekDay``)."""

"""What a try's log holds: the task's prints, its operators' log lines, and the records of any logger
its code uses (a DAG file's ``logging.getLogger(__name__)``), as Airflow's task logs do."""

from __future__ import annotations

import io
import logging
import threading
from datetime import UTC, datetime

from dagflow import DAG, task


def test_records_of_the_tasks_own_loggers_are_in_its_log_at_info():
    with DAG("own_logger", schedule=None) as dag:

        @task
        def report():
            logging.getLogger("my_pipeline.report").info("rows loaded: %d", 42)
            logging.getLogger("my_pipeline.report").debug("not at debug")

        report()

    root_level = logging.getLogger().level
    log = io.StringIO()
    dag.test(logical_date=datetime(2024, 1, 1, tzinfo=UTC), log_stream=log)
    assert "my_pipeline.report - rows loaded: 42" in log.getvalue()
    assert "not at debug" not in log.getvalue()
    assert logging.getLogger().level == root_level


def test_dagflows_own_loggers_stay_out_of_the_task_log():
    with DAG("machinery", schedule=None) as dag:

        @task
        def busy():
            logging.getLogger("dagflow.executors.heartbeat").warning("beat")

        busy()

    log = io.StringIO()
    dag.test(logical_date=datetime(2024, 1, 1, tzinfo=UTC), log_stream=log)
    assert "beat" not in log.getvalue()


def test_records_other_threads_log_meanwhile_stay_out_of_the_task_log():
    with DAG("other_thread", schedule=None) as dag:

        @task
        def busy():
            beside = threading.Thread(target=lambda: logging.getLogger("broker.consumer").warning("polled"))
            beside.start()
            beside.join()
            logging.getLogger("my_pipeline").warning("mine")

        busy()

    log = io.StringIO()
    dag.test(logical_date=datetime(2024, 1, 1, tzinfo=UTC), log_stream=log)
    assert "my_pipeline - mine" in log.getvalue()
    assert "polled" not in log.getvalue()

"""The Celery application dagflow's scheduler and Celery workers share: its settings and its message.

Delivery is at least once without double execution: a message is acknowledged only once its attempt
has ended (``acks_late``), a worker process prefetches no more than the one it runs (prefetch of one),
and a message whose worker died is handed to another (``task_reject_on_worker_lost``). The broker's
visibility timeout (Redis) is longer than any timeout in force, so a message is not redelivered while
its attempt still runs. A message can still arrive twice (a redelivery, a re-send of a message stuck
in the queue); its claim fails then (its task instance is no longer queued with its token) and it is
dropped, so a try never runs twice.

No result backend: the metadata store is the truth about every attempt, and the worker's commit wakes
the schedulers (``LISTEN/NOTIFY`` on PostgreSQL), wherever they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagflow.config import Settings
from dagflow.exceptions import DagflowConfigError

#: The name of the one Celery task: run one attempt.
TASK_NAME = "dagflow.run_attempt"
#: The queue name tasks declare by default (``queue="default"``): it stands for ``[operators] default_queue``.
AUTHORING_DEFAULT_QUEUE = "default"


@dataclass(frozen=True)
class CelerySettings:
    """What the scheduler's executor and a Celery worker read from the settings."""

    broker_url: str
    default_queue: str = "default"
    #: Seconds a message may wait in its queue before it is re-sent, then failed.
    queued_timeout: float = 600.0
    #: How many times a message stuck in its queue is re-sent before its task instance is failed.
    stuck_retries: int = 2
    visibility_timeout: int = 21600
    dags_folder: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> CelerySettings:
        broker = str(settings.get("celery", "broker_url") or "").strip()
        if not broker.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
            raise DagflowConfigError(
                f"[celery] broker_url = {broker!r} is not a Redis (redis://) or RabbitMQ (amqp://) URL "
                f"({settings.source('celery', 'broker_url')})"
            )
        queued_timeout = settings.getfloat("scheduler", "task_queued_timeout")
        visibility = settings.getint("celery", "visibility_timeout")
        return cls(
            broker_url=broker,
            default_queue=str(settings.get("operators", "default_queue") or "default"),
            queued_timeout=queued_timeout,
            stuck_retries=settings.getint("celery", "stuck_in_queued_retries"),
            # never shorter than the time a message may legitimately wait or run
            visibility_timeout=max(visibility, int(queued_timeout) * 2),
            dags_folder=str(settings.dags_folder),
        )

    def queue_of(self, queue: str) -> str:
        """The Celery queue for a task's ``queue=``: the authoring default stands for ``[operators]
        default_queue``."""
        return self.default_queue if queue == AUTHORING_DEFAULT_QUEUE else queue


def make_app(settings: CelerySettings, *, name: str = "dagflow") -> Any:
    """A Celery app on ``settings.broker_url`` configured for at-least-once delivery (see the module
    docstring); nothing connects before the first message."""
    from celery import Celery

    app = Celery(name, broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=settings.default_queue,
        task_create_missing_queues=True,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    return app

"""TriggerDagRunOperator: start a run of another DAG, and optionally wait for it to finish."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from dagflow.core.clock import utcnow
from dagflow.core.states import RunState
from dagflow.exceptions import DagDefinitionError, DagflowError, SkipTask
from dagflow.models.baseoperator import BaseOperator
from dagflow.runtime.dag_trigger import DagRunAlreadyExists, TriggerRequest

if TYPE_CHECKING:
    from dagflow.context import Context

XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"
XCOM_RUN_ID = "trigger_run_id"
XCOM_DAG_ID = "trigger_dag_id"


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()


class DagIsPaused(DagflowError):
    """The DAG to trigger is paused, and the operator was told to fail then."""


class TriggerDagRunLink:
    """The link from a TriggerDagRunOperator's task instance to the run it triggered."""

    name = "Triggered DAG"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        """The page of the triggered run, from the XComs the task pushed (empty before it ran)."""
        dag_id = ti_key.xcom_pull(task_ids=ti_key.task_id, key=XCOM_DAG_ID, map_indexes=ti_key.map_index)
        run_id = ti_key.xcom_pull(task_ids=ti_key.task_id, key=XCOM_RUN_ID, map_indexes=ti_key.map_index)
        if not dag_id or not run_id:
            return ""
        return f"/dags/{quote(str(dag_id), safe='')}/runs/{quote(str(run_id), safe=':+')}"


def _run_states(states: Sequence[Any] | None, default: RunState, name: str, where: str) -> list[str]:
    values = [str(getattr(s, "value", s)) for s in states] if states else [default.value]
    known = {s.value for s in RunState}
    bad = [v for v in values if v not in known]
    if bad:
        raise DagDefinitionError(f"{where}: {name} {bad} are not DAG run states ({', '.join(sorted(known))})")
    return values


class TriggerDagRunOperator(BaseOperator):
    """Triggers a run of ``trigger_dag_id`` (templated), with ``conf`` and ``logical_date`` (templated;
    now by default) and ``trigger_run_id`` (default ``manual__<logical date>``).

    When such a run exists already: with ``reset_dag_run`` it is cleared to run again (its conf stays),
    with ``skip_when_already_exists`` this task is skipped, otherwise it fails. With
    ``wait_for_completion`` the task then checks the run's state every ``poke_interval`` seconds until it
    is in ``allowed_states`` (default success) or fails it when in ``failed_states`` (default failed).
    The triggered run's id is pushed as XCom ``trigger_run_id``, and the task instance page links to it.
    ``deferrable`` and ``openlineage_inject_parent_info`` are accepted for Airflow files and change
    nothing; ``note`` is logged.
    """

    template_fields: ClassVar[Sequence[str]] = (
        "trigger_dag_id",
        "trigger_run_id",
        "logical_date",
        "conf",
        "wait_for_completion",
        "skip_when_already_exists",
    )
    template_fields_renderers = {"conf": "py"}
    ui_color = "#ffefeb"
    operator_extra_links = (TriggerDagRunLink(),)

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: str | datetime | None = NOTSET,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float = 60,
        allowed_states: list[str | RunState] | None = None,
        failed_states: list[str | RunState] | None = None,
        skip_when_already_exists: bool = False,
        fail_when_dag_is_paused: bool = False,
        openlineage_inject_parent_info: bool = True,
        deferrable: bool = False,
        note: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = f"TriggerDagRunOperator(task_id={self.task_id!r})"
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf
        self.reset_dag_run = reset_dag_run
        self.wait_for_completion = wait_for_completion
        self.poke_interval = poke_interval
        self.allowed_states = _run_states(allowed_states, RunState.SUCCESS, "allowed_states", where)
        self.failed_states = (
            _run_states(failed_states, RunState.FAILED, "failed_states", where)
            if failed_states is None or failed_states
            else []
        )
        self.skip_when_already_exists = skip_when_already_exists
        self.fail_when_dag_is_paused = fail_when_dag_is_paused
        self.openlineage_inject_parent_info = openlineage_inject_parent_info  # no lineage here: unused
        self.deferrable = deferrable
        self.note = note
        if logical_date is not NOTSET and not isinstance(logical_date, (str, datetime, type(None))):
            raise DagDefinitionError(
                f"{where}: logical_date must be a str, a datetime or None, got {type(logical_date).__name__}"
            )
        self.logical_date = logical_date

    def _where(self) -> str:
        return f"task {self.task_id!r}"

    def _logical_date(self) -> datetime:
        value = self.logical_date
        if value is NOTSET or value is None:  # no date of its own: the moment it is triggered
            return utcnow()
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise DagflowError(
                    f"{self._where()}: logical_date {value!r} is not an ISO 8601 date"
                ) from None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def _conf(self) -> dict[str, Any]:
        """The conf as a dict; a rendered template may have made it JSON text, which is read back."""
        if self.conf is None:
            return {}
        try:
            if isinstance(self.conf, str):
                self.conf = json.loads(self.conf)
            json.dumps(self.conf)
        except (TypeError, ValueError):
            raise DagflowError(
                f"{self._where()}: conf must be JSON serializable, got {self.conf!r}"
            ) from None
        if not isinstance(self.conf, dict):
            raise DagflowError(f"{self._where()}: conf must be a dict, got {type(self.conf).__name__}")
        return dict(self.conf)

    def execute(self, context: Context) -> Any:
        ti = context["ti"]
        triggerer = ti.triggerer()
        logical_date = self._logical_date()
        request = TriggerRequest(
            dag_id=str(self.trigger_dag_id),
            run_id=str(self.trigger_run_id) if self.trigger_run_id else f"manual__{logical_date.isoformat()}",
            logical_date=logical_date,
            conf=self._conf(),
            triggered_by=f"{ti.dag_id}.{ti.task_id}",
        )
        if self.fail_when_dag_is_paused and triggerer.is_paused(request.dag_id):
            raise DagIsPaused(f"DAG {request.dag_id!r} is paused")
        if self.note is not None:
            self.log.info("Triggered DAG with note: %s", self.note)
        ti.xcom_push(XCOM_DAG_ID, request.dag_id)
        run_id = self.trigger_run_id = self._trigger(triggerer, request)
        ti.xcom_push(XCOM_RUN_ID, run_id)
        ti.xcom_push(XCOM_LOGICAL_DATE_ISO, logical_date.isoformat())
        if self.wait_for_completion:
            self._wait(triggerer, request.dag_id, run_id)
        return None

    def _trigger(self, triggerer: Any, request: TriggerRequest) -> str:
        try:
            run_id = triggerer.trigger(request)
        except DagRunAlreadyExists:
            if self.reset_dag_run:
                self.log.info("Clearing %s on %s", request.dag_id, request.run_id)
                return str(triggerer.reset(request.dag_id, request.run_id, request.logical_date))
            if self.skip_when_already_exists:
                raise SkipTask(
                    "Skipping due to skip_when_already_exists is set to True and DagRunAlreadyExists"
                ) from None
            raise
        self.log.info("Triggered run %s of DAG %s", run_id, request.dag_id)
        return str(run_id)

    def _wait(self, triggerer: Any, dag_id: str, run_id: str) -> None:
        while True:
            self.log.info(
                "Waiting for %s on %s to become allowed state %s ...", dag_id, run_id, self.allowed_states
            )
            state = triggerer.run_state(dag_id, run_id)
            if state is None:
                raise DagflowError(f"the run {run_id!r} of DAG {dag_id!r} no longer exists")
            if state in self.failed_states:
                raise DagflowError(f"{dag_id} failed with failed states {state}")
            if state in self.allowed_states:
                self.log.info("%s finished with allowed state %s", dag_id, state)
                return
            time.sleep(float(self.poke_interval))

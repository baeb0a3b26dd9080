"""The DAG: its tasks, their dependencies (a networkx graph), its schedule and its defaults."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jinja2

from dagflow.core.schedule import Timetable, parse_schedule
from dagflow.core.spec import DagSpec, TaskSpec
from dagflow.core.trigger_rules import TriggerRule
from dagflow.exceptions import (
    DagCycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    TaskNotFound,
)
from dagflow.models import context_stack, setup_teardown
from dagflow.models.airflow_args import check_dag_arguments
from dagflow.models.baseoperator import as_callbacks, validate_key
from dagflow.models.compensation import (
    COMPENSATE_ON,
    check_compensations,
    effective_settings,
    group_queue,
    own_queue,
)
from dagflow.models.param import ParamsDict
from dagflow.models.taskgroup import TaskGroup

if TYPE_CHECKING:
    from types import TracebackType

    import networkx as nx

    from dagflow.models.node import TaskNode
    from dagflow.runtime.inprocess import RunResult


def as_aware(value: datetime | None, tz: Any = UTC) -> datetime | None:
    """A naive datetime is read in ``tz`` (UTC unless the DAG says otherwise)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=tz)


class DAG:
    """A directed acyclic graph of tasks, with a schedule. Use it as ``with DAG("my_dag", ...):``."""

    def __init__(
        self,
        dag_id: str,
        *,
        description: str | None = None,
        schedule: Any = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        template_undefined: type[jinja2.Undefined] = jinja2.StrictUndefined,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable[..., Any]] | None = None,
        default_args: dict[str, Any] | None = None,
        max_active_tasks: int = 16,
        max_active_runs: int = 16,
        max_consecutive_failed_dag_runs: int = 0,
        dagrun_timeout: timedelta | None = None,
        catchup: bool = False,
        on_success_callback: Any = None,
        on_failure_callback: Any = None,
        doc_md: str | None = None,
        params: dict[str, Any] | None = None,
        is_paused_upon_creation: bool | None = None,
        jinja_environment_kwargs: dict[str, Any] | None = None,
        render_template_as_native_obj: bool = False,
        tags: Iterable[str] | None = None,
        owner_links: dict[str, str] | None = None,
        auto_register: bool = True,
        fail_fast: bool = False,
        dag_display_name: str | None = None,
        compensate_on: str = "failure",
        on_compensation_failure_callback: Any = None,
        **airflow_arguments: Any,
    ):
        self.dag_id = validate_key("dag_id", dag_id, "DAG")
        where = f"DAG {dag_id!r}"
        check_dag_arguments(where, airflow_arguments)
        #: Where the DAG is defined: errors found after import (a cycle...) point at this line.
        self.fileloc, self.definition_line = _caller_location()
        self.default_args = dict(default_args or {})
        self.params = ParamsDict(params)
        if "params" in self.default_args:
            self.params.update(self.default_args.pop("params") or {})
        start = _as_datetime(start_date or self.default_args.get("start_date"), "start_date", where)
        self.timezone = start.tzinfo if isinstance(start, datetime) and start.tzinfo else UTC
        self.start_date = as_aware(start, self.timezone)
        end = _as_datetime(end_date or self.default_args.get("end_date"), "end_date", where)
        self.end_date = as_aware(end, self.timezone)
        self.timetable: Timetable = parse_schedule(
            schedule, self.timezone, where, cron_data_intervals=context_stack.cron_data_intervals()
        )
        self.schedule = schedule
        self.description, self.doc_md = description, doc_md
        self.catchup = catchup
        if catchup and self.timetable.can_be_scheduled and self.start_date is None:
            raise DagDefinitionError(f"{where}: catchup=True needs a start_date")
        self.max_active_tasks = _positive(max_active_tasks, "max_active_tasks", where)
        self.max_active_runs = _positive(max_active_runs, "max_active_runs", where)
        self.max_consecutive_failed_dag_runs = max_consecutive_failed_dag_runs
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, timedelta):
            raise DagDefinitionError(f"{where}: dagrun_timeout must be a timedelta")
        self.dagrun_timeout = dagrun_timeout
        self.on_success_callback = as_callbacks(on_success_callback, "on_success_callback", where)
        self.on_failure_callback = as_callbacks(on_failure_callback, "on_failure_callback", where)
        if compensate_on not in COMPENSATE_ON:
            raise DagDefinitionError(
                f"{where}: compensate_on must be one of {', '.join(COMPENSATE_ON)}, got {compensate_on!r}"
            )
        self.compensate_on = compensate_on
        self.on_compensation_failure_callback = as_callbacks(
            on_compensation_failure_callback, "on_compensation_failure_callback", where
        )
        self.is_paused_upon_creation = is_paused_upon_creation
        self.template_searchpath = (
            [template_searchpath] if isinstance(template_searchpath, str) else list(template_searchpath or [])
        )
        self.template_undefined = template_undefined
        self.user_defined_macros = dict(user_defined_macros or {})
        self.user_defined_filters = dict(user_defined_filters or {})
        self.jinja_environment_kwargs = dict(jinja_environment_kwargs or {})
        self.render_template_as_native_obj = render_template_as_native_obj
        self.tags = _tags(tags, where)
        self.owner_links = dict(owner_links or {})
        self.auto_register = auto_register
        self.fail_fast = fail_fast
        self.dag_display_name = dag_display_name or dag_id
        self.task_dict: dict[str, TaskNode] = {}
        self.task_group_dict: dict[str, TaskGroup] = {}
        self.task_group = TaskGroup(None, dag=self)
        #: Information on edges (their ``Label``), by upstream then downstream task id.
        self.edge_info: dict[str, dict[str, dict[str, Any]]] = {}
        self._version = 0
        self._cache: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"

    # -- the with-statement ---------------------------------------------------------------------

    def __enter__(self) -> DAG:
        context_stack.push_dag(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        context_stack.pop_dag()
        if self.auto_register and exc_type is None:
            context_stack.register(self)

    # -- tasks --------------------------------------------------------------------------------

    @property
    def tasks(self) -> list[TaskNode]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    @property
    def folder(self) -> str:
        """The folder of the file that defines the DAG."""
        return os.path.dirname(self.fileloc)

    @property
    def owner(self) -> str:
        """The owners of the DAG's tasks, comma separated (sorted; Airflow's order is arbitrary)."""
        return ", ".join(sorted({str(getattr(t, "owner", "")) for t in self.tasks}))

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    def get_task(self, task_id: str) -> TaskNode:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise TaskNotFound(f"DAG {self.dag_id!r} has no task {task_id!r}") from None

    def add_task(self, task: TaskNode, group: TaskGroup | None = None) -> None:
        """Add ``task`` to this DAG (and to ``group``, the DAG's root group by default)."""
        if task.task_id in self.task_dict and self.task_dict[task.task_id] is not task:
            raise DuplicateTaskIdError(
                f"DAG {self.dag_id!r}: task id {task.task_id!r} is used twice; give each task its own task_id"
            )
        if task.task_id in self.task_group_dict:
            raise DuplicateTaskIdError(
                f"DAG {self.dag_id!r}: task id {task.task_id!r} is also a task group id"
            )
        task.dag = self
        group = group or self.task_group
        task.task_group = group
        self.task_dict[task.task_id] = task
        group.add(task)
        self.edges_changed()
        setup_teardown.note_new_task(task)

    def set_edge_info(self, upstream_task_id: str, downstream_task_id: str, info: dict[str, Any]) -> None:
        """Attach ``info`` (``{"label": ...}``) to the edge between two tasks."""
        self.edge_info.setdefault(upstream_task_id, {})[downstream_task_id] = dict(info)

    def get_edge_info(self, upstream_task_id: str, downstream_task_id: str) -> dict[str, Any]:
        """What is attached to an edge (``{}`` if nothing is)."""
        return dict(self.edge_info.get(upstream_task_id, {}).get(downstream_task_id, {}))

    def edges_changed(self) -> None:
        """Forget what was derived from the graph (order, leaves, spec)."""
        self._version += 1
        self._cache.clear()

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    # -- the graph -----------------------------------------------------------------------------

    @property
    def graph(self) -> nx.DiGraph:
        """The dependency graph: an edge ``a -> b`` means ``b`` runs after ``a``."""
        return self._cached("graph", self._build_graph)

    def _build_graph(self) -> nx.DiGraph:
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self.task_dict)
        graph.add_edges_from(
            (task_id, down) for task_id, t in self.task_dict.items() for down in t.downstream_task_ids
        )
        return graph

    def check_cycle(self) -> None:
        """Raise DagCycleError naming the tasks of a cycle, if the dependencies have one."""
        import networkx as nx

        if nx.is_directed_acyclic_graph(self.graph):  # the common case, several times faster than find_cycle
            return
        cycle = nx.find_cycle(self.graph)
        path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
        raise DagCycleError(f"DAG {self.dag_id!r} has a cycle: {path}")

    @property
    def topological_order(self) -> tuple[str, ...]:
        """Task ids so that every task comes after its upstreams (ties broken by id, for stability)."""
        import networkx as nx

        return self._cached("order", lambda: tuple(nx.lexicographical_topological_sort(self.graph)))

    def relative_ids(self, task_id: str, *, upstream: bool) -> set[str]:
        import networkx as nx

        return set(nx.ancestors(self.graph, task_id) if upstream else nx.descendants(self.graph, task_id))

    @property
    def roots(self) -> list[TaskNode]:
        return [t for t in self.task_dict.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[TaskNode]:
        return [t for t in self.task_dict.values() if not t.downstream_task_ids]

    def state_leaves(self) -> list[str]:
        """The tasks whose final states decide the run's: leaves, looking past ignorable teardowns."""

        def ignorable(t: TaskNode) -> bool:
            return t.is_teardown and not t.on_failure_fail_dagrun

        leaves = [
            task_id
            for task_id, t in self.task_dict.items()
            if not ignorable(t) and all(ignorable(self.task_dict[d]) for d in t.downstream_task_ids)
        ]
        return leaves or [t.task_id for t in self.leaves]

    def relevant_setups(self, task_id: str) -> list[str]:
        """The setups whose scope ``task_id`` is in.

        A setup is in scope when it is upstream of the task and has no teardown, or has one downstream
        of the task.
        """
        down_teardowns = {
            d for d in self.relative_ids(task_id, upstream=False) if self.task_dict[d].is_teardown
        }
        found = []
        for up in sorted(self.relative_ids(task_id, upstream=True)):
            setup = self.task_dict[up]
            if not setup.is_setup:
                continue
            teardowns = {d for d in setup.downstream_task_ids if self.task_dict[d].is_teardown}
            if not teardowns or teardowns & down_teardowns:
                found.append(up)
        return found

    # -- checks ---------------------------------------------------------------------------------

    def validate(self) -> None:
        """Everything that can be checked before a run: cycles, setup/teardown rules, params."""
        self.check_cycle()
        for task in self.task_dict.values():
            self._validate_setup_teardown(task)
        check_compensations(self)
        if self.timetable.can_be_scheduled:
            try:
                self.params.validate()
            except Exception as exc:
                raise DagDefinitionError(
                    f"DAG {self.dag_id!r} has a schedule, so every param needs a valid default: {exc}"
                ) from None

    def _validate_setup_teardown(self, task: TaskNode) -> None:
        where = f"DAG {self.dag_id!r}, task {task.task_id!r}"
        if task.is_setup and task.is_teardown:
            raise DagDefinitionError(f"{where}: a task cannot be both a setup and a teardown")
        if task.on_failure_fail_dagrun and not task.is_teardown:
            raise DagDefinitionError(f"{where}: on_failure_fail_dagrun only applies to teardown tasks")
        if not task.is_setup:
            return
        for down_id in task.downstream_task_ids:
            down = self.task_dict[down_id]
            if not down.is_teardown and down.trigger_rule is not TriggerRule.ALL_SUCCESS:
                raise DagDefinitionError(
                    f"{where}: setup tasks can only have downstream tasks with trigger rule all_success "
                    f"(teardowns excepted), but {down_id!r} has {down.trigger_rule.value}"
                )

    # -- what the scheduler needs ---------------------------------------------------------------

    def spec(self) -> DagSpec:
        """The DAG's structure for the scheduling decisions (cached until the DAG changes)."""
        return self._cached("spec", self._build_spec)

    def _build_spec(self) -> DagSpec:
        order = self.topological_order
        mapped_dependencies = _mapped_dependencies(self)
        weights = _priority_weights(self, order)
        has_setups = any(t.is_setup for t in self.task_dict.values())
        tasks = {
            task_id: _task_spec(self, self.task_dict[task_id], mapped_dependencies, weights, has_setups)
            for task_id in order
        }
        return DagSpec(
            dag_id=self.dag_id,
            tasks=tasks,
            order=order,
            state_leaves=tuple(self.state_leaves()),
            max_active_tasks=self.max_active_tasks,
            max_active_runs=self.max_active_runs,
            extra=_compensation_extra(self),
        )

    # -- running ------------------------------------------------------------------------------

    def test(
        self,
        logical_date: datetime | None = None,
        conf: dict[str, Any] | None = None,
        *,
        run_conf: dict[str, Any] | None = None,
        execution_date: datetime | None = None,
        conn_file_path: str | None = None,
        variable_file_path: str | None = None,
        use_executor: bool = False,
        **kwargs: Any,
    ) -> RunResult:
        """Run one DAG run in this process, with real retries and real operators, and return it.

        Airflow's arguments work too: ``run_conf`` (for ``conf``), ``execution_date`` (Airflow 2's
        ``logical_date``), ``run_after``, ``mark_success_pattern`` (task ids it fully matches succeed
        without running), and ``conn_file_path``/``variable_file_path`` (.env, .json or .yaml files
        whose Connections and Variables come before any other for this run).
        """
        from dagflow.runtime.inprocess import run_dag_test

        return run_dag_test(
            self,
            logical_date=logical_date,
            conf=conf,
            run_conf=run_conf,
            execution_date=execution_date,
            conn_file_path=conn_file_path,
            variable_file_path=variable_file_path,
            use_executor=use_executor,
            **kwargs,
        )

    def param(self, name: str, default: Any = None) -> Any:
        """A reference to param ``name`` that resolves when a task runs (as in ``@dag`` functions)."""
        from dagflow.models.dagparam import DagParam

        return DagParam(self, name, default)


def _caller_location() -> tuple[str, int | None]:
    """The DAG file and line: the first frame outside dagflow's own modules."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("dagflow."):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "<unknown>", None
    return frame.f_code.co_filename, frame.f_lineno


def _as_datetime(value: Any, name: str, where: str) -> datetime | None:
    """A datetime, or an ISO 8601 string as Airflow accepts (``{"start_date": "2024-01-01"}``)."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise DagDefinitionError(
        f"{where}: {name} must be a datetime or an ISO 8601 string such as '2024-01-01', got {value!r}"
    )


def _positive(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DagDefinitionError(f"{where}: {name} must be a positive integer, got {value!r}")
    return value


def _tags(tags: Iterable[str] | None, where: str) -> list[str]:
    result = []
    for tag in tags or []:
        if not isinstance(tag, str) or len(tag) > 100:
            raise DagDefinitionError(f"{where}: tags must be strings of at most 100 characters, got {tag!r}")
        result.append(tag)
    return result


def _mapped_dependencies(dag: DAG) -> set[str]:
    """Task ids whose output some mapped task maps over."""
    from dagflow.models.mappedtaskgroup import mapping_of

    found: set[str] = set()
    for task in dag.task_dict.values():
        if task.is_mapped:
            found.update(u for s in mapping_of(task)[1] for u in s.upstreams())
    return found


def _priority_weights(dag: DAG, order: tuple[str, ...]) -> dict[str, int]:
    """Effective priority per task by its weight rule: itself plus all downstream (or upstream) tasks.

    Reachability is kept as integer bitsets, so a long chain costs n bit-ORs rather than n graph walks.
    """
    index = {task_id: i for i, task_id in enumerate(order)}
    own = [getattr(dag.task_dict[t], "priority_weight", 1) for t in order]
    uniform = len(set(own)) <= 1
    below = _reach_bits(dag, order, index, downstream=True)
    above = _reach_bits(dag, order, index, downstream=False)
    total: dict[str, int] = {}
    for i, task_id in enumerate(order):
        rule = getattr(dag.task_dict[task_id], "weight_rule", "downstream")
        if not isinstance(rule, str):  # a plugin's PriorityWeightStrategy
            total[task_id] = _strategy_weight(dag, task_id, rule)
            continue
        if rule == "absolute":
            total[task_id] = own[i]
            continue
        bits = below[i] if rule == "downstream" else above[i]
        if uniform:
            total[task_id] = own[i] * (1 + bits.bit_count())
        else:
            total[task_id] = own[i] + sum(own[j] for j in range(len(order)) if bits >> j & 1)
    return total


def _strategy_weight(dag: DAG, task_id: str, strategy: Any) -> int:
    from dagflow.models.priority_strategy import CreatedTaskInstance

    weight = strategy.get_weight(CreatedTaskInstance(dag.task_dict[task_id], dag.dag_id, task_id))
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise DagDefinitionError(
            f"DAG {dag.dag_id!r}, task {task_id!r}: {type(strategy).__name__}.get_weight returned "
            f"{weight!r}; it must return an integer"
        )
    return weight


def _reach_bits(dag: DAG, order: tuple[str, ...], index: dict[str, int], *, downstream: bool) -> list[int]:
    bits = [0] * len(order)
    walk = reversed(order) if downstream else iter(order)
    for task_id in walk:
        task = dag.task_dict[task_id]
        acc = 0
        for other in task.downstream_task_ids if downstream else task.upstream_task_ids:
            j = index[other]
            acc |= bits[j] | (1 << j)
        bits[index[task_id]] = acc
    return bits


def _task_spec(
    dag: DAG, task: TaskNode, mapped_deps: set[str], weights: dict[str, int], has_setups: bool
) -> TaskSpec:
    attrs: Any = task
    indirect: tuple[str, ...] = ()
    if has_setups and not task.is_teardown:
        indirect = tuple(s for s in dag.relevant_setups(task.task_id) if s not in task.upstream_task_ids)
    from dagflow.models.mappedtaskgroup import mapping_of

    map_kind, sources, map_group = mapping_of(task)
    is_empty = (
        bool(attrs.inherits_from_empty_operator)
        and not attrs.on_execute_callback
        and not (attrs.on_success_callback or attrs.outlets or attrs.inlets)
    )
    return TaskSpec(
        task_id=task.task_id,
        upstream=tuple(sorted(task.upstream_task_ids)),
        downstream=tuple(sorted(task.downstream_task_ids)),
        trigger_rule=task.trigger_rule,
        operator=attrs.operator_name,
        is_setup=task.is_setup,
        is_teardown=task.is_teardown,
        on_failure_fail_dagrun=task.on_failure_fail_dagrun,
        indirect_setups=indirect,
        is_mapped=task.is_mapped,
        map_kind=map_kind,
        map_sources=sources,
        has_mapped_dependants=task.task_id in mapped_deps,
        is_empty=is_empty and task.task_id not in mapped_deps,
        retries=attrs.retries,
        retry_delay=attrs.retry_delay.total_seconds(),
        retry_exponential_backoff=bool(attrs.retry_exponential_backoff),
        max_retry_delay=attrs.max_retry_delay.total_seconds() if attrs.max_retry_delay else None,
        execution_timeout=attrs.execution_timeout.total_seconds() if attrs.execution_timeout else None,
        pool=attrs.pool,
        pool_slots=attrs.pool_slots,
        priority_weight=weights[task.task_id],
        queue=attrs.queue,
        depends_on_past=attrs.depends_on_past,
        wait_for_downstream=attrs.wait_for_downstream,
        max_active_tis_per_dag=attrs.max_active_tis_per_dag,
        max_active_tis_per_dagrun=attrs.max_active_tis_per_dagrun,
        group_id=task.task_group.group_id if task.task_group is not None else None,
        **_compensation_fields(task),
        map_group=map_group,
    )


def _compensation_fields(task: TaskNode) -> dict[str, Any]:
    compensation = getattr(task, "compensation", None)
    if compensation is None:
        return {}
    retries, delay, timeout = effective_settings(compensation, task)
    return {
        "has_compensation": True,
        "compensation_retries": retries,
        "compensation_retry_delay": delay,
        "compensation_timeout": timeout,
        "compensation_queue": own_queue(compensation),
    }


def _compensation_extra(dag: DAG) -> dict[str, Any]:
    """The DAG-level compensation settings the scheduler needs (nothing for a DAG without any)."""
    groups = {}
    for group_id, group in dag.task_group_dict.items():
        if group.compensation is not None:
            retries, delay, timeout = effective_settings(group.compensation, None)
            members = list(group.iter_tasks())
            groups[group_id] = {
                "tasks": sorted(t.task_id for t in members),
                "retries": retries,
                "retry_delay": delay,
                "timeout": timeout,
                "queue": group_queue(group.compensation, members),
            }
    extra: dict[str, Any] = {}
    if dag.compensate_on != "failure":
        extra["compensate_on"] = dag.compensate_on
    if groups:
        extra["compensated_groups"] = groups
    if dag.on_compensation_failure_callback:
        extra["has_compensation_failure_callback"] = True
    return extra

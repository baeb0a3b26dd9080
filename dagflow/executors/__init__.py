"""Executors: where task instances run. One small interface; the local worker pool is the default."""

from dagflow.executors.base import Executor, ExecutorEvent, Workload

__all__ = ["Executor", "ExecutorEvent", "Workload"]

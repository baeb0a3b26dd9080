"""Hooks: the code that talks to an external system through a Connection (``BaseHook``)."""

from dagflow.hooks.base import BaseHook

__all__ = ["BaseHook"]

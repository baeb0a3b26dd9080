"""Operator extra links: buttons on a task instance's page that lead to another system.

A link is a :class:`BaseOperatorLink` with a ``name`` and ``get_link(operator, *, ti_key)``. It applies
to a task when the operator class lists it (``operator_extra_links = (MyLink(),)``), when a plugin's
``operator_extra_links`` has it with the operator's class in its ``operators``, or always when it is in
a plugin's ``global_operator_extra_links``. The URLs are worked out at the end of each try, where
the operator object exists, and kept with the try's XComs as ``_link_<name>`` for the web UI (the
operator's own links by :func:`dagflow.runtime.taskrunner.push_extra_links`, the plugins' here).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dagflow.core.keys import TIKey

LINK_PREFIX = "_link_"


class BaseOperatorLink:
    """Subclass: set ``name`` and implement :meth:`get_link`; ``operators`` for plugin links."""

    name: ClassVar[str] = ""
    #: For a plugin's ``operator_extra_links``: the operator classes the link applies to.
    operators: ClassVar[list[type[Any]]] = []

    @property
    def xcom_key(self) -> str:
        return LINK_PREFIX + self.name

    def get_link(self, operator: Any, *, ti_key: TIKey) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement get_link")


def links_for(operator: Any, plugin_links: list[Any], global_links: list[Any]) -> list[Any]:
    """The plugin links that apply to ``operator``: those listing its class, then the global ones."""
    found = [
        link
        for link in plugin_links
        if any(isinstance(operator, cls) for cls in getattr(link, "operators", ()))
    ]
    found.extend(global_links)
    own = {
        str(getattr(link, "name", "")) for link in getattr(type(operator), "operator_extra_links", ()) or ()
    }
    unique: dict[str, Any] = {}
    for link in found:
        name = str(getattr(link, "name", type(link).__name__))
        if name not in own:  # the operator's own link of that name wins
            unique.setdefault(name, link)
    return list(unique.values())


def plugin_links(operator: Any, ti_key: Any) -> dict[str, str]:
    """Each plugin link's URL for this task instance; a link that fails or gives none is left out."""
    from dagflow.plugins.manager import TRY_MAX_AGE, current_plugins

    plugins = current_plugins(max_age=TRY_MAX_AGE)
    urls = {}
    for link in links_for(operator, plugins.operator_extra_links, plugins.global_operator_extra_links):
        try:
            url = link.get_link(operator, ti_key=ti_key)
        except Exception:  # a broken link must not fail the task
            continue
        if url:
            urls[str(link.name)] = str(url)
    return urls

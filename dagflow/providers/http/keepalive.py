"""A ``requests`` adapter whose connections send TCP keep-alive probes, as Airflow's ``HttpHook`` mounts.

A long request through a NAT or a load balancer that drops idle connections (a slow report, a long
poll) stays open when the kernel probes it: after ``idle`` seconds of silence, every ``interval``
seconds, giving up after ``count`` unanswered probes.
"""

from __future__ import annotations

import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection

#: The socket option that sets the idle time before the first probe: Linux's name, then macOS's.
_IDLE_OPTIONS = ("TCP_KEEPIDLE", "TCP_KEEPALIVE")


def keepalive_socket_options(idle: int, count: int, interval: int) -> list[tuple[int, int, int]]:
    """urllib3's default socket options plus keep-alive on, with the timings the platform can set."""
    options = [*HTTPConnection.default_socket_options, (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    idle_option = next((getattr(socket, name) for name in _IDLE_OPTIONS if hasattr(socket, name)), None)
    if idle_option is not None:
        options.append((socket.IPPROTO_TCP, idle_option, idle))
    for name, value in (("TCP_KEEPCNT", count), ("TCP_KEEPINTVL", interval)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


class TCPKeepAliveAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose sockets (direct or through a proxy) have keep-alive probes on."""

    __attrs__ = [*HTTPAdapter.__attrs__, "socket_options"]  # kept when the adapter is pickled

    def __init__(self, idle: int = 120, count: int = 20, interval: int = 30, **kwargs: Any):
        # HTTPAdapter.__init__ builds the pool manager, which reads the options: set them first.
        self.socket_options = keepalive_socket_options(idle, count, interval)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = self.socket_options
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs.setdefault("socket_options", self.socket_options)
        return super().proxy_manager_for(proxy, **proxy_kwargs)

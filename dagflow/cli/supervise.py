"""What ``dagflow standalone`` needs to supervise its children: a listening socket bound before
anything starts, and children that die with their parent whatever killed it (``kill -9`` included).

A child cannot catch its parent's SIGKILL, so it asks the kernel to signal it when the parent dies
(``prctl(PR_SET_PDEATHSIG)`` on Linux) and, where that is not available or came too late, watches
its parent id with a thread: once the parent is gone, ``os.getppid()`` changes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import sys
import threading
import time

from dagflow.exceptions import DagflowError

#: linux/prctl.h
PR_SET_PDEATHSIG = 1
#: How often the watchdog looks at the parent id.
WATCH_INTERVAL = 0.5


class PortInUse(DagflowError):
    """The web server's port is taken by another process."""


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening), to hand to the web server.

    Binding here, before anything else starts, turns a taken port into one line rather than a
    traceback from a child after the scheduler has started, and leaves no window in which another
    process could take the port between a check and its use.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does: TIME_WAIT is no reason
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else "is not allowed"
            raise PortInUse(
                f"port {port} on {host} {reason}: stop what holds it, or choose another port with "
                f"[webserver] port in dagflow.cfg or DAGFLOW__WEBSERVER__PORT"
            ) from None
        raise DagflowError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listener


def die_with_parent(parent_pid: int, interval: float = WATCH_INTERVAL) -> None:
    """Make this process end when ``parent_pid``, its parent, ends, however it ends."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the kernel was asked to tell us
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid, interval), name="dagflow-parent-watchdog", daemon=True
    ).start()


def _watch_parent(parent_pid: int, interval: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    os._exit(1)


def serve_supervised(listener: socket.socket, parent_pid: int) -> None:
    """The web server child of ``dagflow standalone``: serve on ``listener`` until the parent ends."""
    from webui.server import serve

    die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group: the parent stops this child itself, after the scheduler.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sockets=[listener])

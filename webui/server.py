"""Serving the app: waitress, a production WSGI server, in this process."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from dagflow.config import Settings


def serve(
    host: str | None = None,
    port: int | None = None,
    threads: int = 8,
    *,
    sockets: Sequence[socket.socket] | None = None,
) -> None:
    """Serve the web UI and API until the process is stopped: on ``host:port``, or on ``sockets``
    already bound (so that a taken port is found before anything starts)."""
    from waitress import serve as waitress_serve

    from webui import create_app

    app = create_app(Settings.load())
    where: dict[str, object] = {"sockets": list(sockets)} if sockets else {"host": host, "port": port}
    waitress_serve(app, threads=threads, ident="dagflow", **where)

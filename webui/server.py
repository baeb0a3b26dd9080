"""Serving the app: waitress, a production WSGI server, in this process."""

from __future__ import annotations

from dagflow.config import Settings


def serve(host: str, port: int, threads: int = 8) -> None:
    """Serve the web UI and API until the process is stopped."""
    from waitress import serve as waitress_serve

    from webui import create_app

    app = create_app(Settings.load())
    waitress_serve(app, host=host, port=port, threads=threads, ident="dagflow")

"""Error pages, and JSON errors under ``/api``: a status and a message, never a 500 for bad input."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from dagflow.store import RefusedValue
from webui.db import close_session


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, title: str, detail: str) -> Any:
    if wants_json():
        response: Response = jsonify({"status": status, "title": title, "detail": detail})
        response.status_code = status
        return response
    return render_template("error.html", status=status, title=title, detail=detail), status


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_session)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return error_response(error.code or 500, error.name, error.description or "")

    @app.errorhandler(RefusedValue)
    def refused_value(error: RefusedValue) -> Any:  # the store refused a value a request sent (too long...)
        app.logger.warning("the store refused a value on %s %s: %s", request.method, request.path, error.orig)
        return error_response(400, "Bad Request", "a value in the request is not acceptable to the store")

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:  # a bug: log it, answer without leaking internals
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal Server Error", "something went wrong on the server; see its log")

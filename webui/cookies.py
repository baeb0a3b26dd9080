"""Session cookies that work out of the box: ``Secure`` over HTTPS, plain over HTTP, unless configured.

``[webserver] cookie_secure`` is ``auto`` by default: the session cookie carries the ``Secure`` flag
when the request came over HTTPS (``request.is_secure``; behind a proxy that ends TLS, have it pass
``X-Forwarded-Proto`` and set the server's trusted proxy), so a first login over plain HTTP from
another machine works, and a site served over HTTPS keeps its cookie off plain HTTP. ``True`` forces
the flag (a browser then never sends the cookie over plain HTTP, and every form fails its CSRF check
there); ``False`` never sets it.

A failed CSRF check gets a page that says the likely cause and the setting, not Flask-WTF's bare
"The CSRF session token is missing."
"""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError

from dagflow.config import Settings
from dagflow.exceptions import DagflowConfigError

#: The app config key holding the mode: True, False, or None for auto.
MODE = "DAGFLOW_COOKIE_SECURE"
SETTING = "[webserver] cookie_secure"
ENVIRONMENT = "DAGFLOW__WEBSERVER__COOKIE_SECURE"


def cookie_secure(settings: Settings) -> bool | None:
    """The configured mode: True or False, or None for ``auto`` (secure when the request is HTTPS)."""
    value = str(settings.get("webserver", "cookie_secure", "auto")).strip().lower()
    if value in ("auto", ""):
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    where = settings.source("webserver", "cookie_secure")
    raise DagflowConfigError(f"{SETTING} must be auto, true or false, got {value!r} ({where})")


def describe(mode: bool | None) -> str:
    """A few words for the start-up line: how the session cookie is sent."""
    if mode is None:
        return f"session cookie Secure only over HTTPS ({SETTING} = auto)"
    if mode:
        return f"session cookie Secure: log in over HTTPS only ({SETTING} = true)"
    return f"session cookie never Secure ({SETTING} = false)"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session whose ``Secure`` flag follows :data:`MODE`."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.config.get(MODE)
        if mode is None:
            return bool(request.is_secure)
        return bool(mode)


def csrf_failure_reason(error: CSRFError, mode: bool | None, secure_request: bool) -> str:
    """What most likely went wrong, and what to do, in words for the person who sent the form."""
    missing = "session token is missing" in (error.description or "")
    if missing and mode is True and not secure_request:
        return (
            f"This server marks its session cookie Secure ({SETTING} = true), so your browser sends it "
            "back only over HTTPS, and this page came over plain HTTP. Open the site over HTTPS, or set "
            f"{SETTING} to auto (the default: Secure only over HTTPS), for example with "
            f"{ENVIRONMENT}=auto, and restart the web server."
        )
    if missing:
        return (
            "Your browser did not send the session cookie back: the session may have expired, or cookies "
            "are blocked for this site. Reload the page and try again."
        )
    if "do not match" in (error.description or ""):
        return (
            "The page was opened in an earlier session (you logged in or out since, maybe in another "
            "tab). Reload the page and try again."
        )
    if "referrer" in (error.description or "").lower():
        return (
            "Over HTTPS the form must come from this site: the browser sent no Referer header, or one "
            "naming another host (a proxy may rewrite the Host header). Reload the page and try again."
        )
    return "The page's security token is missing or has expired. Reload the page and try again."


def init_app(app: Flask, settings: Settings) -> None:
    mode = cookie_secure(settings)
    app.config[MODE] = mode
    app.config["SESSION_COOKIE_SECURE"] = bool(mode)
    app.config["REMEMBER_COOKIE_SECURE"] = bool(mode)
    app.session_interface = SessionInterface()

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> Any:
        from webui.errors import error_response, wants_json

        reason = csrf_failure_reason(error, app.config.get(MODE), request.is_secure)
        if wants_json():
            return error_response(400, "CSRF check failed", f"{error.description} {reason}")
        page = render_template(
            "csrf_error.html", reason=reason, technical=error.description, retry=request.path
        )
        return page, 400

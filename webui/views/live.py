"""Pages that refresh themselves: every HTML page answers with an ETag, and a 304 when unchanged.

``dagflow-ui.js`` polls a page's ``[data-live]`` regions by fetching the same URL with
``If-None-Match``; an unchanged page costs a render and a hash but sends nothing. The tag is the hash
of the page without its CSRF token, which is signed anew each second and would make every answer look
new.
"""

from __future__ import annotations

import hashlib

from flask import g, request
from werkzeug.wrappers import Response

from webui.views import bp


def page_etag(body: bytes, token: str | None) -> str:
    if token:
        body = body.replace(token.encode(), b"")
    return hashlib.blake2b(body, digest_size=16).hexdigest()


@bp.after_request
def conditional_html(response: Response) -> Response:
    if (
        request.method not in ("GET", "HEAD")
        or response.status_code != 200
        or response.mimetype != "text/html"
        or response.direct_passthrough
    ):
        return response
    response.set_etag(page_etag(response.get_data(), g.get("csrf_token")))
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)

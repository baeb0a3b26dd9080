"""Pages that refresh themselves: every HTML page answers with an ETag, and a 304 when unchanged.

``dagflow-ui.js`` polls a page's ``[data-live]`` regions by fetching the same URL with
``If-None-Match``. A page marked with ``webui.live.changes_with`` answers an unchanged poll before
rendering anything. Any other page is tagged by the hash of its HTML without its CSRF token (signed
anew each second, it would make every answer look new): an unchanged answer then costs a render and
a hash but sends nothing.
"""

from __future__ import annotations

import hashlib

from flask import g, request
from werkzeug.wrappers import Response

from webui import live
from webui.views import bp

bp.before_request(live.answer_if_unchanged)


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
    if "dagflow_etag" in g:
        return live.tag_marked(response)
    response.set_etag(page_etag(response.get_data(), g.get("csrf_token")))
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)

"""Markdown as the DAG's author wrote it in ``doc_md``, rendered with raw HTML off.

markdown-it-py (MIT) follows CommonMark; with ``html`` off, any HTML in the text is shown as text,
and its link validation refuses ``javascript:`` and similar URLs, so a DAG file cannot put script
into the page.
"""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@cache
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    """The HTML of ``text`` (empty markup for no text)."""
    if not text:
        return Markup("")
    return Markup(_renderer().render(text))

"""Markdown → HTML for QTextBrowser: markdown-it-py for structure, Pygments for code."""

from __future__ import annotations

import html
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

COPY_SCHEME = "copy-code"  # links "copy-code:N" copy the Nth code block of a message


@lru_cache(maxsize=2)
def _pygments_style(dark: bool):
    from pygments.styles import get_style_by_name

    return get_style_by_name("monokai" if dark else "friendly")


def _highlight(code: str, language: str, dark: bool) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    formatter = HtmlFormatter(noclasses=True, nowrap=True, style=_pygments_style(dark))
    return highlight(code, lexer, formatter)


def preload() -> None:
    """Import the renderer's libraries ahead of the first message (called on a worker thread)."""
    import markdown_it  # noqa: F401
    import pygments.formatters  # noqa: F401
    import pygments.lexers  # noqa: F401


class MarkdownRenderer:
    """Renders a message. Code blocks get highlighting and a copy link; raw HTML is escaped."""

    def __init__(self, dark: bool = False):
        self.dark = dark

    @cached_property
    def _md(self) -> MarkdownIt:
        # built on first use: the window paints before any message needs rendering
        from markdown_it import MarkdownIt

        # "commonmark" + tables + strikethrough; html=False so model output cannot inject markup
        md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
            ["table", "strikethrough"]
        )
        # markdown-it calls rules as (renderer, tokens, idx, options, env)
        md.add_render_rule(
            "fence", lambda _r, tokens, idx, options, env: self._fence(tokens, idx, options, env)
        )
        md.add_render_rule(
            "code_block", lambda _r, tokens, idx, options, env: self._fence(tokens, idx, options, env)
        )
        return md

    def _fence(self, tokens, idx, options, env):
        token = tokens[idx]
        language = (token.info or "").strip().split(" ")[0]
        index = len(env.setdefault("code_blocks", []))
        env["code_blocks"].append(token.content)
        background = "#272822" if self.dark else "#f6f8fa"
        border = "#444" if self.dark else "#d0d7de"
        label = html.escape(language or "code")
        # one column, so the frame has no inner line; the header's label and Copy link sit in a
        # borderless table of their own (Qt's rich text draws a bordered table's cell grid)
        header = (
            '<table width="100%" cellspacing="0" cellpadding="0" style="border:none"><tr>'
            f'<td style="font-size:small;color:#888">{label}</td>'
            f'<td align="right" style="font-size:small"><a href="{COPY_SCHEME}:{index}">Copy</a></td>'
            "</tr></table>"
        )
        return (
            f'<table width="100%" cellspacing="0" cellpadding="6" style="background:{background};'
            f'border:1px solid {border};margin:4px 0">'
            f'<tr><td>{header}</td></tr><tr><td><pre style="margin:0;font-family:monospace">'
            f"{_highlight(token.content, language, self.dark)}</pre></td></tr></table>"
        )

    def render(self, text: str) -> tuple[str, list[str]]:
        """HTML for the text, and the code blocks in order (for the copy links)."""
        env: dict = {}
        body = self._md.render(text, env)
        # Qt's rich text draws no table grid unless asked in attributes
        body = body.replace(
            "<table>", '<table border="1" cellspacing="0" cellpadding="4" style="border-color:#888">'
        )
        return body, env.get("code_blocks", [])


def plain_html(text: str) -> str:
    """Cheap rendering used for very long text while it is still streaming."""
    return f'<pre style="white-space:pre-wrap;font-family:inherit">{html.escape(text)}</pre>'

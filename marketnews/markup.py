"""Markdown body -> HTML with widget placeholders (markdown-it-py + the `market` fence). No I/O.

A fenced block whose info string is `market` holds one market reference a line. It is
rendered as a placeholder comment, `<!--mn:widget:N-->`, that the site stage replaces
with the widget for the N-th inline reference. Keeping prices out of the rendered body
means a body's HTML depends on its text alone (and the site's `raw_html` setting), so it
can be cached across builds while the odds change every hour.

Raw HTML (see rawhtml.py): off by default, the HTML rules of the parser are off and raw
HTML comes out as escaped text; with `raw_html` allowed they are on and the whole rendered
body goes through the allow-list sanitiser. Either way `RenderedBody.raw_html` says
where the author wrote raw HTML that the reader will not get as written.

Two engines, one output. markdown-it-py is the reference, the default and the fallback.
Where markdown-it-pyrs is installed (`pip install marketnews[fast]`), markup_fast renders
each body with it and gives back markdown-it-py's bytes, or declines a body it cannot
promise them for, which is then rendered here: a site's output never depends on which
engine a machine has. `MARKETNEWS_MARKDOWN=reference` turns the fast engine off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin

from marketnews import markup_fast, smartquotes
from marketnews.rawhtml import RawHtml, find_raw_html, sanitise

# Bump when rendering changes, so cached bodies are rendered again.
MARKUP_VERSION = "4"
PLACEHOLDER = re.compile(r"<!--mn:widget:(\d+)-->")


@dataclass(frozen=True)
class InlineRef:
    written: str
    line: int  # 0-based line within the body


@dataclass(frozen=True)
class RenderedBody:
    html: str
    inline: tuple[InlineRef, ...]
    first_paragraph: str
    images_without_alt: tuple[int, ...]  # 0-based body lines
    empty_market_blocks: tuple[int, ...]
    raw_html: tuple[RawHtml, ...] = ()  # raw HTML shown as text (or, when allowed, cut by the sanitiser)


def widget_block(indices: list[int]) -> str:
    """What a ```market fence becomes (both engines): one placeholder per reference."""
    if not indices:
        return ""
    marks = "".join(f"<!--mn:widget:{i}-->" for i in indices)
    return f'<div class="market-inline">{marks}</div>\n'


def market_plugin(md: MarkdownIt) -> None:
    """Render ```market fences as widget placeholders numbered in `env["inline"]` order."""
    original = md.renderer.rules.get("fence")  # type: ignore[attr-defined]

    def render_fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        if token.info.strip().lower() != "market":
            assert original is not None
            return str(original(tokens, idx, options, env))
        return widget_block(token.meta.get("mn_indices", []))

    md.add_render_rule("fence", render_fence)


def focusable_tables(md: MarkdownIt) -> None:
    """Give tables tabindex=0: a table wider than a phone scrolls inside itself, and a
    keyboard user must be able to reach it to scroll it (WCAG 2.1.1)."""

    def rule(state: Any) -> None:
        for token in state.tokens:
            if token.type == "table_open":
                token.attrSet("tabindex", "0")

    md.core.ruler.push("focusable_tables", rule)


def align_class_plugin(md: MarkdownIt) -> None:
    """Table column alignment as `class="align-right"` instead of `style="text-align:right"`.

    The site's Content-Security-Policy allows no inline styles, so a style attribute
    would be ignored by browsers; a class is styled by the stylesheet.
    """

    def align_as_class(state: Any) -> None:
        for token in state.tokens:
            if token.type in ("th_open", "td_open"):
                style = str(token.attrs.pop("style", "") or "")
                if style.startswith("text-align:"):
                    token.attrSet("class", "align-" + style.split(":", 1)[1].strip())

    md.core.ruler.push("align_class", align_as_class)


# markdown-it normalises every link destination through mdurl: parse, punycode the host,
# format, percent-encode. That is a tenth of the time of a typical article. A destination
# made only of what those steps leave as it is (an http(s) URL with a lowercase ASCII
# host, or a relative one, with unreserved characters in its path, query and fragment)
# comes out unchanged, so it skips them; any other goes the library's way. A test checks
# the two agree on thousands of such destinations.
_PATH = r"[A-Za-z0-9\-._~/]*"
_TAIL = r"(?:\?[A-Za-z0-9\-._~/=&]*)?(?:#[A-Za-z0-9\-._~/]*)?"
PLAIN_LINK = re.compile(rf"(?:https?://[a-z0-9]+(?:[.-][a-z0-9]+)*(?:/{_PATH})?|(?!//){_PATH}){_TAIL}")


def fast_plain_links(md: MarkdownIt) -> None:
    normalize = md.normalizeLink

    def normalize_link(url: str) -> str:
        return url if PLAIN_LINK.fullmatch(url) else normalize(url)

    md.normalizeLink = normalize_link  # type: ignore[method-assign]


def _make_markdown(raw_html: bool = False) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"typographer": True, "html": raw_html})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    md.core.ruler.at("smartquotes", smartquotes.rule)  # the library's algorithm, in linear time
    md.use(footnote_plugin)
    md.use(market_plugin)
    md.use(focusable_tables)
    md.use(align_class_plugin)
    md.use(fast_plain_links)
    return md


_md: dict[bool, MarkdownIt] = {}


def markdown(raw_html: bool = False) -> MarkdownIt:
    md = _md.get(raw_html)
    if md is None:
        md = _md[raw_html] = _make_markdown(raw_html)
    return md


def _plain_text(inline: Token) -> str:
    parts: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def _fast_wanted() -> bool:
    return markup_fast.AVAILABLE and os.environ.get("MARKETNEWS_MARKDOWN", "") != "reference"


FAST = _fast_wanted()
ENGINE = "markdown-it-pyrs" if FAST else "markdown-it-py"  # the engine render_body tries first


def render_body(body: str, raw_html: bool = False) -> RenderedBody:
    """Render `body`, by the fast engine where installed and able, else by the reference;
    `raw_html`: the site allows raw HTML (sanitised), else it is shown as text."""
    body = _as_lines(body)
    fast = markup_fast.render(body, raw_html, widget_block) if FAST else None
    return _finish(body, raw_html, _from_fast(fast) if fast is not None else _by_tokens(body, raw_html))


def render_body_reference(body: str, raw_html: bool = False) -> RenderedBody:
    """`body` rendered by markdown-it-py, whatever is installed."""
    body = _as_lines(body)
    return _finish(body, raw_html, _by_tokens(body, raw_html))


def _as_lines(body: str) -> str:
    """`body` with a line end after its last line, as a text file has (one saved without it
    is read alike). Only a fence left open at the end renders differently without it: its
    last line of code then has no line end in markdown-it-py, and has one in markdown-it-pyrs."""
    return body if not body or body.endswith("\n") else body + "\n"


def _finish(body: str, raw_html: bool, r: RenderedBody) -> RenderedBody:
    """What both engines' output goes through: the sanitiser, the raw HTML report."""
    return RenderedBody(sanitise(r.html) if raw_html else r.html, r.inline, r.first_paragraph,
                        r.images_without_alt, r.empty_market_blocks, find_raw_html(body, raw_html))


def _from_fast(fast: markup_fast.FastBody) -> RenderedBody:
    inline: list[InlineRef] = []
    empty_blocks: list[int] = []
    for start, content in fast.fences:
        before = len(inline)
        for offset, line in enumerate(content.split("\n")):
            if line.strip() and not line.lstrip().startswith("#"):
                inline.append(InlineRef(line.strip(), start + 1 + offset))
        if len(inline) == before:
            empty_blocks.append(start)
    return RenderedBody(fast.html, tuple(inline), fast.first_paragraph, (), tuple(empty_blocks))


def _by_tokens(body: str, raw_html: bool) -> RenderedBody:
    """markdown-it-py's rendering and what markup reports, from its tokens (before sanitising)."""
    md = markdown(raw_html)
    env: dict[str, Any] = {}
    tokens = md.parse(body, env)
    inline: list[InlineRef] = []
    first_paragraph = ""
    no_alt: list[int] = []
    empty_blocks: list[int] = []
    for i, token in enumerate(tokens):
        if token.type == "fence" and token.info.strip().lower() == "market":
            start = token.map[0] if token.map else 0
            indices = []
            for offset, line in enumerate(token.content.split("\n")):
                if line.strip() and not line.lstrip().startswith("#"):
                    indices.append(len(inline))
                    inline.append(InlineRef(line.strip(), start + 1 + offset))
            token.meta["mn_indices"] = indices
            if not indices:
                empty_blocks.append(start)
        elif token.type == "inline":
            if not first_paragraph and i > 0 and tokens[i - 1].type == "paragraph_open":
                first_paragraph = _plain_text(token)
            for child in token.children or []:
                if child.type == "image" and not "".join(
                    c.content for c in child.children or []
                ).strip():
                    no_alt.append(token.map[0] if token.map else 0)
    html = md.renderer.render(tokens, md.options, env)
    return RenderedBody(html, tuple(inline), first_paragraph, tuple(no_alt), tuple(empty_blocks))


def fill_placeholders(html: str, widget: Callable[[int], str]) -> str:
    return PLACEHOLDER.sub(lambda m: widget(int(m.group(1))), html)

"""Raw HTML in article bodies: found, reported and, where a site allows it, sanitised. Pure.

By default (as in Hugo) an article's raw HTML is not published as HTML: the Markdown
renderer runs with its HTML rules off, so `<script>` reaches the page as the text
`&lt;script&gt;`, and `find_raw_html` reports each place at `path:line` so the author
knows. A site that sets `raw_html: true` in site.yaml gets its raw HTML through the
allow-list sanitiser below (nh3, the Python binding of the Rust crate Ammonia): every
element and attribute not listed is removed, `<script>`, `<style>`, `<iframe>` and the
like with their content; URLs may only be http(s), mailto or relative. Comments go too,
except the renderer's own widget placeholders. What it removes is reported as well, so
`check --strict` fails on it.

The allow-list keeps everything the renderer itself writes (tables with `tabindex`,
alignment classes, footnotes' ids and classes, code blocks' language class) and the
usual article markup. Nothing here can run script or fetch a page by itself: no
`on*` attributes, no `style`, no `<form>`, `<meta>`, `<base>`, `<link>`, `<object>`,
no `javascript:` or `data:` URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.footnote import footnote_plugin

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
    "data", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "rp", "rt", "ruby", "s", "samp", "section", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
    "var", "wbr",
})
# Removed with everything inside them (the others lose their tags and keep their text).
DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript",
    "template", "textarea", "select", "title", "math", "svg",
})
_EVERYWHERE = frozenset({"class", "id", "title", "lang", "dir"})
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": _EVERYWHERE,
    "a": frozenset({"href", "hreflang"}),
    "img": frozenset({"src", "alt", "width", "height", "loading"}),
    "table": frozenset({"tabindex"}),
    "th": frozenset({"colspan", "rowspan", "scope"}),
    "td": frozenset({"colspan", "rowspan"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"start", "reversed", "type"}),
    "li": frozenset({"value"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "del": frozenset({"cite", "datetime"}),
    "ins": frozenset({"cite", "datetime"}),
    "time": frozenset({"datetime"}),
    "data": frozenset({"value"}),
    "details": frozenset({"open"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.\-]*):")
# The renderer's widget placeholders (markup.PLACEHOLDER) survive sanitising; other comments do not.
_PLACEHOLDER = re.compile(r"<!--mn:widget:(\d+)-->")
_KEPT = "mn-widget-placeholder-{}-e3b0c44298fc"


def sanitise(html: str) -> str:
    """`html` (a rendered body) with everything outside the allow-list removed."""
    protected = _PLACEHOLDER.sub(lambda m: _KEPT.format(m.group(1)), html)
    clean = nh3.clean(
        protected,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        strip_comments=True,
        link_rel=None,
    )
    return re.sub(_KEPT.format(r"(\d+)"), lambda m: f"<!--mn:widget:{m.group(1)}-->", clean)


@dataclass(frozen=True)
class RawHtml:
    """Raw HTML written in a body: its 0-based line within the body and what the build does with it."""

    line: int
    message: str


class _Removed(HTMLParser):
    """Lists what `sanitise` removes from a fragment of raw HTML (the same allow-list)."""

    def __init__(self, removed: dict[str, None]) -> None:
        super().__init__(convert_charrefs=True)
        # What is removed, in the order first found: keys of a dict, not a list searched for
        # each tag (which grew as the square of a fragment's tags). Shared by a fragment's pieces.
        self.removed = removed

    def _note(self, what: str) -> None:
        self.removed.setdefault(what)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self._note(f"<{tag}>")
            return
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, frozenset())
        for name, value in attrs:
            if name not in allowed:
                self._note(f"{name}= on <{tag}>")
            elif name in _URL_ATTRIBUTES and value is not None:
                scheme = _SCHEME.match(value)
                if scheme and scheme.group(1).lower() not in URL_SCHEMES:
                    self._note(f"{scheme.group(1).lower()}: URL in <{tag} {name}=>")

    handle_startendtag = handle_starttag


# The standard library's HTML parser takes time growing as the square of a fragment of many
# constructs it cannot finish (`<a ` again and again with no `>`: 48 KB took 3 s; `<!--a>`
# again and again: 0.3 s): each one it looks at to the fragment's end. So it reads a
# fragment in pieces that end at a `>` (the first past CHUNK characters), each with a parser
# of its own, and not what follows the fragment's last `>`, where no tag ends. A tag or a
# comment longer than that is still read whole; one that a piece's end cuts (a `>` inside a
# quoted value, a comment or a script's or style's text past CHUNK) may be reported as text
# or as another tag.
CHUNK = 2048


def removed_by_sanitiser(fragment: str) -> list[str]:
    """What `sanitise` takes out of `fragment`: elements, attributes and URLs, as shown to authors."""
    removed: dict[str, None] = {}
    last = fragment.rfind(">")
    start = 0
    while start <= last:
        end = fragment.find(">", start + CHUNK, last + 1)
        end = last + 1 if end < 0 else end + 1
        parser = _Removed(removed)
        try:
            parser.feed(fragment[start:end])
            parser.close()
        except Exception:  # noqa: BLE001 (markup the parser itself trips over: `<![<![`)
            parser._note("markup that cannot be read")
        start = end
    return list(removed)


def _finder() -> MarkdownIt:
    # The block structure of the renderer (tables, footnotes), with CommonMark's HTML rules on.
    md = MarkdownIt("commonmark", {"html": True})
    md.enable(["table", "strikethrough"])
    md.use(footnote_plugin)
    return md


_md: MarkdownIt | None = None


def _raw_pieces(body: str) -> Iterable[tuple[int, str]]:
    """(0-based line, text) of each piece of raw HTML, as CommonMark finds it."""
    global _md
    if _md is None:
        _md = _finder()
    for token in _md.parse(body):
        if token.type == "html_block":
            yield (token.map[0] if token.map else 0), token.content
        elif token.type == "inline" and token.children:
            # Each piece's line: the line ends counted since the last piece found, not from
            # the paragraph's start (which grew as the square of a paragraph of many pieces).
            first, source, at = (token.map[0] if token.map else 0), token.content, 0
            line, counted = first, 0
            for child in token.children:
                if child.type == "html_inline":  # its text is as written: find it in the source
                    found = source.find(child.content, at)
                    if found == -1:
                        yield first, child.content
                        continue
                    line += source.count("\n", counted, found)
                    counted, at = found, found + len(child.content)
                    yield line, child.content


# Where raw HTML may start, as CommonMark has it: a tag (its name then a space, a line end,
# `/` or `>`), a closing tag, a comment or declaration (`<!`), a processing instruction
# (`<?`). A `<` before anything else (`< 3%`, `<=`, an autolink's `<https:`) starts none, and
# a body without one is not parsed again to look.
_MAY_BE_HTML = re.compile(r"<(?:[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)|/[A-Za-z]|[!?])")


def find_raw_html(body: str, allowed: bool) -> tuple[RawHtml, ...]:
    """Each line of `body` with raw HTML the author should hear about: every one when raw
    HTML is off (it is shown as text), else those whose markup the sanitiser removes."""
    if "<" not in body or not _MAY_BE_HTML.search(body):
        return ()
    found: dict[int, list[str]] = {}
    for line, piece in _raw_pieces(body):
        if not allowed:
            found.setdefault(line, [])
            continue
        removed = removed_by_sanitiser(piece)  # a comment is dropped without a word: no reader misses it
        if removed:
            seen = found.setdefault(line, [])
            seen.extend(r for r in removed if r not in seen)
    out = []
    for line, removed in sorted(found.items()):
        if allowed:
            out.append(RawHtml(line, "raw HTML: the sanitiser removes " + ", ".join(removed)))
        else:
            out.append(RawHtml(line, "raw HTML is shown as text, not as HTML; write Markdown, or set "
                                     "'raw_html: true' in site.yaml to allow sanitised HTML"))
    return tuple(out)

"""The fast Markdown engine: markdown-it-pyrs (Rust), made to give markdown-it-py's bytes. No I/O.

markdown-it-pyrs is optional (`pip install marketnews[fast]`). Where it is installed,
`render` turns a body into what markup.render_body would make of it with markdown-it-py,
or returns None when it cannot promise the same bytes; the caller then renders that body
with markdown-it-py, the reference. Two kinds of work make the promise:

- Normalising what the Rust engine writes differently for the same document: the
  `tabindex` and alignment classes marketnews adds to tables, the line break after a
  footnote's `<li>`, an empty block quote, and the ```market fence, which is taken from
  the rendered `language-market` code block and matched to its lines in the source.
  Smart quotes are not left to the Rust engine (it keeps one stack of open quotes across
  blocks and looks past a block's end for a quote's neighbour): `_smartquotes` applies
  markdown-it-py's algorithm, block by block, to the HTML rendered without them.
- Routing around what it parses differently, found by cheap checks on the source and the
  output, each of them conservative (a false alarm costs speed, never bytes):
  * a quote written as `\"` or as an entity (left straight by markdown-it-py, which the
    HTML does not show), or next to an image;
  * emphasis or strikethrough next to a non-ASCII character that is neither a letter nor
    a digit (the engines disagree on which symbols count as punctuation);
  * a footnote referred to twice (the engines number the second reference differently),
    and inline footnotes;
  * a link or image destination with characters other than plain ASCII (the engines
    encode international host names differently);
  * an image whose alt text is blank (markup reports its line, which needs the tokens);
  * raw HTML, when a site allows it (comments parse differently, and markup written
    by an author could be mistaken for the engine's);
  * anything in the ```market fences that cannot be matched to the source line by line.

docs/markdown-engines.md lists every difference and tests/test_engines.py proves each rule.
"""

from __future__ import annotations

import html as htmllib
import importlib
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from marketnews.smartquotes import CLASS, char_class, curl

try:  # the `fast` extra; imported by name so that type checks pass with and without it
    _rust: Any = importlib.import_module("markdown_it_pyrs")
except ImportError:
    _rust = None
# The rules below are proven for 0.4 (tests/test_engines.py); another version may parse
# differently, so it is not used until they are proven for it too.
if _rust is not None and not str(getattr(_rust, "__version__", "")).startswith("0.4."):
    _rust = None

AVAILABLE = _rust is not None

# What marketnews enables, by markdown-it-pyrs's rule names: CommonMark's rules (the HTML
# ones only where a site allows raw HTML), tables, strikethrough, footnotes, typographer.
_RULES = [
    "blockquote", "code", "fence", "heading", "hr", "lheading", "list", "paragraph", "reference",
    "autolink", "backticks", "emphasis", "entity", "escape", "image", "link", "newline",
    "table", "strikethrough", "footnote", "replacements",
]  # and smart quotes, done here the way markdown-it-py does them (_smartquotes)
_HTML_RULES = ["html_block", "html_inline"]

_engines: dict[bool, Any] = {}


def _engine(raw_html: bool) -> Any:
    md = _engines.get(raw_html)
    if md is None:
        md = _rust.MarkdownIt("zero")
        md.enable_many(_RULES + (_HTML_RULES if raw_html else []))
        _engines[raw_html] = md
    return md


@dataclass(frozen=True)
class FastBody:
    """What markup.render_body needs from an engine, before raw HTML is looked at."""

    html: str
    fences: tuple[tuple[int, str], ...]  # (first body line of the content, content) of each ```market fence
    first_paragraph: str


# --- cheap checks on the source ---------------------------------------------------------

# Characters that make quotes or delimiters look at a neighbour beyond the next one:
# markdown-it skips tokens without text (emphasis, links, footnote references).
# A line with a fence marker that mentions `market` or an entity after it (`_fence_mention`).
_FENCE_MARKER = re.compile(r"`{3}|~{3}")
_MARKET_OR_ENTITY = re.compile(r"market|&", re.IGNORECASE)
_MARKET_OPENER = re.compile(r"(?:`{3,}|~{3,})[ \t]*market[ \t]*", re.IGNORECASE)
_INLINE_FOOTNOTE = "^["
# Unicode spaces, which markdown-it-py trims (from a line's ends, a cell, a definition's text)
# and the Rust engine does not; and characters the engines may clean up differently.
_SPACES, _LINES_OR_MARKS = r"\xa0\u1680\u2000-\u200a\u202f\u205f\u3000", r"\r\x00\x85\u2028\u2029\ufeff"
_UNUSUAL_SPACE = re.compile(f"[{_SPACES}]")
_LINE_OR_MARK = re.compile(f"[{_LINES_OR_MARKS}]")
_SPACE_LINE_OR_MARK = re.compile(f"[{_SPACES}{_LINES_OR_MARKS}]")
# A quote written as a character reference (markdown-it-py leaves it straight; in the HTML it
# looks like any other): `&quot;`, `&apos;`, `&#39;`, `&#x22;`... A numeric reference to
# another character is none; one that is not one at all is looked at later (_odd_numeric_reference).
_QUOTE_ENTITY = re.compile(r"&(?:quot;|apos;|#0*(?:34|39);|#x0*(?:22|27);)", re.IGNORECASE)
# What a no-break or thin space between words is beside in news (`10\u00a0%`, `«\u202fmot\u202f»`):
# letters and digits, and these.
_BESIDE_SPACE = frozenset(".,;:%€$£«»“”‘’?!/–—…'\"")


def _odd_spaces(body: str) -> bool:
    """Whether `body` has a character the engines may read differently: a line separator, a
    byte-order mark and the like; or a Unicode space (no-break, thin…) anywhere but between
    two letters, digits or marks of `_BESIDE_SPACE`, where both take it as text (at a line's
    ends, beside a delimiter or a marker, they do not). (Most bodies have none of these: one
    search of the text says so, where the two below each read all of it.)"""
    if not _SPACE_LINE_OR_MARK.search(body):
        return False
    if _LINE_OR_MARK.search(body):
        return True
    for m in _UNUSUAL_SPACE.finditer(body):
        at = m.start()
        if at == 0 or at + 1 >= len(body):
            return True
        before, after = body[at - 1], body[at + 1]
        if not (before.isalnum() or before in _BESIDE_SPACE) or not (after.isalnum() or after in _BESIDE_SPACE) \
                or before == ":" and body[at - 2:at - 1] == "]":  # (a definition's text starts after `]:`)
            return True
    return False


def _letter_or_digit(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN"


def _symbols_near_delimiters(body: str) -> bool:
    """A delimiter of emphasis or strikethrough next to a non-ASCII character that is not a
    letter or digit: the engines' idea of punctuation differs (CommonMark 0.31 counts symbols).
    (Each delimiter found with str.find: an article has few, and a regex search for them, or
    for the characters beside them, looked at every character at ten times the cost.)"""
    last = len(body) - 1
    for delimiter in "*_~":
        at = body.find(delimiter)
        while at >= 0:
            if at and body[at - 1] > "\x7f" and not _letter_or_digit(body[at - 1]):
                return True
            if at < last and body[at + 1] > "\x7f" and not _letter_or_digit(body[at + 1]):
                return True
            at = body.find(delimiter, at + 1)
    return False


_FOOTNOTE_LABEL = r"\[\^[^\]\n]*\]:"  # a footnote's label of one line and its colon
_FOOTNOTE_DEFINITION = re.compile("^" + _FOOTNOTE_LABEL, re.MULTILINE)
_FOOTNOTE_LABEL_COLON = re.compile(_FOOTNOTE_LABEL)
# A footnote definition's start as markdown-it-py's plugin reads one: a label of one line,
# not empty, without a space. `[^note 1]:` and `[^]:` are none (a reference definition or
# text to markdown-it-py), and a label left open at a line's end may be anything.
_FOOTNOTE_START = re.compile(r"\[\^[^\] \t\n]+\]:")
# A footnote whose text starts with a list item holding indented code (`[^1]: -      code`):
# the engines indent the code differently.
_FOOTNOTE_LIST_CODE = re.compile("^ {0,3}" + _FOOTNOTE_LABEL + r"[ \t]*(?:[*+-]|\d{1,9}[.)])(?: {5,}|[ ]*\t)",
                                 re.MULTILINE)
_NO_FOOTNOTE = re.compile(r"\[\^(?:[^\]\n]*[ \t][^\]\n]*)?\]:|\[\^[^\]\n]*\n")  # (what `_no_footnote` finds)


def _no_footnote(body: str) -> bool:
    """A line like a footnote definition that is none (`[^note 1]:`, `[^]:`), or a `[^` left
    open at its line's end: what a search for `_NO_FOOTNOTE` finds, in one pass. (The regex
    read from every `[^` to its line's `]`, and a line of many took time growing as their
    cube: 3 KB of `[^a ` took 3 s.) A `]:` has one: from the last `]` or line end before
    it, the first `[^` opens the longest label, which has a space or a tab when any label
    ending there has one; or a `[^` right before it opens an empty one."""
    end = body.find("]:")
    while end >= 0:
        back = body.rfind("]", 0, end)
        back = max(back, body.rfind("\n", back + 1, end))
        start = body.find("[^", back + 1, end)
        if start >= 0 and (end >= 2 and body.startswith("[^", end - 2)
                           or " " in body[start + 2:end] or "\t" in body[start + 2:end]):
            return True
        end = body.find("]:", end + 2)
    start = body.find("[^")
    while start >= 0:  # each line with a `[^`, once
        line_end = body.find("\n", start)
        if line_end < 0:
            break
        if body.rfind("[^", start, line_end) > body.rfind("]", start, line_end):
            return True
        start = body.find("[^", line_end)
    return False


def _footnote_interrupts(body: str) -> bool:
    """A footnote definition right under a line of text: markdown-it-py ends the paragraph
    there, the Rust engine reads the definition as more of the paragraph."""
    labels = []
    for m in _FOOTNOTE_LABEL_COLON.finditer(body):
        if m.start() > 0 and body[m.start() - 1] != "\n":
            return True  # indented, in a list or quote: the engines read these differently
        labels.append(m.group(0).lower())
    if len(set(labels)) != len(labels):
        return True  # a label defined twice: markdown-it-py keeps the last, the Rust engine the first
    for m in _FOOTNOTE_DEFINITION.finditer(body):
        if m.start() == 0:
            continue
        previous = body[body.rfind("\n", 0, m.start() - 1) + 1:m.start() - 1]
        if previous.strip() and not _FOOTNOTE_DEFINITION.match(previous):
            return True
    return False


_BACKTICKS = re.compile(r"`+")
# A fence's opening line, in its containers (a quote, a list item: a marker and its space).
# (Each marker takes the spaces after it, up to the next one: a `>` up to four (one its
# own, three the next line's indent), a list marker any. Written with the spaces shared
# between a marker and the next, the ways to split them doubled with each marker: a line
# of 25 `> ` took seconds, 40 would take days.)
_FENCE_LINE = re.compile(r"[ ]{0,3}(?:>[ ]{0,4}|[*+-][ ]+|\d{1,9}[.)][ ]+)*(?:`{3,}|~{3,})")


def _may_panic(body: str) -> bool:
    """markdown-it-pyrs 0.4 panics on a `[` followed in its paragraph by a run of backticks
    that nothing closes. True unless every run of backticks outside fence lines is closed by
    the next run of its length on its own line (so within one paragraph, cell or heading)."""
    if "\\`" in body:
        return True
    for line in body.split("\n"):
        if "`" not in line:
            continue
        fence = _FENCE_LINE.match(line)
        if fence and not (fence.group().endswith("`") and "`" in line[fence.end():]):
            continue  # (a run of backticks with another after it on its line opens no fence)
        if "|" in line:
            return True  # table cells are separate paragraphs
        if any(close is None for _, close in _code_spans([len(run) for run in _BACKTICKS.findall(line)])):
            return True
    return False


def _code_spans(runs: list[int]) -> Iterator[tuple[int, int | None]]:
    """Runs of backticks (their lengths, in order) paired as code spans: each run that opens
    one with the next run of its length (None: no run closes it, and the next run is looked
    at as an opener); the runs between are the span's text. (Each run's next of its length
    is found once, from the end: many runs cost their number, not its square.)"""
    following: list[int | None] = [None] * len(runs)
    seen: dict[int, int] = {}
    for k in range(len(runs) - 1, -1, -1):
        following[k] = seen.get(runs[k])
        seen[runs[k]] = k
    i = 0
    while i < len(runs):
        close = following[i]
        yield i, close
        i = i + 1 if close is None else close + 1


# --- the ```market fences -----------------------------------------------------------------

_MARKET_BLOCK = re.compile(r'<pre><code class="language-market">(.*?)</code></pre>\n', re.IGNORECASE | re.DOTALL)


def _fence_mention(line: str) -> bool:
    """Whether `line` has a run of three backticks or tildes with `market` (in any case) or
    an `&` somewhere after it. Looked for after the first such run only, which leaves the
    most of the line after it: one pass, where a regex trying each run in turn took time
    growing as the square of a line of many runs (21 KB: 38 s)."""
    marker = _FENCE_MARKER.search(line)
    return marker is not None and _MARKET_OR_ENTITY.search(line, marker.end()) is not None


def _line_doubts(body: str) -> list[int] | None:
    """One pass over the lines for what the Rust engine reads differently; None if any is
    found, else the lines that open a ```market fence (candidates, checked in _market_fences).

    An empty list item (the engines disagree on what it interrupts: a table, a quoted
    paragraph); a tab among a line's indentation or container markers (expanded differently
    in nested quotes); a fence line that mentions `market` or an entity and is not a plain
    opener at the start of a line ("```market foo", "> ```market", "  ```market")."""
    openers: list[int] = []
    for number, line in enumerate(body.split("\n")):
        if not line:
            continue
        last = line[-1]
        if last in "*+-.) \t>":
            item = line.lstrip(" >").rstrip(" \t")
            if item in ("*", "+", "-") or (1 < len(item) <= 10 and item[-1] in ".)" and item[:-1].isdigit()):
                return None
        if "\t" in line and not line[:line.index("\t")].strip(" >*+-0123456789.)"):
            return None
        if ("```" in line or "~~~" in line) and _fence_mention(line):
            if not _MARKET_OPENER.fullmatch(line):
                return None
            openers.append(number)
    return openers


def _market_fences(body: str, html: str, openers: list[int]) -> tuple[tuple[int, str], ...] | None:
    """Each ```market fence's (line, content), matched to the rendered code blocks; None if
    any fence cannot be matched with certainty."""
    rendered = _MARKET_BLOCK.findall(html) if openers or "language-" in html else []
    if len(openers) != len(rendered):
        return None
    if not openers:
        return ()
    lines = body.split("\n")
    fences = []
    for start, escaped in zip(openers, rendered, strict=True):
        content = htmllib.unescape(escaped)
        inner = content.split("\n")[:-1] if content else []
        if lines[start + 1:start + 1 + len(inner)] != inner:
            return None
        fences.append((start, content))
    return tuple(fences)


# --- the first paragraph ------------------------------------------------------------------

_PARAGRAPH_START = re.compile(r"<p>|<li>(?!\n|</li>)")
_TIGHT_ITEM_END = re.compile(r"</li>|\n<(?:ul|ol|pre|blockquote|h[1-6]|hr|table|p|div)[ >]")
# A tight list item's paragraph after another block in the item: "<li>\n<h2>a</h2>\nb</li>".
_HIDDEN_AFTER_BLOCK = re.compile(
    r"(?:</h[1-6]>|</pre>|</blockquote>|</ul>|</ol>|</table>|<hr />|</div>)\n"
    r"(?!</?(?:li|ul|ol|p|h[1-6]|pre|blockquote|table|hr|div|section)\b|\Z)")
_FOOTNOTE_REF = re.compile(r'<sup class="footnote-ref">.*?</sup>')
_TAG = re.compile(r"<[^>]*>")


def _first_paragraph(html: str) -> str | None:
    """The plain text of the first paragraph that has some, as markup._plain_text makes it
    from tokens. A paragraph in a tight list item has no <p>; one in the footnotes is left
    to the reference."""
    footnotes = html.find('<section class="footnotes">')
    searched = 0
    for m in _PARAGRAPH_START.finditer(html):
        if 0 <= footnotes < m.start() or _HIDDEN_AFTER_BLOCK.search(html, max(searched - 1, 0), m.start()):
            return None
        searched = m.start()
        if m.group(0) == "<p>":
            end = html.find("</p>", m.end())
        else:
            e = _TIGHT_ITEM_END.search(html, m.end())
            end = e.start() if e else -1
        if end < 0:
            return None
        inner = _FOOTNOTE_REF.sub("", html[m.end():end])
        if "<!--" in inner:
            return None
        text = " ".join(htmllib.unescape(_TAG.sub("", inner)).split())
        if text:
            return text
    return "" if _HIDDEN_AFTER_BLOCK.search(html, max(searched - 1, 0)) is None else None


# --- smart quotes ---------------------------------------------------------------------------

# The pieces of rendered HTML, as markdown-it-py's inline tokens see them.
_PIECE = re.compile(
    r"<pre>.*?</pre>"                                   # code block: a boundary
    r"|<code>(?P<code>.*?)</code>"                      # inline code
    r"|(?P<fnref><sup class=\"footnote-ref\">.*?</sup>)"
    r"| <a href=\"#fnref[^\"]*\" class=\"footnote-backref\">.*?</a>"  # footnote anchor: a boundary
    r"|<(?P<open>em|strong|s|a)(?: [^>]*)?>"
    r"|</(?P<close>em|strong|s|a)>"
    r"|(?P<img><img [^>]*>)"
    r"|(?P<br><br />\n)"
    r"|<!--.*?-->|<[^>]*>"                              # any other tag: a boundary
    r"|(?P<text>[^<]+)", re.DOTALL)


class _Unsure(Exception):
    """A quote's neighbour is an image (its token content is not in the HTML), or the HTML's
    text is not escaped as the Rust engine escapes it."""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# The Rust engine writes `&`, `<`, `>` and `"` in text as these four entities and nothing
# else as one (the source's own entities it writes as the characters they stand for), so
# `_escape` undoes `_unescape` on its text. Text with another `&...;` is not its (`_Unsure`).
_OTHER_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot);)")


def _unescape(text: str) -> str:
    """The Rust engine's text as markdown-it's tokens hold it (html.unescape, for its four entities)."""
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def _smartquotes(html: str) -> str | None:
    """markdown-it-py's smart quotes, applied block by block to HTML rendered without them;
    None where a quote's neighbour cannot be known from the HTML.

    The pieces (see `_PIECE`) stand for markdown-it's inline tokens, read only where
    a quote needs them: a text piece's text (unescaped) once it is looked at, its nesting
    level (emphasis and links) as the scan passes it. A text piece with a line end in it
    is one token here where markdown-it has two and a soft break between: a quote beside
    the line end sees it as a space, as it would the break (a line end is space to
    markdown-it's smart quotes, and neither punctuation, a digit nor a quote), and a text
    piece, changed or not, is its text escaped again, so a line end is written where it
    was. That rests on the Rust engine's escaping (see `_OTHER_ENTITY`): HTML with text
    escaped otherwise is not taken (None)."""
    pieces: list[re.Match[str]] = []  # the document's (a tag that ends a block is one, where neighbours stop)
    quoted: list[tuple[int, int, int]] = []  # text pieces with a quote: (index, level, lowest level since the last)
    level = low = 0
    new_block = True
    try:
        for m in _PIECE.finditer(html):
            kind = m.lastgroup
            if kind == "text":
                text = m.group(0)
                if "&" in text and _OTHER_ENTITY.search(text):
                    raise _Unsure  # not the Rust engine's escaping
                if "'" in text or '"' in text or "&quot;" in text:
                    # The first in its block is below every level: nothing of the block before stays open.
                    quoted.append((len(pieces), level, -1 if new_block else low))
                    low, new_block = level, False
            elif kind is None:  # a tag that ends the block
                level = low = 0
                new_block = True
            elif kind == "open":
                level += 1
            elif kind == "close":
                level -= 1
                if level < low:
                    low = level
            pieces.append(m)
        if not quoted:
            return html
        texts: dict[int, str] = {}
        changed = curl(quoted, partial(_text, pieces, texts), partial(_neighbour, pieces, texts))
    except _Unsure:
        return None
    out: list[str] = []
    pos = 0
    for i in sorted(changed):
        start, end = pieces[i].span()
        out.append(html[pos:start])
        out.append(_escape(changed[i]))
        pos = end
    out.append(html[pos:])
    return "".join(out)


def _text(pieces: list[re.Match[str]], texts: dict[int, str], j: int) -> str:
    """The text of piece j as markdown-it's tokens have it: a text piece's unescaped, a code
    span's, "" for a tag. (Before smart quotes: `curl` reads a quote and its curled form alike.)"""
    text = texts.get(j)
    if text is None:
        m = pieces[j]
        kind = m.lastgroup
        text = texts[j] = _unescape(m.group(0)) if kind == "text" else \
            htmllib.unescape(m.group("code")) if kind == "code" else ""
    return text


def _neighbour(pieces: list[re.Match[str]], texts: dict[int, str], i: int, step: int) -> int:
    """The character next to piece i, before it (`step` -1) or after it (1), as markdown-it's
    smart quotes look for it: past tags, not past a hard line break or the block's end (a
    space); a text piece's line end is returned as it is (space too, to smart quotes)."""
    j = i + step
    while 0 <= j < len(pieces):
        kind = pieces[j].lastgroup
        if kind == "br" or kind is None:  # a hard break, or the block's end
            break
        if kind == "img":
            raise _Unsure
        text = _text(pieces, texts, j)
        if text:
            return ord(text[-1] if step < 0 else text[0])
        j += step
    return 0x20


# --- the rest ---------------------------------------------------------------------------------

_FOOTNOTE_ITEM = re.compile(r'(<li id="fn\d+" class="footnote-item">)\n')
# What markdown-it's replacements and smart quotes look for.
_REPLACEMENT_LITERALS = ("+-", "..", "??", "!!", ",,", "--")
_TYPOGRAPHER_LITERALS = (*_REPLACEMENT_LITERALS, "'", '"')
_TYPOGRAPHER_SCOPED = re.compile(r"\((?:c|tm|r|p)\)", re.IGNORECASE)


def _typographer_trigger(body: str, quotes: bool = True) -> bool:
    """Whether markdown-it's typographer may change `body`: its replacements and, with
    `quotes`, its smart quotes."""
    return any(s in body for s in (_TYPOGRAPHER_LITERALS if quotes else _REPLACEMENT_LITERALS)) \
        or ("(" in body and bool(_TYPOGRAPHER_SCOPED.search(body)))


def _typography_in_code(body: str) -> bool:
    """Whether a code span may hold what the typographer changes (`a --` b`), which the Rust
    engine changes inside code too. A code span lies in one block (no blank line inside it),
    between two runs of backticks: so each block's text from its first backtick to its last
    is looked at, which holds every code span of it (and perhaps more: a fence's lines, text
    between two spans), and an article with quotes or dashes outside its code is not doubted."""
    at = body.find("`")
    while at >= 0:
        blank = _BLANK_LINE.search(body, at)
        end = blank.start() if blank is not None else len(body)
        last = body.rfind("`", at, end)
        if last > at and _typographer_trigger(body[at:last]):
            return True
        at = body.find("`", end)
    return False
_FOOTNOTE_REF_NUMBERS = re.compile(r'<sup class="footnote-ref"><a href="#fn(\d+)" id="fnref(\d+)">\[(\d+)\]</a></sup>')
# A list numbered with a parenthesis ends a table in markdown-it-py only.
_PAREN_ITEM = re.compile(r"^ {0,3}\d{1,9}\)", re.MULTILINE)
# (The `-` written out is the line's first: with any, a line of many took time growing as their square.)
_DELIMITER_ROW = re.compile(r"^[ \t|:]*-[ \t|:-]*$", re.MULTILINE)


def _table_doubt(body: str, rendered: bool) -> bool:
    """A table the engines may see differently: a line with a pipe over a delimiter row
    without one ("a|" over "--": a one-column table to markdown-it-py, a heading to the Rust
    engine); and, where a table was `rendered`, a delimiter row under a line without a pipe
    (a one-column table to the Rust engine, a paragraph to markdown-it-py), or a header row
    right under other text (in a quote, markdown-it-py reads the rows as more of it)."""
    lines = body.split("\n")
    row, counted = 0, 0
    for m in _DELIMITER_ROW.finditer(body):
        row += body.count("\n", counted, m.start())  # (counted on from the last row: linear in the body)
        counted = m.start()
        above = lines[row - 1] if row > 0 else ""
        if not above.strip() and "|" not in m.group(0):
            continue  # under a blank line: a thematic break (`---`) or text, no table's row
        if "|" in above and ("|" not in m.group(0) or _FENCE_LINE.match(above)):
            return True  # (a fence's opening line with a pipe over a delimiter row: a table's header to markdown-it-py)
        if "|" in m.group(0) and "|" not in above:
            return True  # a delimiter row under a line without a pipe (a list item's lazy line, say): no table's
        if rendered and ("|" not in above or (row >= 2 and lines[row - 2].strip())
                         or _ANY_ITEM.match(above.lstrip(" >"))):
            return True  # (a header row that is a list item's line: the Rust engine ends a loose list there)
    return False


_ALIGN = re.compile(r' style="text-align:(left|center|right)"')
_IMG_ALT = re.compile(r'<img src="[^"]*" alt="([^"]*)"')
# A host with a non-ASCII character or a percent sign, after "://" (searched for first:
# found fast), in a link's or an image's URL when a scheme and `href="` or `src="` come before it.
_ODD_HOST = re.compile(r'://[^/?#"]*(?:%|[^\x00-\x7f])')
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
# The same without "://": a protocol-relative URL's host, and a mail address, which
# markdown-it-py takes for a host too.
_ODD_ADDRESS = re.compile(r'="(?://[^/?#"]*|(?i:mailto):[^"]*)(?:%|[^\x00-\x7f])')  # (after href or src)


def _foreign_host(html: str) -> bool:
    """Whether a link's or an image's URL has a host with a non-ASCII character or a percent
    sign, which the engines encode differently."""
    for m in _ODD_HOST.finditer(html):
        # Back over the scheme to the attribute (not back to the last quote: where none came
        # before, that read from the top of the HTML for each, and text of many took their square).
        start = at = m.start()
        while at and html[at - 1] in _SCHEME_CHARS:
            at -= 1
        if at < start and html[at].isalpha() and html.endswith(('href="', 'src="'), 0, at):
            return True
    return any(html.endswith(("href", "src"), 0, m.start()) for m in _ODD_ADDRESS.finditer(html))


# Found by fuzzing the two engines against each other (tests/test_engines.py, FUZZED): each
# a construct the Rust engine parses differently, routed by a check on the source.
_IMAGE_ALT = re.compile(r"!\[([^\]\n]*)\]")
_SIMPLE_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\([^()\n\"]*(?:\"[^\"\n]*\"[^()\n\"]*)?\)")
_ORDERED_ITEM = re.compile(r"(\d{1,9})[.)](?:[ \t]|$)")
_ANY_ITEM = re.compile(r"(?:\d{1,9}[.)]|[*+-])(?:[ \t]|$)")
_EMPTY_TITLE = re.compile(r"\"\"|''|\(\)")  # after a space (_empty_title)
_GAP = re.compile(r"[ \n]+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")  # (what ends a paragraph, and so any code span)


def _fence_line(body: str, i: int, j: int) -> bool:
    """Whether the run of backticks `body[i:j]` (three or more) opens or closes a fence: it
    starts its line (after at most three spaces) and no backtick follows on that line. Such a
    run is no code span's, whatever comes after it (two market fences one under the other)."""
    line = body.rfind("\n", max(i - 4, 0), i)  # (not further back: many runs on a line would cost its square)
    if line < 0 and i > 3:
        return False
    end = body.find("\n", j)
    return not body[line + 1:i].strip(" ") and "`" not in body[j:end if end >= 0 else len(body)]


def _blank_code(body: str) -> bool:
    """A code span of spaces and line ends alone (`` `   ` ``): the engines trim it differently.
    Each run of backticks is found with str.find (a regex search of the body costs ten times
    as much), and what follows it looked at."""
    i = body.find("`")
    while i >= 0:
        j = i + 1
        while body[j:j + 1] == "`":
            j += 1
        k = i
        while k and body[k - 1] == "\\":
            k -= 1
        if (i - k) % 2:  # (its first backtick is escaped: the run is one shorter)
            i += 1
        gap = _GAP.match(body, j) if i < j and (j - i < 3 or not _fence_line(body, i, j)) else None
        if gap is not None and "\n\n" not in gap.group().replace(" ", ""):  # (a blank line ends a span)
            run = body[i:j]
            k = gap.end()
            if body.startswith(run, k) and body[k + len(run):k + len(run) + 1] != "`":
                return True
        i = body.find("`", j)
    return False
# What may be a character reference (`&amp;`, `&#38;`, `&nbsp;`: the engines decode some
# differently in a destination); an `&` without one, as in a query string's `?a=1&b=2`, is
# the same to both.
_REFERENCE = r"&#?[A-Za-z0-9]*;"
_ODD_DESTINATION = re.compile(rf"\]\(\s*[^)\s]*(?:[\[<`]|\\\n|::)|\]\(\s*\S*{_REFERENCE}|\]\(\s*[^/)\s]*:[^/)\s]*:"
                              rf"|\]:[ \t]*\S*(?:\[|{_REFERENCE}|\\\n|::)|\]:[ \t]*[^/\s]*:[^/\s]*:|\]:[ \t]*<>")
_DESTINATION_START = re.compile(r"\][(:]")
_SPACE = re.compile(r"\s")
_SPACES_THEN_RUN = re.compile(r"\s*\S*")
_TWO_IN_A_RUN = re.compile(r"\][(:]\S*?\][(:]")  # (from each, only to the next: lazily)
# A run of text without a space holding more `](` and `]:` than this is doubted at once: a
# destination is looked at up to the end of its run (and one character past it), so runs
# with very many would cost as the square of their length (`[a](x)` 80,000 times: 37 s).
MANY_DESTINATIONS_IN_A_RUN = 16


def _odd_destination(body: str) -> bool:
    """Whether `_ODD_DESTINATION` is found in `body`, looking only where it can start (`](`
    or `]:`) and, from each, only as far as it can reach: past the spaces after it, to the
    end of the run of text that follows, and one character more (a backslash's line end)."""
    if not _TWO_IN_A_RUN.search(body):  # each run has one at most: the regex reads each run twice at most
        return _ODD_DESTINATION.search(body) is not None
    run_end = count = -1
    for m in _DESTINATION_START.finditer(body):
        start = m.start()
        if start < run_end:
            count += 1
            if count > MANY_DESTINATIONS_IN_A_RUN:
                return True
        else:
            space = _SPACE.search(body, start)
            run_end, count = (space.start() if space else len(body)), 1
        reach = _SPACES_THEN_RUN.match(body, m.end())
        if _ODD_DESTINATION.match(body, start, reach.end() + 1 if reach else len(body)):
            return True
    return False


_AUTOLINK = re.compile(r"<[A-Za-z][A-Za-z0-9.+-]{1,31}:[^<>\s]*>")
# An autolink (a URL's or a mail address's) with a percent sign: markdown-it-py shows it decoded.
_PERCENT_AUTOLINK = re.compile(r"<[^<>\s]*%[^<>\s]*>")
_AUTOLINK_PLAIN = re.compile(r"<[A-Za-z][A-Za-z0-9.+-]{1,31}:[A-Za-z0-9:/?#@!$&'+,;=%.-]*>")


def _alt_doubt(body: str) -> bool:
    """An image whose alt text is more than plain words: the Rust engine applies the
    typographer's replacements to alt text and drops its entities, escapes and autolinks;
    or any image but `![alt](destination "title")` on one line (a reference image, brackets
    in the alt, an alt or a destination across lines, an odd quote in the title). An
    apostrophe or a full stop is a plain word's (`Traders' odds since Nov. 5`): smart
    quotes are not applied to alt text by markdown-it-py, nor by the Rust engine as run here."""
    if body.count("![") != len(_SIMPLE_IMAGE.findall(body)):
        return True
    for m in _IMAGE_ALT.finditer(body):
        alt = m.group(1)
        if not all(c.isalnum() or c in " ,:;?!%$/+=#@-'.’" for c in alt) or _typographer_trigger(alt, quotes=False) \
                or "  " in alt:
            return True
    return False


def _depth(line: str) -> int:
    """How many quotes deep a line is (its `>` markers)."""
    stripped = line.lstrip(" ")
    depth = 0
    while stripped.startswith(">"):
        depth += 1
        stripped = stripped[1:].lstrip(" ")
    return depth


# The lines the checks below look at, found by one search of the body: a fence or an
# ordered list item (in a quote or not), and a quoted line with a pipe or a backtick.
_SUSPECT_LINE = re.compile(r"\n[ >\t]*(?:\d{1,9}[.)]|```|~~~)|\n[ *+\-0-9.)]*>[^\n]*[|`]")  # in "\n" + body
_DEFINITION_LINE = re.compile(r"^.*\]:.*$", re.MULTILINE)
# (In "\n" + body. The `>` written out is the line's first: a `[ >]*` before it let it be any, and a
# line of many took time growing as their square.)
_QUOTED_DELIMITER = re.compile(r"\n[ ]*>[ >]*(?::-+:?|-+:)[ \t]*(?=\n)")
_OPEN_BRACKETS = re.compile(r"\]\($|\]\[[^\]\n]*\[|\[\]", re.MULTILINE)
_SPACES_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)
_INDENTED_LINE = re.compile(r"\n(?:[ \t]|[ >]*>[ \t]{2})")  # in "\n" + body: indented, or indented in a quote
_DELIMITER_RUN = re.compile(r"(?=[*_~])(?:\*+|_+|~~+)")  # (the look-ahead lets the search skip other characters)
_STARS = re.compile(r"\*+")
# What the emphasis rules leave out, as neither engine reads emphasis there: a code span on
# one line (runs of backticks of one length), a link's plain destination, an autolink. Only
# what surely is one: anything else stays in, which can only send more bodies to the reference.
_NOT_TEXT = re.compile(r"(?<!`)(`+)(?!`)[^`\n]*?(?<!`)\1(?!`)"
                       r"|(?<!\\)(\[[^\[\]\n]*\])\([^\s()<>]*\)"
                       r"|<[A-Za-z][A-Za-z0-9.+-]{1,31}:[^<>\s]*>|<[^<>\s@]+@[^<>\s]+>")


def _line_at(body: str, at: int) -> tuple[str, str]:
    """The line `at` is in, and the line before it ("" for the first)."""
    start = body.rfind("\n", 0, at) + 1
    end = body.find("\n", at)
    line = body[start:end if end >= 0 else len(body)]
    previous = body[body.rfind("\n", 0, start - 1) + 1:start - 1] if start else ""
    return line, previous


def _markers(line: str) -> str:
    """A line's container markers, before its text: quotes' `>`, list items' markers, indents."""
    return line[:len(line) - len(line.lstrip(" >*+-0123456789.)\t"))]


def _in_quote(line: str) -> bool:
    """Whether a line's container markers hold a quote's `>`, in a list item or not."""
    return ">" in _markers(line)


def _quoted_above(body: str, start: int, seen: dict[int, bool]) -> bool:
    """Whether a line of the block above the line that begins at `start` (up to a blank
    line) is in a quote: a line under it may be a lazy line of that quote. `seen` keeps,
    for each line looked at, whether it or a line above it in its block is quoted, so that
    the lines of a body are walked once however many ask (a long list's items)."""
    walked: list[int] = []
    found, end = False, start - 1
    while end > 0:
        begin = body.rfind("\n", 0, end) + 1
        if begin in seen:
            found = seen[begin]
            break
        line = body[begin:end]
        if not line.strip():
            break
        walked.append(begin)
        if _in_quote(line):
            found = True
            break
        end = begin - 1
    seen.update(dict.fromkeys(walked, found))
    return found


def _interleaved_delimiters(body: str) -> bool:
    """Whether a block of text has emphasis of one kind (`*`, `_` or `~~`) around a run of
    another kind, with a run of that other kind after it (`**a_a_.** _a_`): the Rust engine
    then pairs the later runs differently. The runs of a kind are taken as opener and closer
    in turn (an underscore between two letters or digits, which neither opens nor closes,
    is left out of its own kind's pairs); `**Q:** _Why?_ **A:** _Because._`, where no span
    holds a run of another kind, is not doubted. Runs in code spans, link destinations and
    autolinks are not text (`_NOT_TEXT`)."""
    for block in body.split("\n\n"):  # (no code span or link runs across a blank line)
        if "_" not in block and "~~" not in block:
            continue  # (stars alone: `_both_flanking_star`)
        if "`" in block or "](" in block or "<" in block:
            # A link keeps its text; a code span or an autolink becomes a backtick, which
            # (like the backtick or `>` it ends with) is punctuation beside a delimiter.
            block = _NOT_TEXT.sub(lambda m: m.group(2) or "`", block)
        runs = []  # (kind, whether it can be an opener or closer of its own kind)
        spans = []  # (kind, start, end)
        for m in _DELIMITER_RUN.finditer(block):
            kind, (start, end) = m.group()[0], m.span()
            inert = kind == "_" and start and end < len(block) and block[start - 1].isalnum() \
                and block[end].isalnum()
            runs.append((kind, not inert))
            spans.append((kind, start, end))
        if _paired_around(block, spans):
            return True  # (of one kind too: ";__.k_`_&__" with "_._!" on the next line)
        kinds = {kind for kind, _ in runs}
        if len(kinds) < 2:
            continue
        for first in kinds:
            opened = -1  # where this kind's open span began (its run's position), if one is open
            inside: set[str] = set()  # the other kinds with a run inside a span of this kind
            for i, (kind, pairs) in enumerate(runs):
                if kind == first and pairs:
                    if opened < 0:
                        opened = i
                    else:
                        inside |= {k for k, _ in runs[opened + 1:i]} - {first}
                        opened = -1
                elif kind in inside:
                    return True
    return False


def _flanks(block: str, start: int, end: int) -> tuple[bool, bool]:
    """Whether the run of delimiters at block[start:end] can open and close emphasis, by
    CommonMark's flanking rules with markdown-it's classes of characters (an underscore
    inside a word does neither)."""
    last, nxt = ord(block[start - 1]) if start else 0x20, ord(block[end]) if end < len(block) else 0x20
    last_punct, last_space = CLASS[last] if last < 128 else char_class(last)
    next_punct, next_space = CLASS[nxt] if nxt < 128 else char_class(nxt)
    left = not next_space and (not next_punct or last_space or last_punct)
    right = not last_space and (not last_punct or next_space or next_punct)
    if block[start] == "_":
        return left and (not right or last_punct), right and (not left or next_punct)
    return left, right


TANGLED = 64  # openers a closer may pass over by the rule of three (see `_paired_around`)


def _paired_around(block: str, runs: list[tuple[str, int, int]]) -> bool:
    """Whether a run of delimiters that might close emphasis and found no opener lies inside
    a span that another pair of runs then closes, with a run of its own kind after that span:
    the Rust engine then misses the later pair (`__._* *__*n*`, `*.*d_b_* _._`, and
    ";__.k_`_&__" with "_._!" on the next line), as if its search for openers stopped where
    the failed one began while the span's runs were taken out. The runs are paired as
    CommonMark pairs them (each closer with the nearest opener of its kind it may take; the
    rule of three for `*` and `_`): a doubt, which only ever sends more bodies to
    markdown-it-py. Each closer's look at the runs that failed is a bisection, and a closer
    that the rule of three would have pass over more than TANGLED openers sends the body to
    markdown-it-py at once, so a block of a great many runs costs what their number times
    its logarithm does (without that bound, `" *a" * n + "**a" * n` took time growing as
    the square of n). `runs`: the block's runs of delimiters (`_DELIMITER_RUN`), as (kind,
    start, end)."""
    last = {kind: i for i, (kind, _, _) in enumerate(runs)}  # each kind's last run
    openers: dict[str, list[tuple[int, int, bool]]] = {}  # by kind: (index in runs, length, may close too)
    failed: dict[str, list[int]] = {}  # by kind, in order: runs that might have closed and found no opener
    for i, (kind, start, end) in enumerate(runs):
        can_open, can_close = _flanks(block, start, end)
        stack = openers.setdefault(kind, [])
        if can_close:
            for j in range(len(stack) - 1, -1, -1):
                o, length, both = stack[j]
                if kind != "~" and (both or can_open) and (length + end - start) % 3 == 0 \
                        and not (length % 3 == 0 and (end - start) % 3 == 0):
                    if len(stack) - j > TANGLED:
                        return True  # a closer passing over this many openers: no ordinary text
                    continue  # the rule of three
                for other, runs_failed in failed.items():
                    k = bisect_right(runs_failed, o)
                    if last[other] > i and k < len(runs_failed) and runs_failed[k] < i:
                        return True
                del stack[j:]
                break
            else:
                failed.setdefault(kind, []).append(i)
                if can_open:
                    stack.append((i, end - start, True))
        elif can_open:
            stack.append((i, end - start, False))
    return False


def _nested_backticks(body: str) -> bool:
    """Whether a code span (a run of backticks up to the next run of its length, in one
    block) holds a run of another length that occurs again after it: the Rust engine then
    misses the later span (``.```*`` a ```b```)."""
    if body.count("`") < 7:  # (two spans, one holding a run of another length: 2 + 2 + 3 backticks at the least)
        return False
    at = body.find("``")  # (a run of two or more is in every such block: the blocks without one are skipped)
    while at >= 0:
        first = body.rfind("\n\n", 0, at) + 1
        last = body.find("\n\n", at)
        last = len(body) if last < 0 else last
        at = body.find("``", last)
        block = body[first:last]
        if block.count("`") < 7:
            continue
        runs = [len(run) for run in _BACKTICKS.findall(block)]
        last_at = {length: k for k, length in enumerate(runs)}  # where each length's last run is
        for i, close in _code_spans(runs):
            if close is not None and any(last_at[length] > close for length in set(runs[i + 1:close])):
                return True
    return False


def _both_flanking_star(body: str) -> bool:
    """Whether a run of `*` has a letter or digit on both sides, or punctuation on both
    (`a*b`, `"**,`), in a block with two more runs of stars at least: a run that can both
    open and close emphasis, which the engines pair differently with the runs around it.
    (A walk with str.find: a regex search of the body cost ten times as much.)"""
    n = len(body)
    at = body.find("*")
    while at >= 0:
        end = at + 1
        while end < n and body[end] == "*":
            end += 1
        if at and end < n:
            before, after = body[at - 1], body[end]
            if not before.isspace() and not after.isspace() and before.isalnum() == after.isalnum():
                first = body.rfind("\n\n", 0, at) + 1
                last = body.find("\n\n", end)
                block = body[first:last if last >= 0 else n]
                if len(_STARS.findall(block)) >= 3:
                    return True
        at = body.find("*", end)
    return False


def _lazy_indented(body: str) -> bool:
    """Whether an indented line is a lazy line of a quote above it in its block: one with
    fewer `>` among its container markers than a line above (none, or fewer than a nested
    quote's), whose text starts with more than the one space a `>` takes."""
    deepest = 0  # the most `>` of a line since the last blank one
    for line in body.split("\n"):
        if not line.strip():
            deepest = 0
            continue
        markers = _markers(line)
        depth = markers.count(">")
        if depth < deepest:
            after = markers[markers.rfind(">") + 1:] if depth else markers
            if after[:1] in (" ", "\t") and (not depth or after[:2].isspace() and len(after) >= 2):
                return True
        deepest = max(deepest, depth)
    return False


_NUMERIC_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,6})|([0-9]{1,7}));")


def _odd_numeric_reference(body: str) -> bool:
    """Whether a numeric character reference in `body` may be read differently: one to a space,
    a line end, a control or format character, a surrogate or nothing (`&#10;`, `&#160;`,
    `&#0;`), or an `&#` that is none. One to a letter or a mark (`&#8217;`, `&#233;`) is text
    to both engines."""
    found = _NUMERIC_REFERENCE.findall(body)
    if len(found) != body.count("&#"):
        return True
    for hexadecimal, decimal in found:
        code = int(hexadecimal, 16) if hexadecimal else int(decimal)
        if not 0 < code <= 0x10FFFF or unicodedata.category(chr(code))[0] in "CZ":
            return True
    return False


def _fuzzed_doubts(body: str) -> bool:
    """What fuzzing found the engines parse differently. Each check looks for a character
    or a pair first, so that an ordinary article pays a few memchr calls and one search."""
    # (A test for one character is a memchr; one for two costs some ten times as much.)
    lines = "\n" + body  # what the searches for a line's start look in: each line after a "\n"
    if "!" in body and "![" in body and _alt_doubt(body):
        return True
    if ("^" in body and ("[^\n" in body or _no_footnote(body) or _FOOTNOTE_LIST_CODE.search(body))) \
            or ("&" in body and "&#" in body and _odd_numeric_reference(body)):
        return True  # a footnote label across lines or none to markdown-it-py (`[^a b]:`), or a footnote that
        # starts with a list item of indented code; a numeric reference to a space or a control character
    if ("_" in body or "~~" in body) and _interleaved_delimiters(body):
        return True  # emphasis around runs of another kind, or around one that found no partner: the engines
        # pair the runs after it differently
    if "*" in body and _both_flanking_star(body):
        return True  # a run of stars that can both open and close
    if (('"' in body and '""' in body) or ("'" in body and "''" in body) or "()" in body) and any(
            m.start() and body[m.start() - 1].isspace() for m in _EMPTY_TITLE.finditer(body)):
        return True  # an empty link title: the Rust engine writes title=""
    if "``" in body and _nested_backticks(body):
        return True  # a code span holding a run of backticks of another length, which a later span has
    if "`" in body and ("` " in body or "`\n" in body) and _blank_code(body):
        return True  # a code span of spaces (and line ends) alone
    if "]" in body and ("](" in body or "]:" in body) and _odd_destination(body):
        return True  # a destination with a bracket, a character reference (after brackets of its own too), <>, a
        # backtick (where the Rust engine may panic), `::`, two colons before any slash (`x:y:1`, which
        # markdown-it-py reads as a host and port) or a backslash at a line's end, after spaces or a line end
        # too: encoded or read differently
    if "<" in body and (any(not _AUTOLINK_PLAIN.fullmatch(a) or "::" in a for a in _AUTOLINK.findall(body))
                        or "%" in body and _PERCENT_AUTOLINK.search(body)):
        return True  # an autolink with characters the engines take or leave differently, or shown decoded
    if "@" in body and (":@" in body or "//@" in body):
        return True  # an empty user before a host, in an autolink or a link: markdown-it-py drops the @
    if "~" in body and "~~~" in body and any("~~~" in line and not line.lstrip(" >\t").startswith("~~~")
                             for line in body.split("\n")):
        return True  # a run of tildes inside a line (strikethrough delimiters)
    if ("`" in body or "]" in body) and ">" in body and _INDENTED_LINE.search(lines) and _lazy_indented(body):
        return True  # an indented lazy line of a quote: markdown-it-py keeps its indent in a code span or a title
    if "~" in body and ("~*" in body or "~_" in body or "*~" in body or "_~" in body):
        return True  # a tilde against an emphasis delimiter
    if ">" in body and ("-:" in body or ":-" in body) and _QUOTED_DELIMITER.search(lines):
        return True  # a delimiter row without a pipe in a quote: a one-column table to one engine only
    seen: dict[int, bool] = {}  # for _quoted_above
    for m in _SUSPECT_LINE.finditer(lines):
        line, previous = _line_at(body, m.start())  # (m.start() in `lines` is the line's start in body)
        bare = line.lstrip(" >\t")
        if bare.startswith(("```", "~~~")) and not line.startswith(("```", "~~~")):
            return True  # a fence in a list item or a quote: the line break before it differs
        if ("|" in line or "`" in line) and _in_quote(line):
            return True  # a table or a code span in a quote (in a list or not): the lazy lines differ
        item = _ORDERED_ITEM.match(bare)
        if item and int(item.group(1)) != 1 and previous.strip() and (
                not _ANY_ITEM.match(previous.lstrip(" >\t")) or _depth(previous) != _depth(line)
                or _in_quote(previous)
                or (_depth(line) == 0 and _quoted_above(body, m.start(), seen))):
            return True  # a list not starting at 1 under text (or another quote): it interrupts it for one engine only
    if "]" not in body or "]:" not in body:
        return False
    if "^" in body and "[^" in body and _SPACES_LINE.search(body):
        return True  # a line of spaces among footnotes
    if _OPEN_BRACKETS.search(body):
        return True  # a link left open, or brackets in a label, beside a reference definition
    for m in _DEFINITION_LINE.finditer(body):
        line = m.group(0)
        titled = not _FOOTNOTE_START.match(line)  # (a footnote's text has no destination or title: its quotes are text)
        if line.rstrip().endswith("]:") or not line.lstrip(" ").startswith("[") or titled and (
                line.count('"') % 2 or line.count("'") % 2 or line.count("(") != line.count(")")) \
                or "]:  " in line or line.split("]:", 1)[0].count("[") > 1:
            return True  # a label with brackets in it, or across lines; a destination or title across lines;
            # or a footnote's indented text
        following = body[m.end() + 1:body.find("\n", m.end() + 1) if body.find("\n", m.end() + 1) >= 0 else None]
        if following.lstrip(" >\t")[:1] in ("'", '"', "(") or (following.strip() and not following.strip(" =-")):
            return True  # a definition's title on the next line, or a setext underline under it
        if "[^" in line and following.strip() and not following.startswith((" ", "[")):
            return True  # a footnote's lazy line
    return False


# Past this many `*`, `_` and `~` in a body, markdown-it-py renders it: the Rust engine's
# time grows as the square of the delimiters in a block (8,000 runs of `~~a~~ ~b~`, 1.0 s
# against 0.06 s for 2,000; markdown-it-py 0.34 s for 15,000), which a hostile article could
# use to slow a build. An article of the corpus has some 90. The same with link reference
# definitions: 8,000 of them took it 1.3 s (4,000: 0.32 s), markdown-it-py 0.08 s. Only a
# body past LARGE_BODY characters is counted (a count is a read of the whole body): below
# that, the worst of either costs the Rust engine about a tenth of a second.
LARGE_BODY = 16384
MANY_DELIMITERS = 5000
MANY_DEFINITIONS = 500

# markdown-it-py stops at 20 levels of nesting (`maxNesting` of its commonmark preset: each
# quote, list and list item opened is a level, and each link's brackets inside another's)
# and drops what is deeper; the Rust engine renders it. A body that may reach that deep
# goes to markdown-it-py: a line whose containers (each `>` one level, each list marker
# two, each column of indentation one at most, a tab four, a footnote's definition two) add
# up to DEEP, or a paragraph with DEEP brackets `[` (a review found `]` in code spans and
# titles closing none). No article of the corpus comes near (ten deep at most, one `[`).
DEEP = 16
_CONTAINER = r"[ \t>*+\-0-9.)]"  # a character of a line's leading containers
_CONTAINERS = re.compile(rf"\n{_CONTAINER}{{4,}}")  # in "\n" + body (fewer characters cannot add up to DEEP)
# (A line that starts `[label]:` with no bracket, backtick or backslash in its label: that
# bracket closes at once, and is not counted; a block of reference definitions is no paragraph.)
_BRACKET_OR_BLANK = re.compile(r"\n {0,3}\[[^\[\]\n`\\]*\]:|\[|\n[ \t]*(?=\n)")  # in "\n" + body
_FOOTNOTE_CONTAINERS = re.compile(rf"\n({_CONTAINER}*){_FOOTNOTE_LABEL}({_CONTAINER}*)")  # in "\n" + body


def _levels(prefix: str) -> int:
    """The most levels of nesting a line's leading containers can open (see DEEP)."""
    return prefix.count(">") + 2 * len(_ANY_ITEM.findall(prefix)) + prefix.count(" ") + 4 * prefix.count("\t")


def _deep(body: str) -> bool:
    """Whether `body` may nest DEEP levels or more (see DEEP)."""
    lines = "\n" + body
    for m in _CONTAINERS.finditer(lines):  # (a search for a line end first: a sixth of the time of `^`)
        prefix = m.group()[1:]  # (no character opens more than two levels, a tab four: most are ruled out at once)
        if 2 * len(prefix) + 2 * prefix.count("\t") >= DEEP and _levels(prefix) >= DEEP:
            return True
    if "]:" in body and "[^" in body:  # a footnote's definition is a container too (two levels, to be safe)
        for m in _FOOTNOTE_CONTAINERS.finditer(lines):
            if _levels(m.group(1)) + 2 + _levels(m.group(2)) >= DEEP:
                return True
    if body.count("[") >= DEEP:
        # Every `[` of a paragraph counted, none taken back by a `]`: one in a code span or a
        # title closes nothing, and a link can nest no deeper than its paragraph has brackets.
        opened = 0
        for m in _BRACKET_OR_BLANK.finditer(lines):
            mark = m.group()
            if mark == "[":
                opened += 1
                if opened >= DEEP:
                    return True
            elif not mark.endswith(":"):  # a blank line
                opened = 0
    return False


def render(body: str, raw_html: bool, widget_block: Callable[[list[int]], str]) -> FastBody | None:
    """`body` rendered by markdown-it-pyrs into markdown-it-py's bytes, or None: render it
    with markdown-it-py. `widget_block(indices)` writes a ```market fence's placeholders.
    `body` ends with a line end (`markup._as_lines`): without one, a fence left open at the
    very end would end its code with a line end here and without one in markdown-it-py."""
    if _rust is None:
        return None
    # Each `c in body` below is one memchr: together a fiftieth of the cost of building the
    # set of the body's characters (1 against 52 microseconds an article).
    if raw_html and "<" in body:
        return None
    if len(body) > LARGE_BODY and (body.count("*") + body.count("_") + body.count("~") > MANY_DELIMITERS
                                   or body.count("]:") > MANY_DEFINITIONS):
        return None  # the Rust engine's time grows as the square of a block's delimiters, or of the definitions
    if _deep(body):
        return None  # nested deeper than markdown-it-py goes
    ascii = body.isascii()
    if "\\" in body and "]:" in body:
        return None  # a link reference definition with a backslash: `[a]: \` is one only to markdown-it-py
    if "\r" in body or "\x00" in body or "\x0c" in body or "\x0b" in body \
            or ("^" in body and _INLINE_FOOTNOTE in body):
        return None
    if not ascii and (_odd_spaces(body) or _symbols_near_delimiters(body)):
        return None
    quotes = "'" in body or '"' in body
    if quotes and (("\\" in body and ("\\'" in body or '\\"' in body))
                   or ("&" in body and _QUOTE_ENTITY.search(body))):
        return None  # an escaped quote is left as it is: the HTML does not show which ones were
    openers = _line_doubts(body)
    if openers is None:
        return None
    if "^" in body and "[^" in body and _footnote_interrupts(body):
        return None
    if "`" in body and "[" in body and _may_panic(body):
        return None
    if _fuzzed_doubts(body):
        return None
    if "|" in body and ("\\||" in body or _table_doubt(body, rendered=False)):
        return None  # (an escaped pipe right before a pipe: the engines count a row's cells differently)
    try:
        html: str = _engine(raw_html).render(body)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # a panic in the Rust engine arrives as pyo3's PanicException
        return None
    if "footnote-" in html:
        refs = _FOOTNOTE_REF_NUMBERS.findall(html)
        if any(ref != (str(n), str(n), str(n)) for n, ref in enumerate(refs, 1)):
            return None  # a footnote referred to twice, or numbered in another order than markdown-it-py's
        if html.count('class="footnote-item"') != len(refs) or html.count('class="footnote-backref"') != len(refs):
            return None
        html = _FOOTNOTE_ITEM.sub(r"\1", html)
    if "<table>" in html and (_PAREN_ITEM.search(body) or _table_doubt(body, rendered=True)):
        return None
    if quotes:
        quoted = _smartquotes(html)
        if quoted is None:
            return None
        html = quoted
    if "<img" in html and any(not htmllib.unescape(alt).strip() for alt in _IMG_ALT.findall(html)):
        return None
    if not ascii and _foreign_host(html):
        return None
    if "`" in body and html.count("<code>") > html.count("<pre><code>") and _typography_in_code(body):
        return None  # the Rust engine's typographer also works inside `code`
    fences = _market_fences(body, html, openers)
    if fences is None:
        return None
    first = _first_paragraph(html)
    if first is None:
        return None
    if "<table>" in html:
        html = html.replace("<table>\n", '<table tabindex="0">\n')
        html = _ALIGN.sub(r' class="align-\1"', html)
    if "<blockquote>\n</blockquote>" in html:
        html = html.replace("<blockquote>\n</blockquote>", "<blockquote></blockquote>")
    if fences:
        blocks = iter(fences)
        count = [0]

        def replace(_: re.Match[str]) -> str:
            start, content = next(blocks)
            indices = []
            for line in content.split("\n"):
                if line.strip() and not line.lstrip().startswith("#"):
                    indices.append(count[0])
                    count[0] += 1
            return widget_block(indices)

        html = _MARKET_BLOCK.sub(replace, html)
    return FastBody(html, fences, first)

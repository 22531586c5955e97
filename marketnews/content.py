"""Article source text -> a validated, frozen `Article` plus every problem found. No I/O.

The frontmatter is YAML between a first line `---` and the next `---` (or `...`) line.
Every problem is located as `path:line: field: message`. A key close to a known one
that the article lacks (`tittle:`, `market:`) is an error naming it: the article would
otherwise go out without its title or widgets; other unknown keys are warnings. A fenced block whose
info string is close to `market` (```` ```markets ````) is a warning: it shows as code.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import reprlib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from functools import cached_property, lru_cache
from typing import Any

from marketnews.errors import Problem
from marketnews.markets.refs import MarketRef, RefError, parse_ref
from marketnews.names import image_reference_ok, segment_problem, tag_slug, unencodable
from marketnews.yamlmap import YamlProblem, load_mapping

KNOWN_KEYS = (
    "title", "date", "updated", "author", "summary", "tags", "markets",
    "image", "image_alt", "image_caption", "image_credit", "draft", "slug", "type",
)
KINDS = ("article", "page")  # `type:` a dated story, or a standalone page at /<slug>/ (docs/pages.md)
# Top-level folders the build writes itself, which a standalone page's /<slug>/ must not take.
RESERVED_SLUGS = frozenset({"markets", "events", "tags", "page", "assets", "cards", "css", "images"})
_SLUG_OK = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_FENCE_END = re.compile(r"^(---|\.\.\.)[ \t]*$", re.M)
_CODE_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^`\s]*)")
# An article file larger than this is refused before it is parsed (the longest news
# feature is well under 200 KB of Markdown).
MAX_ARTICLE_BYTES = 4 * 1024 * 1024
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TAGS = 50  # an article is on every topic page and topic feed of its tags: bounded


@dataclass(frozen=True, order=True)
class RefUse:
    """One place an article references a market: the reference, as written, and its line."""

    ref: MarketRef
    written: str
    line: int


@dataclass(frozen=True)
class Article:
    path: str  # as shown in messages, e.g. "content/nato-2027.md"
    slug: str
    title: str
    date: datetime
    updated: datetime | None
    authors: tuple[str, ...]
    summary: str | None
    tags: tuple[str, ...]
    markets: tuple[RefUse, ...]
    image: str | None
    image_alt: str | None
    draft: bool
    body: str
    body_line: int  # 1-based line of the file where the body starts
    source_hash: str
    field_lines: tuple[tuple[str, int], ...] = ()  # (key, line) of the frontmatter keys later stages report on
    image_caption: str | None = None
    image_credit: str | None = None
    kind: str = "article"  # one of KINDS
    # One per ```market line of the rendered body, in order (the body's widget placeholders
    # are numbered so), None where the line is not a reference: set once the body is rendered
    # (`pipeline.read_sources`); the memo keeps the article as parsed, before that, without them.
    inline: tuple[RefUse | None, ...] = ()
    lead: str = ""  # the rendered body's first paragraph as text, set with `inline`: a summary when none is written

    @property
    def is_page(self) -> bool:
        """A standalone page (about, methodology...): not listed, not in feeds."""
        return self.kind == "page"

    @property
    def modified(self) -> datetime:
        return self.updated or self.date

    @cached_property
    def uses(self) -> tuple[RefUse, ...]:
        """Every market reference of the article: the frontmatter's, then the body's that
        parse (worked out on first use; an article is never changed, only replaced)."""
        return self.markets + tuple(use for use in self.inline if use is not None)

    def line_of(self, key: str) -> int:
        """The file line of a frontmatter key (`tags`, `image`), 1 when not known."""
        return next((line for k, line in self.field_lines if k == key), 1)


@lru_cache(maxsize=4096)  # pure, and asked again for every topic of every article
def slugify(text: str) -> str:
    """ASCII, lowercase, hyphen-separated; "Étienne's NATO plan" -> "etiennes-nato-plan"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"['’]", "", ascii_text.lower())
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def split_frontmatter(text: str) -> tuple[str, str, int] | None:
    """(yaml, body, body_line) or None when the file does not start with a `---` block."""
    if not (text.startswith("---\n") or text.startswith("---\r\n")):
        return None
    start = text.index("\n") + 1
    end = _FENCE_END.search(text, start)
    if end is None:
        return None
    yaml_text = text[start : end.start()]
    after = text.find("\n", end.end())
    body = "" if after == -1 else text[after + 1 :]
    body_line = text.count("\n", 0, after + 1) + 1 if after != -1 else text.count("\n") + 2
    return yaml_text, body, body_line


# The years an article's dates may fall in: far enough from the calendar's ends (1 and
# 9999) that moving a date to another zone, or a day on, stays a date.
FIRST_YEAR, LAST_YEAR = 1000, 9000


def parse_when(value: Any, tz: tzinfo) -> datetime | None:
    """A YAML date/datetime or ISO 8601 string -> aware datetime; bare dates are midnight in tz."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=tz)
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return datetime.combine(date.fromisoformat(text), time(0, 0), tzinfo=tz)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    return None


def source_text(raw: bytes) -> str:
    """An article file's text as it is parsed (BOM dropped, CRLF and a lone CR as LF); its body is the end of it."""
    text = raw.decode("utf-8-sig")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def parse_article(path: str, raw: bytes, tz: tzinfo) -> tuple[Article | None, list[Problem]]:
    """Validate one article file's bytes; the Article is None when any error was found."""
    problems: list[Problem] = []

    def err(line: int, field: str, message: str) -> None:
        problems.append(Problem(path, line, field, message))

    def warn(line: int, field: str, message: str) -> None:
        problems.append(Problem(path, line, field, message, "warning"))

    source_hash = hashlib.sha256(raw).hexdigest()
    if len(raw) > MAX_ARTICLE_BYTES:
        err(1, "", f"the file is {len(raw):,} bytes; an article may be at most {MAX_ARTICLE_BYTES:,}")
        return None, problems
    try:
        text = source_text(raw)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        err(line, "", f"expected UTF-8 text, found byte 0x{raw[exc.start]:02x}")
        return None, problems
    split = split_frontmatter(text)
    if split is None:
        first = text.split("\n", 1)[0][:40]
        if text.startswith("---"):
            err(1, "", "frontmatter is not closed: expected a second '---' line after the YAML")
        else:
            err(1, "", f"expected YAML frontmatter starting with '---' on line 1, found {first!r}")
        return None, problems
    yaml_text, body, body_line = split
    for offset, info in near_market_fences(body):  # said whatever else is wrong
        warn(body_line + offset, "market",
             f"```{info} block is shown as code; did you mean ```market (the word alone on its line, "
             "then one slug or URL a line)?")
    if control := _CONTROL.search(body):
        err(body_line + body.count("\n", 0, control.start()), "",
            f"contains U+{ord(control.group()):04X} (a control character), which no page or feed can hold; remove it")
    try:
        doc = load_mapping(yaml_text)
    except YamlProblem as exc:
        err(exc.line + 1, "", exc.message)
        return None, problems
    data = doc.data

    def line_of(key: str) -> int:
        """A key's line in the file (its YAML starts on line 2); 1 when it is absent or its line unknown."""
        return doc.lines[key] + 1 if key in doc.lines else 1

    for key, value in data.items():
        bad = _unencodable_in(value)
        if bad:
            err(line_of(key), key, f"contains {bad}, which no page or feed can hold; remove it")
        if key not in KNOWN_KEYS:
            near = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.6)
            if near and near[0] not in data:  # misspelt: the article would go out without it
                err(line_of(key), key, f"unknown key; did you mean {near[0]!r}?")
            elif near:  # `subtitle:` beside `title:` is an extra key, not a misspelling
                warn(line_of(key), key, f"unknown key (is it meant to be {near[0]!r}?)")
            else:
                warn(line_of(key), key, f"unknown key; known keys: {', '.join(KNOWN_KEYS)}")

    def text_field(key: str, required: bool = False) -> str | None:
        if key not in data or data[key] is None:
            if required:
                err(line_of(key), key, "required field is missing")
            return None
        value = data[key]
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = str(value).strip()
            if value or not required:
                return value or None
        err(line_of(key), key, f"expected text, got {_show(value)}")
        return None

    def list_field(key: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        err(line_of(key), key, f"expected a text or a list of texts, got {_show(value)}")
        return []

    def when_field(key: str, required: bool = False) -> datetime | None:
        if data.get(key) is None:
            if required:
                err(line_of(key), key, "required field is missing")
            return None
        parsed = parse_when(data[key], tz)
        if parsed is None:
            err(line_of(key), key, f"expected an ISO 8601 date like 2026-11-20T09:30:00Z, got {_show(data[key])}")
        elif not FIRST_YEAR <= parsed.year <= LAST_YEAR:
            err(line_of(key), key, f"expected a date in the years {FIRST_YEAR} to {LAST_YEAR}, got {_show(data[key])}")
            return None
        return parsed

    title = text_field("title", required=True)
    when = when_field("date", required=True)
    updated = when_field("updated")
    if when and updated and updated < when:
        warn(line_of("updated"), "updated", "is earlier than 'date'")
    summary = text_field("summary")
    image = text_field("image")
    if image is not None and not image_reference_ok(image):
        err(line_of("image"), "image",
            f"expected a path under static/ like '/images/map.png' or an http(s) URL, got {_show(image)}")
        image = None
    image_alt = text_field("image_alt")
    image_caption = text_field("image_caption")
    image_credit = text_field("image_credit")
    kind = text_field("type") or "article"
    if kind not in KINDS:
        err(line_of("type"), "type", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    if image and not image_alt:
        warn(line_of("image"), "image_alt", "image has no alt text; add 'image_alt:' describing it")
    authors = tuple(a.strip() for a in list_field("author") if a.strip())
    tags: list[str] = []
    seen_tags: set[str] = set()
    raw_tags = data.get("tags")
    if isinstance(raw_tags, str) and "," in raw_tags:
        warn(line_of("tags"), "tags", f"{raw_tags!r} is one tag; for several write a list: "
                                      f"[{', '.join(t.strip() for t in raw_tags.split(',') if t.strip())}]")
    for tag in list_field("tags"):
        tag_segment = tag_slug(tag)
        if not tag_segment:
            err(line_of("tags"), "tags", f"tag {_show(tag)} has no letters or digits")
        elif problem := segment_problem(tag_segment, f"tag {_show(tag)}"):
            err(line_of("tags"), "tags", problem)
        elif tag.strip() not in seen_tags:
            seen_tags.add(tag.strip())
            tags.append(tag.strip())
    if len(tags) > MAX_TAGS:
        err(line_of("tags"), "tags", f"{len(tags)} tags; an article may have at most {MAX_TAGS}")
    draft = data.get("draft", False)
    if not isinstance(draft, bool):
        err(line_of("draft"), "draft", f"expected true or false, got {_show(draft)}")
        draft = False
    slug = text_field("slug")
    if slug is not None and not _SLUG_OK.match(slug):
        err(line_of("slug"), "slug", f"expected lowercase letters, digits and hyphens, got {_show(slug)}")
    elif slug is not None and (problem := segment_problem(slug, "slug")):
        err(line_of("slug"), "slug", problem)
    if slug is None:
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        slug = slugify(stem)
        if not slug:
            err(1, "slug", f"cannot make a URL slug from the file name {stem!r}; add 'slug:'")
        elif problem := segment_problem(slug, "the slug made from the file name"):
            err(1, "slug", problem + " with 'slug:'")
    if kind == "page" and slug in RESERVED_SLUGS:
        err(line_of("slug") if "slug" in data else line_of("type"), "slug",
            f"a page at /{slug}/ would take the place of the site's own pages; choose another slug")

    markets: list[RefUse] = []
    raw_markets = data.get("markets")
    if raw_markets is not None:
        if isinstance(raw_markets, str):
            raw_markets = [raw_markets]
        if not isinstance(raw_markets, list):
            err(line_of("markets"), "markets",
                f"expected a list of slugs or polymarket.com URLs, got {_show(raw_markets)}")
            raw_markets = []
        base = line_of("markets")
        item_lines = _item_lines(yaml_text, base)
        keys: set[str] = set()
        for i, item in enumerate(raw_markets):
            line = item_lines[i] if i < len(item_lines) else base
            if not isinstance(item, str):
                err(line, "markets", f"expected a slug or polymarket.com URL, got {_show(item)}")
                continue
            try:
                ref = parse_ref(item)
            except RefError as exc:
                err(line, "markets", str(exc))
                continue
            if ref.key in keys:
                warn(line, "markets", f"{item!r} is listed twice")
                continue
            keys.add(ref.key)
            markets.append(RefUse(ref, item.strip(), line))

    if any(p.severity == "error" for p in problems) or title is None or when is None or slug is None:
        return None, problems
    return Article(
        path=path, slug=slug, title=title, date=when, updated=updated, authors=authors,
        summary=summary, tags=tuple(tags), markets=tuple(markets), image=image,
        image_alt=image_alt, draft=draft, body=body, body_line=body_line, source_hash=source_hash,
        field_lines=tuple((k, line_of(k)) for k in ("tags", "image", "slug") if k in data),
        image_caption=image_caption, image_credit=image_credit, kind=kind,
    ), problems


def near_market_fences(body: str) -> list[tuple[int, str]]:
    """(0-based body line, info) of each code fence whose info string is a near miss of
    `market` (```markets, ```markt, ```market title="Odds"); fences shown inside another
    are skipped."""
    found: list[tuple[int, str]] = []
    open_fence = ""
    for n, line in enumerate(body.split("\n")):
        match = _CODE_FENCE.match(line)
        if not match:
            continue
        fence, info = match.groups()
        if fence[0] == "`" and "`" in line[match.end(1):]:  # ```market``` is code in a line, not a fence
            continue
        if open_fence:  # only a bare fence of the same kind, at least as long, closes it
            if fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not line.strip(" \t`~"):
                open_fence = ""
            continue
        open_fence = fence
        word, whole = info.lower(), line[match.end(1):].strip()
        if word == "market" and whole.lower() != "market":  # ```market title="Odds": more than the word
            found.append((n, whole))
        elif word != "market" and difflib.SequenceMatcher(None, word, "market").ratio() >= 0.8:
            found.append((n, info))
    return found

def _unencodable_in(value: Any) -> str | None:
    """The first character no page can hold in a frontmatter value (text, or texts in a list)."""
    if isinstance(value, str):
        return unencodable(value)
    if isinstance(value, list):
        return next((bad for v in value[:1000] if isinstance(v, str) and (bad := unencodable(v))), None)
    return None


def _item_lines(yaml_text: str, key_line: int) -> list[int]:
    """The line of each `- item` of a block list starting at key_line (file lines), in
    order: read once for the whole list, however long (an item past them is said at key_line)."""
    lines = yaml_text.split("\n")
    found = []
    for n in range(key_line - 1, len(lines)):
        stripped = lines[n].lstrip()
        if n > key_line - 1 and lines[n] and not lines[n][0].isspace() and not stripped.startswith("-"):
            break
        if stripped.startswith("- ") or stripped == "-":
            found.append(n + 2)  # +1 for 1-based, +1 for the opening '---' line
    return found


_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxstring, _repr.maxother = 2, 4, 4, 60, 60


def _show(value: Any) -> str:
    """A value as messages quote it: short, however large or deep (or aliased) it is."""
    if isinstance(value, (list, dict)):
        return f"a {type(value).__name__} {_repr.repr(value)}"[:80]
    return _repr.repr(value)[:80]

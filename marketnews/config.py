"""site.yaml -> a frozen `SiteConfig`, every problem reported at once. Reads one file."""

from __future__ import annotations

import difflib
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marketnews.content import slugify
from marketnews.errors import ConfigError, Problem
from marketnews.markets import CLOB_URL, GAMMA_URL
from marketnews.names import image_reference_ok
from marketnews.yamlmap import YamlProblem, load_mapping

DEFAULT_PERMALINK = "/{year}/{month}/{slug}/"
PERMALINK_FIELDS = ("year", "month", "day", "slug")
MAX_STALE_HOURS = 24 * 366


@dataclass(frozen=True)
class SiteConfig:
    title: str
    base_url: str  # no trailing slash, e.g. "https://example.org"
    tagline: str = ""
    description: str = ""
    language: str = "en"
    timezone: str = "UTC"
    author: str = ""  # default byline for `marketnews new`
    per_page: int = 20
    feed_entries: int = 20
    permalink: str = DEFAULT_PERMALINK
    disclaimer: str = ""
    low_volume: float = 10_000.0  # markets traded less than this (USD) carry a caveat
    stale_after_s: int = 2 * 3600  # quotes older than this say when they were taken
    example_snapshot: str = ""  # path relative to the site root, or ""
    image: str = ""  # default social-card image: a path under static/ ("/images/card.png") or a full URL
    image_alt: str = ""
    card_days: int = 7  # articles published in the last this many days get a share card with their odds
    gamma_url: str = GAMMA_URL
    clob_url: str = CLOB_URL
    raw_html: bool = False  # raw HTML in articles: shown as text (False), or sanitised HTML (True)
    # `topics:` how a tag is shown, by its URL name: (("nato", "NATO"), ("us-politics", "U.S. Politics"))
    topics: tuple[tuple[str, str], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # `params:` for layouts

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "title": str,
    "base_url": str,
    "tagline": str,
    "description": str,
    "language": str,
    "timezone": str,
    "author": str,
    "per_page": int,
    "feed_entries": int,
    "permalink": str,
    "disclaimer": str,
    "low_volume": (int, float),
    "stale_after_hours": (int, float),
    "example_snapshot": str,
    "image": str,
    "image_alt": str,
    "card_days": int,
    "gamma_url": str,
    "clob_url": str,
    "raw_html": bool,
    "params": dict,
    "topics": dict,
}


def load_config(path: Path, shown: str | None = None) -> tuple[SiteConfig, tuple[Problem, ...]]:
    """Read and validate site.yaml into (config, warnings); raise ConfigError listing every error."""
    name = shown or path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{name}: not found; a site needs a site.yaml with at least title and base_url") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = Problem(name, raw.count(b"\n", 0, exc.start) + 1, "",
                      f"the byte 0x{raw[exc.start]:02x} is not UTF-8 text: save the file as UTF-8")
        raise ConfigError(str(bad), (bad,)) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        doc = load_mapping(text)
    except YamlProblem as exc:
        bad = Problem(name, exc.line, "", exc.message)
        raise ConfigError(str(bad), (bad,)) from None
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for key, value in doc.data.items():
        line = doc.line(key)
        expected = _FIELDS.get(key)
        if expected is None:
            near = difflib.get_close_matches(key, _FIELDS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            problems.append(Problem(name, line, key, f"unknown setting{hint}", "warning"))
            continue
        if (isinstance(value, bool) and expected is not bool) or not isinstance(value, expected):
            kind = "number" if not isinstance(expected, type) else \
                "true or false" if expected is bool else expected.__name__
            problems.append(Problem(name, line, key, f"expected {kind}, got {value!r}"))
            continue
        values[key] = value
    for required in ("title", "base_url"):
        if required not in doc.data:
            problems.append(Problem(name, 1, required, "required setting is missing"))
    if "timezone" in values:
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(Problem(name, doc.line("timezone"), "timezone",
                                    f"expected an IANA zone like 'Europe/London', got {values['timezone']!r}"))
            del values["timezone"]
    if "permalink" in values and (wrong := _permalink_problem(values["permalink"])):
        problems.append(Problem(name, doc.line("permalink"), "permalink", f"{wrong}, got {values['permalink']!r}"))
    if "image" in values and not image_reference_ok(values["image"]):
        problems.append(Problem(name, doc.line("image"), "image",
                                f"expected a path under static/ like '/images/card.png' or a full URL, "
                                f"got {values['image']!r}"))
    for positive in ("per_page", "feed_entries"):
        if positive in values and values[positive] < 1:
            problems.append(Problem(name, doc.line(positive), positive, "expected a number of 1 or more"))
    if "card_days" in values and not 0 <= values["card_days"] <= 36_500:
        problems.append(Problem(name, doc.line("card_days"), "card_days",
                                f"expected a number of days from 0 (no article cards) up, got {values['card_days']}"))
    if "topics" in values:
        topics = _topics(values.pop("topics"), name, doc.line("topics"), problems)
        if topics:
            values["topics"] = topics
    if "stale_after_hours" in values and not 0 <= values["stale_after_hours"] <= MAX_STALE_HOURS:
        problems.append(Problem(name, doc.line("stale_after_hours"), "stale_after_hours",
                                f"expected a number of hours from 0 to {MAX_STALE_HOURS:,}, "
                                f"got {values['stale_after_hours']!r}"))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ConfigError("\n".join(str(p) for p in sorted(problems)), tuple(sorted(problems)))
    if "stale_after_hours" in values:
        values["stale_after_s"] = int(float(values.pop("stale_after_hours")) * 3600)
    values["extra"] = values.pop("params", {})
    values["base_url"] = values["base_url"].rstrip("/")
    return SiteConfig(**values), tuple(sorted(problems))


def _permalink_problem(pattern: str) -> str:
    """What is wrong with a `permalink` pattern ("" when nothing): a path from the site's
    root (to a folder, or a file without the last slash), of plain segments and the
    placeholders {year}, {month}, {day} and {slug} as they are (no format, no attribute),
    {slug} among them."""
    fields = set()
    try:
        for _, field, spec, conversion in string.Formatter().parse(pattern):
            if field is not None:
                if field not in PERMALINK_FIELDS or spec or conversion:
                    return f"expected only the placeholders {', '.join('{' + f + '}' for f in PERMALINK_FIELDS)}"
                fields.add(field)
    except ValueError:  # a brace left open or closed alone
        return "expected a pattern whose braces each hold a placeholder, like /{year}/{slug}/"
    if "slug" not in fields:
        return "expected a pattern containing {slug}"
    *folders, last = pattern.split("/")[1:] if pattern.startswith("/") else ("", "")
    if any(s in ("", ".", "..") for s in folders) or last in (".", "..") or any(
            c in pattern for c in "\\?#%"):
        return "expected a path from the site's root, like /{year}/{month}/{slug}/"
    return ""


def _topics(value: dict[Any, Any], name: str, line: int, problems: list[Problem]) -> tuple[tuple[str, str], ...]:
    """`topics:` (tag -> display name) as pairs keyed by the tag's URL name, sorted."""
    pairs: dict[str, str] = {}
    for tag, shown in value.items():
        if not isinstance(tag, str) or not isinstance(shown, str) or not shown.strip() or not slugify(tag):
            problems.append(Problem(name, line, "topics",
                                    f"expected 'tag: Display name' pairs of texts, got {tag!r}: {shown!r}"))
            continue
        pairs[slugify(tag)] = shown.strip()
    return tuple(sorted(pairs.items()))

"""The build cache, kept between builds: parsed articles, rendered bodies, article shells
and the page manifest. Disk I/O.

The hourly rebuild changes prices, not articles, so an article file parsed and validated
once is reused until its bytes (or the code that reads it) change, a body rendered
once is reused until its text (or the renderer, via MARKUP_VERSION) changes; an article page whose
inputs did not change (see SiteRenderer.article_fingerprint) is not rendered again:
the manifest maps each article page to its fingerprint, its size on disk and its list
item; and a page whose widgets alone changed is its shell (site.Shell) filled with
the new widgets. Each is one pickle file in the cache folder (the shells' file may
hold several pickles, see `save_shells`); a missing, stale or unreadable cache only
costs time.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

import marketnews
from marketnews import content, errors, yamlmap
from marketnews.content import Article
from marketnews.errors import Problem
from marketnews.markets import refs
from marketnews.markup import MARKUP_VERSION, RenderedBody
from marketnews.site import Shell
from marketnews.writer import write_atomic

_FILE = f"bodies-v{MARKUP_VERSION}.pickle"
_PAGES = "pages-v1.pickle"
# A pickled Shell of another shape would load, then fail when used: its fields name the file.
_SHELLS = "shells-{}.pickle".format(hashlib.blake2b(",".join(f.name for f in fields(Shell)).encode(),
                                                   digest_size=4).hexdigest())

PageRecord = tuple[str, int, str]  # fingerprint, size in bytes, list item HTML


def body_key(body: str, raw_html: bool = False) -> str:
    """A body's cache key: its text, and whether the site allows raw HTML (it renders differently)."""
    h = hashlib.blake2b(body.encode("utf-8"), digest_size=16)
    if raw_html:
        h.update(b"\x00raw_html")
    return h.hexdigest()


@dataclass
class BodyCache:
    entries: dict[str, RenderedBody] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    dirty: bool = False

    def get(self, key: str) -> RenderedBody | None:
        hit = self.entries.get(key)
        if hit is not None:
            self.used.add(key)
        return hit

    def put(self, key: str, body: RenderedBody) -> None:
        self.entries[key] = body
        self.used.add(key)
        self.dirty = True


def _load(folder: Path | None, name: str) -> dict[Any, Any]:
    """A pickled dict from the cache folder; an empty one when it is missing or unreadable
    (a cache only saves time, so any failure to read it only means work done again)."""
    if folder is None:
        return {}
    try:
        with open(folder / name, "rb") as fh:
            found = pickle.load(fh)
    except Exception:
        return {}
    return found if isinstance(found, dict) else {}


def _save(folder: Path | None, name: str, data: dict[Any, Any]) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / name, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))


def _code_digest() -> str:
    """Digest of the code that turns an article file into an Article and its problems:
    a cached result is only good for the code that made it."""
    # The YAML loader (libyaml's or PyYAML's own) words errors its own way; Unicode data
    # (slugs) may change with Python.
    versions = f"{marketnews.__version__}|{yaml.__version__}|{yamlmap._Base.__name__}|{sys.version_info[:2]}"
    h = hashlib.blake2b(versions.encode(), digest_size=6)
    for module in (content, yamlmap, refs, errors, sys.modules[__name__]):  # this one: the entries' layout
        with suppress(OSError):  # no source to read (a frozen install): the version alone decides
            h.update(Path(module.__file__ or "").read_bytes())
    return h.hexdigest()


_ARTICLES = f"articles-{_code_digest()}.pickle"

Parsed = tuple[Article | None, list[Problem]]  # what content.parse_article returns
# As kept: the Article without its body (the file's text ends with it), and the body's length.
Kept = tuple[Article | None, list[Problem], int]


def article_key(shown: str, tz: object, raw: bytes) -> str:
    """What parse_article's result depends on: the path as shown, the timezone of bare dates, the bytes."""
    h = hashlib.blake2b(raw, digest_size=16)
    h.update(f"\x00{shown}\x00{tz}".encode())
    return h.hexdigest()


@dataclass
class ArticleCache:
    """Article files as parse_article left them, by `article_key`: an unchanged file is not
    parsed and validated again (its YAML alone is most of a no-op build's reading). The
    body is not kept: it is the end of the file's text, which the build reads anyway."""

    entries: dict[str, Kept] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    dirty: bool = False
    read_all: bool = False  # every content file was looked up: the unused entries can go

    def put(self, key: str, parsed: Parsed) -> None:
        article, problems = parsed
        body = len(article.body) if article is not None else 0
        self.entries[key] = (replace(article, body="") if article is not None else None, problems, body)
        self.used.add(key)
        self.dirty = True

    def body_of(self, key: str, text: str) -> str:
        """The body of a kept file, cut from its text (content.source_text of its bytes)."""
        length = self.entries[key][2]
        return text[-length:] if length else ""

    def restore(self, key: str, body: str) -> Parsed:
        """A kept file's parse, given its body (`body_of`); the entry counts as used."""
        article, problems, _ = self.entries[key]
        self.used.add(key)
        return (replace(article, body=body) if article is not None else None), problems


def load_article_cache(folder: Path | None) -> ArticleCache:
    return ArticleCache(_load(folder, _ARTICLES))


def save_article_cache(folder: Path | None, cache: ArticleCache) -> None:
    """Write when anything was added, or when the build read every file and some entries
    went unused (those go); the files of other versions of the code go too."""
    if folder is None:
        return
    if cache.read_all and len(cache.used) != len(cache.entries):
        _save(folder, _ARTICLES, {k: v for k, v in cache.entries.items() if k in cache.used})
    elif cache.dirty:  # a build that stopped before reading every file keeps every entry
        _save(folder, _ARTICLES, cache.entries)
    else:
        return
    for other in folder.glob("articles-*.pickle"):
        if other.name != _ARTICLES:
            other.unlink(missing_ok=True)


def load_body_cache(folder: Path | None) -> BodyCache:
    return BodyCache(_load(folder, _FILE))


def save_body_cache(folder: Path | None, cache: BodyCache) -> None:
    """Keep only the bodies this build used; write atomically, and only when it changed."""
    if cache.dirty or len(cache.used) != len(cache.entries):
        _save(folder, _FILE, {k: v for k, v in cache.entries.items() if k in cache.used})


def load_pages(folder: Path | None, out: Path) -> dict[str, PageRecord]:
    """The page manifest of the last build into `out` (empty if it was another folder)."""
    doc = _load(folder, _PAGES)
    return dict(doc.get("pages", {})) if doc.get("out") == str(out.resolve()) else {}


def save_pages(folder: Path | None, out: Path, pages: dict[str, PageRecord]) -> None:
    _save(folder, _PAGES, {"out": str(out.resolve()), "pages": pages})


class NewShells:
    """The article shells a build renders anew, pickled by the process that rendered
    them: with worker processes, the workers. The build only writes them to the cache
    folder as they are (`save_shells`), so the parent neither unpickles them nor pickles
    them again: at 10,000 articles that is over 100 MB each way. A later build in the
    same process (the dev server's) unpickles them when it asks (`Shells`)."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.paths: set[str] = set()  # the articles they are the shells of

    def add(self, shells: Mapping[str, Shell]) -> None:
        self.add_pickled(pickled_shells(shells))

    def add_pickled(self, pickled: tuple[tuple[str, ...], bytes]) -> None:
        paths, blob = pickled
        if paths:
            self.paths.update(paths)
            self.blobs.append(blob)


def pickled_shells(shells: Mapping[str, Shell]) -> tuple[tuple[str, ...], bytes]:
    """(their article paths, the pickle) for NewShells.add_pickled."""
    return tuple(shells), pickle.dumps(dict(shells), protocol=pickle.HIGHEST_PROTOCOL) if shells else b""


@dataclass(frozen=True)
class Shells:
    """Shells by article path: `kept`, then those `new` pickles (which win), unpickled
    the first time they are asked for."""

    kept: Mapping[str, Shell]
    new: Sequence[bytes] = ()

    @cached_property
    def all(self) -> dict[str, Shell]:
        found = dict(self.kept)
        for blob in self.new:
            found.update(pickle.loads(blob))
        return found


def load_shells(folder: Path | None) -> dict[str, Shell]:
    """The article shells the last build kept, by article path: the file's pickles of
    {path: Shell}, merged in order."""
    if folder is None:
        return {}
    found: dict[str, Shell] = {}
    try:
        with open(folder / _SHELLS, "rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            while fh.tell() < end:  # read from the file: the file's bytes are not held whole as well
                part = pickle.load(fh)
                if not isinstance(part, dict):
                    return {}
                found.update(part)
    except Exception:  # a cache only saves time
        return {}
    return found


def save_shells(folder: Path | None, kept: Mapping[str, Shell], new: NewShells) -> None:
    """Write `kept` (the last build's shells still in use) and then the `new` pickles as
    they are, one pickle after another; `load_shells` reads them back in that order."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / _SHELLS, [pickle.dumps(dict(kept), protocol=pickle.HIGHEST_PROTOCOL), *new.blobs])

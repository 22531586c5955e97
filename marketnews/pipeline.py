"""build(): gather and validate everything, take one snapshot, render, then write.

Reads the site folder and writes the output and cache folders; the clock, the
snapshot source and (for live odds) the httpx client are passed in, so the middle
(site.SiteRenderer, driven by `site_files`) stays pure.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from functools import cached_property, partial
from pathlib import Path
from typing import Any, NamedTuple, cast

import jinja2

from marketnews import __version__
from marketnews.assets import Assets, fingerprint
from marketnews.cache import MEMO_FILE, Memo, WrongShape, decode, encode, memo_key, pack
from marketnews.cards import renderer as card_renderer
from marketnews.config import SiteConfig, load_config
from marketnews.content import (
    MAX_ARTICLE_BYTES,
    RESERVED_SLUGS,
    Article,
    RefUse,
    parse_article,
    source_text,
    split_frontmatter,
)
from marketnews.errors import ConfigError, ContentError, MarketnewsError, Problem
from marketnews.images import image_size
from marketnews.markets.model import Snapshot, snapshot_digest, snapshot_to_json
from marketnews.markets.refs import MarketRef, RefError, parse_ref
from marketnews.markets.snapshots import (
    Odds,
    SnapshotSource,
    Wanted,
    cache_state,
    check_max_stale,
    restrict,
    save_cache,
    stale_quotes,
)
from marketnews.markup import MARKUP_VERSION, RenderedBody, render_body
from marketnews.names import tag_key, tag_slug, unencodable
from marketnews.output import OutputFile
from marketnews.parallel import parallel_map, workers
from marketnews.readahead import readahead
from marketnews.site import (
    ArticleView,
    CardLog,
    RenderMemo,
    Shell,
    SiteInput,
    SiteRenderer,
    article_url,
    clock_marks,
    page_file,
    seen,
)
from marketnews.sitemaps import NEWS_SITEMAP
from marketnews.templating import make_environment
from marketnews.writer import RECORD, Stager, WriteReport, ancestors, existing_files, write_site

Progress = Callable[[str, int, int], None]
PARALLEL_MIN = 200  # below this many files to read or pages to render, worker processes cost more than they save
# Below this many shared fragments, rendering them ahead in a map of their own (forked
# workers, the fragments sent back) costs more than each article worker rendering the ones
# its pages show (some 0.05-0.08 ms each): 1,224 at 2,000 articles, 6,004 at 10,000.
FRAGMENTS_AHEAD_MIN = 2000


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class SitePaths:
    root: Path
    content: Path
    out: Path
    cache: Path | None

    @property
    def layouts(self) -> Path:
        return self.root / "layouts"

    @property
    def static(self) -> Path:
        return self.root / "static"

    @property
    def config_file(self) -> Path:
        return self.root / "site.yaml"

    @cached_property
    def _root_prefix(self) -> str:
        return str(self.root.resolve()) + os.sep

    def shown(self, path: Path) -> str:
        """A path as messages show it: relative to the site root when inside it."""
        try:
            text = str(path if path.is_absolute() else path.resolve())
            if not text.startswith(self._root_prefix):
                text = str(path.resolve())
        except (OSError, RuntimeError):  # a loop of links: shown as it is named
            return str(path)
        if text.startswith(self._root_prefix):
            return text[len(self._root_prefix) :].replace(os.sep, "/")
        return str(path)


def default_jobs() -> int:
    """How many worker processes a build uses: MARKETNEWS_JOBS (a whole number from 1; 0 or
    unset for the default), else up to 4, one a core."""
    given = os.environ.get("MARKETNEWS_JOBS", "").strip()
    if given and not (given.isascii() and given.isdigit() and len(given) <= 6):
        raise MarketnewsError(f"MARKETNEWS_JOBS: expected a whole number of worker processes (1 or more; 0 "
                              f"for the default), got {given!r}")
    return int(given or 0) or max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class BuildOptions:
    drafts: bool = False
    future: bool = False
    strict: bool = False
    jobs: int = field(default_factory=default_jobs)
    max_stale_s: int | None = None  # fail the build when a quote is older than this
    asset_hashes: bool = True  # pages name static files by content hash (the dev server turns this off)


@dataclass(frozen=True)
class Gathered:
    """Everything read from the site folder, validated: the input of every later stage."""

    config: SiteConfig
    articles: tuple[Article, ...]  # every valid article, drafts and future ones included; the
    # body's text is left out (body ""): pages are made from its rendering, `bodies`
    bodies: Bodies  # by Article.path
    problems: tuple[Problem, ...]  # warnings only; errors raise ContentError
    uses: Mapping[str, tuple[tuple[Article, RefUse], ...]]  # market key -> where it is used
    sources: Mapping[Path, SourceFile] = field(default_factory=dict)  # every content file, in path order

    def published(self, options: BuildOptions, now: datetime) -> tuple[Article, ...]:
        return tuple(
            a for a in self.articles
            if (options.drafts or not a.draft) and (options.future or a.date <= now)
        )


@dataclass(frozen=True)
class BuildReport:
    pages: int
    articles: int
    warnings: tuple[Problem, ...]
    seconds: float
    snapshot_note: str
    stale: int
    oldest_stale_s: int
    written: WriteReport | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    odds_requests: int = 0
    state: BuildState | None = None  # for the next build in this process (see build's `previous`)


# --- gather ----------------------------------------------------------------------------


def editors_file(name: str) -> bool:
    """A dot file, or a name editors give their swap, backup and autosave files (`x.md~`,
    `#x.md#`, `x.swp`, vim's `4913`): never read as an article nor published from static/,
    and no change to one makes the dev server build again (it uses this very test)."""
    return name.startswith(".") or name.endswith(("~", ".swp", ".swx")) or name == "4913" \
        or (len(name) > 1 and name[0] == "#" and name[-1] == "#")


def content_files(content: Path) -> list[Path]:
    """Every article file, as absolute paths (resolving the folder once, not each file):
    `*.md` names not starting with a dot, files or links, in every folder below but those
    reached through a link (what `rglob` finds and `_is_source` keeps, from the names and
    types the folder listing gives, without asking the file system about each file)."""
    found: list[Path] = []
    folders = [str(content.resolve())]
    while folders:
        try:
            listing = os.scandir(folders.pop())
        except OSError:  # gone, or not ours to read: as rglob, nothing from it
            continue
        with listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.name.endswith(".md") and not editors_file(entry.name) \
                        and (entry.is_symlink() or entry.is_file()):
                    found.append(Path(entry.path))
    return sorted(found)


def _jobs(jobs: int, n: int) -> int:
    """The processes to share `n` files or pages among: below PARALLEL_MIN, this one alone."""
    return jobs if n >= PARALLEL_MIN else 1


def _chunks(n: int, jobs: int) -> list[range]:
    """`n` items in ranges for `jobs` workers to take in turn: up to 256 items, half a
    worker's share of what is left, so that the last ranges are small (down to 16) and the
    workers finish close together."""
    chunks: list[range] = []
    start = 0
    while start < n:
        size = max(16, min(256, (n - start) // (jobs * 2)))
        chunks.append(range(start, min(start + size, n)))
        start += size
    return chunks


@dataclass(frozen=True)
class SourceFile:
    """What reading one content file found; a later gather reuses it while the file is unchanged."""

    stamp: tuple[int, int]  # (mtime_ns, size), taken before the file was read
    article: Article | None  # None when the file has errors
    body: BodyRef | None  # where its rendered body is kept (None with the article)
    problems: tuple[Problem, ...]  # its own: frontmatter, body and market references
    url: str = ""  # the article's URL under the permalink setting it was read with


@dataclass(frozen=True)
class BodyRef:
    """Where an article's rendered body is: the memo key it is kept under, and, should the
    memo lose it, the file to render it from again (with the file's own memo key, which is
    dropped then, so that the next build reads the file again and keeps both)."""

    key: str
    source: Path
    source_hash: str
    entry: str


class Bodies(Mapping[str, RenderedBody]):
    """Each article's rendered body by its path (Article.path), as the pages being made ask
    for it, read from the memo then: this build's too, which `build` writes to the memo's
    file once gathered (a memo without a file holds them), so that no process holds every
    body the build renders. A build whose pages are all kept, or made from their frames,
    reads none."""

    def __init__(self, refs: Mapping[str, BodyRef], store: Memo, tz: tzinfo, raw_html: bool) -> None:
        self.refs, self.store, self.tz, self.raw_html = refs, store, tz, raw_html

    def __getitem__(self, path: str) -> RenderedBody:
        ref = self.refs[path]
        found = cast(RenderedBody | None, self.store.load(ref.key, RenderedBody))
        if found is not None:
            return found
        raw = ref.source.read_bytes()  # lost from the memo: made again from the file, as gathered
        article, _ = parse_article(path, raw, self.tz) if hashlib.sha256(raw).hexdigest() == ref.source_hash \
            else (None, [])
        if article is None:
            raise MarketnewsError(f"{path}: changed while the site was being built; build again")
        self.store.add_faults(([ref.entry], None))
        return render_body(article.body, self.raw_html)

    def fetch(self, paths: Iterable[str]) -> None:
        """Have the memo read the bodies of `paths` at once, for the lookups about to ask (`Memo.fetch`)."""
        self.store.fetch(self.refs[path].key for path in paths if path in self.refs)

    def __iter__(self) -> Iterator[str]:
        return iter(self.refs)

    def __len__(self) -> int:
        return len(self.refs)

    def with_files(self, refs: Mapping[str, BodyRef]) -> Bodies:
        """These bodies, with those of `refs` put in."""
        return Bodies({**self.refs, **refs}, self.store, self.tz, self.raw_html)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, -1)
    return (st.st_mtime_ns, st.st_size)


# What reading one file gives back from a worker: (stamp, the file's memo key, its entry as
# JSON: (Article with its body's uses and lead but not its text, problems, the rendered
# body's memo key), whether that is new, and the rendered body as the memo keeps it (JSON,
# `cache.pack`ed by the worker) when this read rendered it. The parent decodes the entry;
# JSON travels cheaper between processes than the objects, and an unchanged file's body is
# neither read nor sent.
ReadResult = tuple[tuple[int, int], str, bytes, bool, bytes]
Entry = tuple[Article | None, list[Problem], str]


def _read_one(shown: str, path: Path, tz: tzinfo, memo: Memo | None, raw_html: bool = False) -> ReadResult:
    """Parse and validate one file unless the memo has it, rendering its body unless the
    memo has that (`memo` None: parse and render whatever it has); `raw_html`: the site
    allows raw HTML (the body renders differently)."""
    stamp = _stamp(path)
    allowed = "raw_html" if raw_html else ""
    try:
        raw = path.read_bytes()
    except OSError as exc:  # one file's problem, said with every other's (nothing kept: it is read again)
        unread = Problem(shown, 0, "", f"cannot be read ({exc.strerror or exc})")
        return stamp, memo_key("article", shown, "unread"), encode((None, [unread], "")), False, b""
    key = memo_key("article", shown, str(tz), allowed, raw)
    kept = memo.get(key) if memo is not None else None
    if kept is not None:
        return stamp, key, kept, False, b""
    article, problems = parse_article(shown, raw, tz)
    if article is None:  # every problem at once: its body's too, where it can be found
        with suppress(UnicodeDecodeError):  # (said already)
            split = split_frontmatter(source_text(raw)) if len(raw) <= MAX_ARTICLE_BYTES else None
            if split is not None:
                problems += _body_uses(shown, split[2], render_body(split[1], raw_html))[0]
        return stamp, key, encode((None, problems, "")), True, b""
    bkey = memo_key("body", article.body, allowed)
    found = memo.load(bkey, RenderedBody) if memo is not None else None
    body = cast(RenderedBody | None, found) or render_body(article.body, raw_html)
    more, inline = _body_uses(article.path, article.body_line, body)
    entry = replace(article, body="", inline=inline, lead=body.first_paragraph)
    return stamp, key, encode((entry, problems + more, bkey)), True, b"" if found is not None else pack(encode(body))


@dataclass(frozen=True)
class ReadWork:
    """What reading content files needs: the files, their names as shown, the timezone,
    the memo and whether raw HTML is allowed."""

    files: Sequence[Path]
    shown: Sequence[str]
    tz: tzinfo
    memo: Memo
    raw_html: bool


def _read_chunk(work: ReadWork, indices: range) -> tuple[list[ReadResult], tuple[list[str], str | None]]:
    readahead(work.files[i] for i in indices)
    results = [_read_one(work.shown[i], work.files[i], work.tz, work.memo, work.raw_html) for i in indices]
    return results, work.memo.take_faults()


def _settle(result: ReadResult, shown: str, path: Path, tz: tzinfo, memo: Memo, raw_html: bool
            ) -> tuple[Article | None, list[Problem], BodyRef | None]:
    """A file's article, problems and where its body is, from what its worker gave; the
    memo takes what is new (the body when just rendered, packed). An entry of the wrong shape is dropped
    and the file read again, past the memo."""
    _, key, kept, new, body = result
    try:
        article, problems, bkey = decode(Entry, kept)
    except WrongShape as exc:  # read past the memo; its entry for this file is replaced
        _, key, kept, new, body = _read_one(shown, path, tz, None, raw_html)
        article, problems, bkey = decode(Entry, kept)
        memo.add_faults(([key, bkey], f"an entry of the wrong shape ({exc}); made again what it held"))
    if new:
        memo.put(key, kept)
    else:
        memo.use((key,))
    if article is None:
        return None, problems, None
    if body:
        memo.put(bkey, body, packed=True)
    else:
        memo.use((bkey,))
    return article, problems, BodyRef(bkey, path, article.source_hash, key)


def read_sources(
    paths: SitePaths, files: Sequence[Path], config: SiteConfig, memo: Memo, jobs: int, progress: Progress,
) -> dict[Path, SourceFile]:
    """Parse and validate every file the memo lacks and render each body it lacks (the
    memo takes them), in parallel when many."""
    sources: dict[Path, SourceFile] = {}
    for f in files:
        if f.is_symlink() and (refused := _link_problem(paths, f)):
            # Never read: what a link points to outside the site is not the site's to show, even in a message.
            sources[f] = SourceFile(_stamp(f), None, None, (Problem(paths.shown(f), 0, "", refused),))
        elif bad := unencodable(paths.shown(f)):  # bytes that are not UTF-8, a control character
            byte = next((ord(c) - 0xDC00 for c in paths.shown(f) if 0xDC80 <= ord(c) <= 0xDCFF), None)
            bad = f"the byte 0x{byte:02x}, which is not UTF-8 text" if byte is not None else bad
            printable = os.fsencode(paths.shown(f)).decode("utf-8", "replace")
            printable = "".join(c if c.isprintable() else "\ufffd" for c in printable)
            sources[f] = SourceFile(_stamp(f), None, None, (Problem(
                printable, 0, "", f"the file name holds {bad}: no URL or page can; rename the file"),))
    if sources:
        files = [f for f in files if f not in sources]
    shown = [paths.shown(f) for f in files]
    chunks = _chunks(len(files), max(jobs, 1))
    work = ReadWork(files, shown, config.tz, memo, config.raw_html)
    done = 0
    results = parallel_map(_read_chunk, work, chunks, _jobs(jobs, len(files)))
    for indices, (chunk, faults) in zip(chunks, results, strict=True):
        memo.add_faults(faults)  # a worker's, or this process's own taken back
        for i, result in zip(indices, chunk, strict=True):
            article, found, body = _settle(result, shown[i], files[i], config.tz, memo, config.raw_html)
            url = article_url(config, article) if article is not None else ""
            sources[files[i]] = SourceFile(result[0], article, body, tuple(found), url)
        done += len(chunk)
        progress("reading articles", done, len(files))
    return sources


def _link_problem(paths: SitePaths, link: Path) -> str | None:
    """Why the symbolic link `link` in content/ is not read, or None: it must lead to a file
    inside the site folder (or the content folder)."""
    if not link.exists():
        return "a symbolic link to nothing (what it points to does not exist)"
    if link.is_dir():
        return "a symbolic link to a folder, not to an article file"
    if not link.is_file():  # a FIFO, a socket, a device: never opened
        return "a symbolic link to something that is not a file (a FIFO, a device), not to an article file"
    if not _inside_site(paths, link):
        return ("a symbolic link to a file outside the site folder; content files and links must stay inside it "
                "(the link was not followed)")
    return None


def _inside_site(paths: SitePaths, path: Path) -> bool:
    """Whether `path`, its links followed, is a file in the site folder or the content folder."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link or a loop
        return False
    return any(target.is_relative_to(folder.resolve()) for folder in (paths.root, paths.content))


def _body_uses(path: str, body_line: int, body: RenderedBody) -> tuple[list[Problem], tuple[RefUse | None, ...]]:
    """The problems of an article's body (the file's `path`, its body from `body_line`), and
    the reference of each of its ```market lines (None where one does not parse): each line
    parsed once, for both."""
    problems: list[Problem] = []
    inline: list[RefUse | None] = []
    for item in body.inline:
        line = body_line + item.line
        try:
            inline.append(RefUse(parse_ref(item.written), item.written, line))
        except RefError as exc:
            problems.append(Problem(path, line, "market", str(exc)))
            inline.append(None)
    for line in body.empty_market_blocks:
        problems.append(Problem(path, body_line + line, "market",
                                "empty ```market block: expected one slug or URL a line", "warning"))
    for line in body.images_without_alt:
        problems.append(Problem(path, body_line + line, "image",
                                "image has no alt text: write ![what it shows](path)", "warning"))
    for raw in body.raw_html:
        problems.append(Problem(path, body_line + raw.line, "body", raw.message, "warning"))
    return problems, tuple(inline)


def _is_source(path: Path) -> bool:
    """An article file, or a symbolic link named like one (read_sources says what is wrong with a bad link)."""
    return path.suffix == ".md" and not editors_file(path.name) and (path.is_file() or path.is_symlink())


def _changed_files(content: Path, known: Mapping[Path, SourceFile],
                   changed: Collection[Path] | None) -> tuple[list[Path], list[Path]]:
    """(every content file, the ones to read) given what the last gather read.

    With `changed` (paths the caller saw change: files, or folders created, moved or
    deleted), only those are looked at; without it, every file's (mtime, size) is.
    """
    if changed is not None:
        inside = []
        for c in changed:
            try:
                rel = c.relative_to(content)
            except ValueError:
                try:
                    rel = c.resolve().relative_to(content.resolve())
                except (OSError, ValueError):
                    continue  # not under the content folder
            inside.append(content / rel)
        if not any(c.is_dir() for c in inside):
            gone = {c for c in inside if not _is_source(c)}
            # A path gone that we never read may have been a folder of articles (deleted or moved away).
            prefixes = tuple(str(c) + os.sep for c in gone if c not in known)
            files = [f for f in known if f not in gone and not (prefixes and str(f).startswith(prefixes))] \
                if gone else list(known)
            added = [c for c in inside if c not in gone and c not in known]
            if added:
                files = sorted(files + added)
            return files, [c for c in inside if c not in gone]
    files = content_files(content)
    return files, [f for f in files if f not in known or known[f].stamp != _stamp(f)]


def raise_on_errors(problems: Sequence[Problem], strict: bool) -> None:
    """Raise ContentError with every problem when any is an error; with `strict`, every warning is one."""
    if strict:
        problems = [Problem(p.path, p.line, p.field, p.message, "error") for p in problems]
    if any(p.severity == "error" for p in problems):
        raise ContentError(list(problems))


def gather(paths: SitePaths, options: BuildOptions, progress: Progress = _no_progress,
           memo: Memo | None = None, previous: Gathered | None = None,
           changed: Collection[Path] | None = None) -> Gathered:
    """Read and validate site.yaml and every article; raise ContentError with every problem.

    Given the `previous` result, only content files that changed since are read again:
    the paths in `changed` when given, else those whose modification time or size did.
    A file the `memo` holds (same path, bytes and timezone) is not parsed again, nor a
    body it holds rendered again.
    """
    try:
        config, config_warnings = load_config(paths.config_file, paths.shown(paths.config_file))
        unusable: tuple[Problem, ...] = ()
    except ConfigError as exc:
        if not exc.problems:  # no site.yaml to read: nothing to go on
            raise
        # Every problem at once: the articles are read with the default settings, and
        # their problems said with site.yaml's (no page is made).
        config, config_warnings, unusable = SiteConfig(title="", base_url=""), (), exc.problems
    problems: list[Problem] = [*config_warnings, *unusable]
    if not paths.content.is_dir():
        raise MarketnewsError(f"{paths.shown(paths.content)}: content folder not found")
    known: Mapping[Path, SourceFile] = {}
    if previous is not None and (previous.config.timezone, previous.config.permalink, previous.config.raw_html) == (
            config.timezone, config.permalink, config.raw_html):  # what bare dates, URLs and bodies depend on
        known = previous.sources
    files, to_read = _changed_files(paths.content.resolve(), known, changed if known else None)
    store = memo if memo is not None else Memo(None)
    fresh = read_sources(paths, to_read, config, store, options.jobs, progress)
    if previous is not None and known and not unusable and len(files) == len(known) and all(f in known for f in fresh):
        patched = _patched(previous, config, config_warnings, paths.shown(paths.config_file), known, fresh)
        if patched is not None:  # (a static file may have come to stand where an article's page is)
            urls = {src.url: src.article for src in patched.sources.values() if src.article is not None}
            raise_on_errors([*patched.problems, *static_problems(paths, urls)], options.strict)
            return _counted(patched, store)
    sources = {f: fresh.get(f) or known[f] for f in files}
    articles: list[Article] = []
    bodies: dict[str, BodyRef] = {}
    uses: dict[str, list[tuple[Article, RefUse]]] = {}
    by_url: dict[str, Article] = {}
    tags: dict[str, tuple[str, str, Article]] = {}  # tag URL segment -> (key, tag as written, first article)
    tag_names: dict[str, tuple[str, str]] = {}
    for src in sources.values():
        problems.extend(src.problems)
        a = src.article
        if a is None or src.body is None:
            continue
        articles.append(a)
        bodies[a.path] = src.body
        for use in a.uses:
            uses.setdefault(use.ref.key, []).append((a, use))
        url = src.url
        if url in by_url:
            other = by_url[url]
            problems.append(Problem(a.path, 1, "slug",
                                    f"URL {url} is also written by {other.path}; give one of them another 'slug:'"))
        else:
            by_url[url] = a
        problems.extend(_tag_collisions(a, tags, tag_names))
        problems.extend(_image_problems(paths, a))
    problems.extend(static_problems(paths, by_url))
    raise_on_errors(problems, options.strict)  # (site.yaml's problems are errors: never past here with them)
    articles.sort(key=lambda a: (a.date, a.path), reverse=True)
    return _counted(Gathered(
        config=config, articles=tuple(articles), bodies=Bodies(bodies, store, config.tz, config.raw_html),
        problems=tuple(sorted(problems)),
        uses={k: tuple(v) for k, v in sorted(uses.items())},
        sources=sources,
    ), store)


def _counted(gathered: Gathered, store: Memo) -> Gathered:
    """`gathered`, every article's memo entry and body counted as used by this build, read
    or not (a memo in memory, the dev server's, keeps only what each build used)."""
    store.use(key for ref in gathered.bodies.refs.values() for key in (ref.key, ref.entry))
    return gathered


def _tag_collisions(article: Article, seen: dict[str, tuple[str, str, Article]],
                    names: dict[str, tuple[str, str]]) -> list[Problem]:
    """Tags of `article` that would share a topic URL with a different tag of an earlier
    article (`names`: each tag as written, its URL segment and key, worked out once)."""
    found = []
    for tag in article.tags:
        named = names.get(tag)
        if named is None:
            named = names[tag] = (tag_slug(tag), tag_key(tag))
        segment, key = named
        first = seen.setdefault(segment, (key, tag, article))
        if first[0] != key:
            found.append(Problem(article.path, article.line_of("tags"), "tags",
                                 f"tag {tag!r} would share the URL /tags/{segment}/ with tag {first[1]!r} of "
                                 f"{first[2].path}; write them alike, or make them differ in letters or digits"))
    return found


def _image_problems(paths: SitePaths, article: Article) -> list[Problem]:
    """A warning when an article's `image:` names a file that is not in static/."""
    image = article.image
    if not image or not image.startswith("/"):
        return []
    rel = image.split("?", 1)[0].split("#", 1)[0].lstrip("/")
    target = paths.static / rel
    if target.is_file() and _inside_site(paths, target):
        return []
    return [Problem(article.path, article.line_of("image"), "image",
                    f"{image} is not a file in static/ (static/{rel}); pages show it without a size", "warning")]


def _keys(article: Article) -> list[str]:
    """The market keys of an article's uses, in order (a key as often as it is used)."""
    return [use.ref.key for use in article.uses]


def _patched(previous: Gathered, config: SiteConfig, config_warnings: Sequence[Problem], config_path: str,
             known: Mapping[Path, SourceFile], fresh: Mapping[Path, SourceFile]) -> Gathered | None:
    """`previous` with the `fresh` files put in, when none of them changed where its article
    sorts or what it uses (same URL, date and markets, no errors before or now): what the
    full merge in `gather` would give, without going over every article again."""
    swaps: dict[int, Article] = {}
    for f, new in fresh.items():
        old = known[f]
        if old.article is None or new.article is None or new.body is None or old.url != new.url \
                or old.article.date != new.article.date or _keys(old.article) != _keys(new.article) \
                or (old.article.tags, old.article.image) != (new.article.tags, new.article.image):
            return None  # (tags and image: checked against every article, in the full merge)
        swaps[id(old.article)] = new.article
    shown = {src.article.path for src in fresh.values() if src.article is not None}
    problems = list(config_warnings) + [
        p for p in previous.problems if p.path not in shown and p.path != config_path
    ] + [p for src in fresh.values() for p in src.problems]
    bodies: dict[str, BodyRef] = {}
    uses = dict(previous.uses)
    for f, src in fresh.items():
        assert src.article is not None and src.body is not None
        old_article = known[f].article
        bodies[src.article.path] = src.body
        for key in dict.fromkeys(_keys(src.article)):
            places = iter([use for use in src.article.uses if use.ref.key == key])
            uses[key] = tuple((src.article, next(places)) if a is old_article else (a, use) for a, use in uses[key])
    sources = dict(known)
    sources.update(fresh)
    return replace(
        previous, config=config, articles=tuple(swaps.get(id(a), a) for a in previous.articles),
        bodies=previous.bodies.with_files(bodies),
        problems=tuple(sorted(problems)), uses=uses, sources=sources,
    )


# --- snapshot --------------------------------------------------------------------------


def wanted(gathered: Gathered) -> Wanted:
    """What the site asks of the snapshot (see markets/snapshots.py)."""
    cfg = gathered.config
    return Wanted(
        lambda: ((use.ref, a.date) for places in gathered.uses.values() for a, use in places),
        gamma_url=cfg.gamma_url, clob_url=cfg.clob_url, base_url=cfg.base_url, example=cfg.example_snapshot,
    )


def unknown_ref_problems(gathered: Gathered, odds: Odds, published: Sequence[Article]) -> list[Problem]:
    """A warning for each place a published article names a market Polymarket does not know."""
    shown = {a.path for a in published}
    return [
        Problem(article.path, use.line, "markets",
                f"{use.written!r}: Polymarket has no market or event with this slug; check the spelling "
                "or the URL (its widget shows the last known odds, or 'odds unavailable')", "warning")
        for key in sorted(odds.unknown) for article, use in gathered.uses.get(key, ())
        if article.path in shown
    ]


def shown_keys(gathered: Gathered, published: Sequence[Article]) -> set[str]:
    """The markets that published articles show."""
    shown = {a.path for a in published}
    return {k for k, places in gathered.uses.items() if any(a.path in shown for a, _ in places)}


def missing_quote_problems(gathered: Gathered, snapshot: Snapshot,
                           published: Sequence[Article]) -> list[Problem]:
    """A warning for each place a published article uses a market the snapshot lacks."""
    shown = {a.path for a in published}
    return [
        Problem(article.path, use.line, "markets",
                f"{use.written!r}: no odds for this market in the snapshot; its widget shows 'odds unavailable'",
                "warning")
        for key, places in gathered.uses.items() if snapshot.get(key) is None
        for article, use in places if article.path in shown
    ]


# --- render ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Aside:
    """Work the pages do not wait for (the odds cache saved), given the snapshot's JSON and
    done with the other pages (`site_files`). What it raises does not stop them: it is kept
    in `failed`, for the caller to raise once the site is written, as when it was done then."""

    work: Callable[[str], None]
    failed: list[Exception] = field(default_factory=list)

    def run(self, text: str) -> Exception | None:
        try:
            self.work(text)
        except Exception as exc:  # (in a worker, sent back to the parent as a value)
            return exc
        return None

    def note(self, failed: Exception | None) -> None:
        if failed is not None:
            self.failed.append(failed)


@dataclass(frozen=True)
class RenderWork:
    """What rendering pages in worker processes needs: the renderer, prepared for every
    article (see `site_files`), and where they stage what they render (None: they do not)."""

    renderer: SiteRenderer
    stage: tuple[Path, frozenset[str]] | None  # the output folder and its files (writer.Stager)
    listed: Sequence[ArticleView] = ()  # the articles' list views (for the other pages)
    shards: int = 1  # how many shards the other pages are split into (`SiteRenderer.shard`)
    aside: Aside | None = None  # see `site_files`


def _staged(stager: Stager | None, page: OutputFile) -> OutputFile:
    """With a `stager` (in a worker, see `site_files`), the page written into the spare tree
    at its path (`writer.Stager`), so that only its path and status go back to the parent."""
    if stager is None or page.data is None:
        return page
    return stager.staged_file(page.path, page.data)


class ArticleFile(NamedTuple):
    page: OutputFile
    item: str  # its list item
    fingerprint: str
    size: int
    shell_print: str  # its shell's fingerprint ("" without one)
    shell: bytes | None  # the shell as the memo keeps it (cache.pack) when made anew
    record: bytes | None  # its page record as the memo keeps it (`record_value`) when made anew


def article_file(r: SiteRenderer, reuse: ManifestReuse, article: Article, stager: Stager | None,
                 record: PageRecord | None) -> ArticleFile:
    """An article's page: last build's kept when `reuse.keep` found its `record` (see
    `_read_ahead`), else made (and, in a worker that stages, written into the spare tree)."""
    fp = r.article_fingerprint(article) if r.inp.fingerprint else ""
    path = page_file(r.listed_view(article).url)
    shell_print = r.shell_print(article) if r.inp.fingerprint else ""
    if record is not None:
        _, size, item = record
        return ArticleFile(OutputFile(path, None), item, fp, size, shell_print, None, None)
    page, view = r.article_page(article, shell_print)
    shell = r.shells_made.pop(article.path, None)
    item, size = str(r.article_item(view)), len(page.data or b"")
    return ArticleFile(_staged(stager, page), item, fp, size, shell_print,
                       pack(encode(shell)) if shell is not None else None,
                       record_value(size, item) if fp and reuse.made is not None else None)


def _read_ahead(r: SiteRenderer, reuse: ManifestReuse, articles: Sequence[Article],
                stager: Stager | None = None) -> list[PageRecord | None]:
    """Each article page's record (`reuse.keep`: None for a page to make), with what the
    pages need from the memo read a few queries at a time rather than one query a page
    (`Memo.fetch`): their records (when the memo's records describe the output folder);
    the shells of the pages not kept; the bodies of those whose shell the memo lacks.
    The caller drops what was read and not asked for (`_forget_fetched`). With a
    `stager`, the files of the spare tree that the pages to make will be written over
    are fetched meanwhile (`Stager.ahead`)."""
    prints = [r.article_fingerprint(article) if r.inp.fingerprint else "" for article in articles]
    paths = [page_file(r.listed_view(article).url) for article in articles]
    store, out = reuse.store, reuse.out
    if store is not None and out is not None and reuse.find is not _no_record:
        store.fetch(page_key(out, path, fp) for path, fp in zip(paths, prints, strict=True)
                    if fp and path in reuse.existing)
    records = [reuse.keep(path, fp) if fp else None for path, fp in zip(paths, prints, strict=True)]
    if stager is not None:
        stager.ahead(path for path, record in zip(paths, records, strict=True) if record is None)
    if store is not None and r.inp.fingerprint:
        made = [article for article, record in zip(articles, records, strict=True) if record is None]
        shells = {article.path: shell_key(r.shell_print(article)) for article in made}
        found = store.fetch(shells.values())
        if isinstance(r.inp.bodies, Bodies):
            r.inp.bodies.fetch(a.path for a in made if shells[a.path] not in found)
    return records


def _forget_fetched(r: SiteRenderer, reuse: ManifestReuse) -> None:
    for store in {reuse.store, r.inp.bodies.store if isinstance(r.inp.bodies, Bodies) else None}:
        if store is not None:
            store.forget_fetched()


def _compile_layouts(env: jinja2.Environment) -> None:
    """Compile every layout once, before worker processes fork: each would compile them
    again for itself. One that does not compile is left for the page that uses it to
    report (templating.render names its file and line), and so is any other file there (an
    editor's swap file, an image: it need not even be text)."""
    for name in env.list_templates():
        if not name.rsplit("/", 1)[-1].startswith("."):
            with suppress(Exception):
                env.get_template(name)


def _most_made(r: SiteRenderer, reuse: ManifestReuse, articles: Sequence[Article]) -> bool:
    """Whether most article pages are to be made, as a sample of 64 of them says (no record
    of the last build's page that fits: new odds, a first build): only then does rendering
    the fragments they share ahead of them save time. When few are, most of those fragments
    would be rendered for nothing (a build after one article's edit)."""
    if not r.inp.fingerprint or reuse.find is _no_record:
        return True
    sample = articles[:: max(1, len(articles) // 64)]
    made = sum(reuse.find(page_file(r.listed_view(a).url), r.article_fingerprint(a)) is None for a in sample)
    return 2 * made > len(sample)


@dataclass(frozen=True)
class FragmentWork:
    """Fragments to render ahead of the pages (`SiteRenderer.shared_fragments`), and the renderer."""

    renderer: SiteRenderer
    wanted: Sequence[tuple[str, MarketRef, bool, str]]


def _fragments(work: FragmentWork, indices: range) -> list[tuple[Any, str]]:
    return work.renderer.fragments([work.wanted[i] for i in indices])


def _article_chunk(work: RenderWork, indices: Sequence[int]) -> tuple[list[ArticleFile], tuple[list[str], str | None]]:
    """Article pages and their list items, kept or rendered, and what went wrong reading the memo."""
    r = work.renderer
    reuse = cast(ManifestReuse, r.reuse)
    stager = Stager(*work.stage) if work.stage is not None else None
    articles = [r.inp.articles[i] for i in indices]
    try:
        records = _read_ahead(r, reuse, articles, stager)
        files = [article_file(r, reuse, article, stager, record)
                 for article, record in zip(articles, records, strict=True)]
    finally:
        _forget_fetched(r, reuse)
    return files, reuse.faults()


def site_files(
    inp: SiteInput,
    layouts: Path,
    jobs: int,
    reuse: ManifestReuse | None = None,
    memo: RenderMemo | None = None,
    used_memo: Callable[[RenderMemo], None] | None = None,
    stage: bool = False,
    store: Memo | None = None,
    aside: Aside | None = None,
) -> Iterator[OutputFile]:
    """Every file of the site. Pages that `reuse` keeps (the last build's, same
    fingerprint and size on disk) are yielded with data None; the others are rendered,
    spread over worker processes when there are many; `reuse.manifest` receives this
    build's records. `memo` is a previous build's `SiteRenderer.memo`, reused when it
    fits this input; `used_memo` is told this build's. With `stage`, worker processes
    write the pages they render into `reuse.out`'s spare tree (`writer.Stager`)
    and yield them as staged files: the caller's writer must take those (`write_site`
    does). `store` receives the article shells rendered anew and counts the ones used.
    `aside` is work that needs the snapshot's JSON and no page (the odds cache saved): done
    after the other pages, by the worker that makes their last shard when workers share them
    out, while the others make pages; what it raises is kept in `aside.failed`."""
    reuse = reuse if reuse is not None else ManifestReuse(_no_record, (), None, {})
    out, existing = reuse.out, reuse.existing
    env = memo.env if memo is not None and memo.fits(inp) and memo.env is not None else None
    renderer = SiteRenderer(inp, env or make_environment(layouts, inp.config.tz), layouts, reuse, memo)
    renderer.memo.env = renderer.env
    renderer.card_store = store
    if used_memo is not None:
        used_memo(renderer.memo)
    items: list[bytes] = []
    staging = (out, frozenset(existing or ())) if stage and out is not None else None
    # Made here, before the workers fork: every article page needs its list view and its
    # widgets' digests, and the list pages need them all (made in the workers, the parent
    # made the views again, and each worker made the digests for itself).
    listed = renderer.prepare(inp.articles)
    # Here, before the fork: whether widgets are made of fragments is one choice for the build.
    renderer.check_fragments(inp.articles)
    # Fingerprints, the keep-or-render choice and rendering all happen in the workers;
    # the fingerprints come back for the manifest and the memo.
    chunks = _chunks(len(inp.articles), max(jobs, 1))
    n = workers(_jobs(jobs, len(inp.articles)), len(chunks))  # as parallel_map decides
    if staging is not None:  # the files the pages will be written over, but those the workers ask for
        skipped = {f.path for f in inp.assets.files}  # linked in, not written over
        if n > 1:  # each worker asks for its own article pages' (`_read_ahead`)
            skipped |= {page_file(view.url) for view in listed}
        Stager(*staging).ahead(path for path in staging[1] if path not in skipped)
    if n > 1:
        _compile_layouts(renderer.env)
    wanted = renderer.shared_fragments(inp.articles) if n > 1 and _most_made(renderer, reuse, inp.articles) else []
    if len(wanted) >= FRAGMENTS_AHEAD_MIN:
        # The fragments every worker would render for itself, rendered once, shared out.
        parts = [range(k, len(wanted), n) for k in range(n) if k < len(wanted)]
        for rendered in parallel_map(_fragments, FragmentWork(renderer, wanted), parts, n):
            renderer.seed_fragments(rendered)
    work = RenderWork(renderer, staging if n > 1 else None)
    for k, (chunk, (done, faults)) in enumerate(zip(chunks, parallel_map(_article_chunk, work, chunks, n),
                                                    strict=True)):
        if k == 0 and n > 1:  # made here while the workers make the article pages (this process
            renderer.snapshot_text()  # mostly waits on them); the other pages' workers inherit it
        if store is not None:
            store.add_faults(faults)
        for i, one in zip(chunk, done, strict=True):
            page = one.page
            items.append(one.item.encode("utf-8"))  # see SiteRenderer.seed_item
            if one.shell_print:  # for the list pages' frames
                renderer.shell_prints[seen(inp.articles[i])] = one.shell_print
            if store is not None and one.shell_print:
                if one.shell is not None:
                    store.put(shell_key(one.shell_print), one.shell, packed=True)
                else:
                    store.use((shell_key(one.shell_print),))
            if one.fingerprint:
                reuse.note(page.path, (one.fingerprint, one.size, one.item))
                if one.record is not None:  # made anew (kept: in the memo already)
                    reuse.settle({page.path: one.record})
                if n > 1:
                    renderer.memo.prints[seen(inp.articles[i])] = one.fingerprint
            yield page

    for view, item in zip(listed, items, strict=True):
        renderer.seed_item(view, item)
    # Grouped here, once: the workers inherit the groupings, and the memo holds this build's.
    renderer.tags_of(listed)
    renderer.market_pages(listed)
    n = workers(_jobs(jobs, len(listed)), 2 * jobs)  # (shared out in twice as many shards)
    if n == 1:
        yield from renderer.other_pages(listed)
        keep_frames(store, *taken_frames(renderer))
        if aside is not None:
            aside.note(aside.run(renderer.snapshot_text()))
    else:  # shared out by path among the workers; their records and notes are merged here
        # Twice as many shards as workers. Each worker holds two items at once (parallel.AHEAD),
        # so two workers are handed all four at the start: the shards split the pages by path,
        # they do not balance them (handing them out one at a time was measured no faster).
        shards = 2 * n
        work = RenderWork(renderer, staging, listed, shards, aside)
        for files, records, made, showing, faults, cards, frames, failed in parallel_map(
                _other_shard, work, range(shards), n):
            if aside is not None:
                aside.note(failed)
            if reuse.store is not None:  # first: a frame found damaged is replaced by the one made now
                reuse.store.add_faults(faults)
            reuse.manifest.update(records)
            reuse.settle(made)
            keep_frames(store, *frames)
            CardLog(None, *cards).settle(renderer.card_store)
            for article, pages in showing.items():
                renderer.memo.showing.setdefault(article, set()).update(pages)
            yield from files
    if reuse.made:  # the records this process made (of the other pages when it made them itself)
        reuse.settle(reuse.made)
    renderer.memo.published, renderer.memo.listed = inp.articles, listed


ShardResult = tuple[list[OutputFile], dict[str, "PageRecord"], dict[str, bytes], dict[str, set[str]],
                    tuple[list[str], str | None], tuple[list[str], dict[str, bytes]], "Frames", Exception | None]
# List frames made (as the memo keeps them) and read from it, by fingerprint.
Frames = tuple[dict[str, bytes], list[str]]


def taken_frames(renderer: SiteRenderer) -> Frames:
    """The list pages' frames the renderer made (packed, for the memo) and read from the
    memo since last asked: the parent, which alone writes the memo, keeps them (`keep_frames`)."""
    made = {fp: pack(encode(frame)) for fp, frame in renderer.frames_made.items()}
    used = sorted(renderer.frames_used)
    renderer.frames_made, renderer.frames_used = {}, set()
    return made, used


def keep_frames(store: Memo | None, made: dict[str, bytes], used: Sequence[str]) -> None:
    """List frames into the memo (made anew) or counted as used (read from it)."""
    if store is None:
        return
    for fp, value in made.items():
        store.put(shell_key(fp), value, packed=True)
    store.use(shell_key(fp) for fp in used)


def _other_shard(work: RenderWork, k: int) -> ShardResult:
    """The list pages, feeds and site files whose paths fall to shard k of `work.shards`,
    in a worker: its own copy of the renderer is set to that shard (a worker takes several
    in turn; what each one notes starts empty), and what it made, recorded and drew goes
    back as values."""
    renderer = work.renderer
    reuse = cast(ManifestReuse, renderer.reuse)
    renderer.shard = (k, work.shards)
    reuse.manifest = {}  # this shard's records only, for the parent to merge
    reuse.made = {} if reuse.made is not None else None
    renderer.memo.showing = {}
    store = renderer.card_store
    if isinstance(store, CardLog):  # the log of this worker's shard before
        store = store.store
    cards = renderer.card_store = CardLog(store)  # what it drew, for the parent's memo
    stager = Stager(*work.stage) if work.stage is not None else None
    files = [_staged(stager, f) for f in renderer.other_pages(work.listed)]
    failed = work.aside.run(renderer.snapshot_text()) if k == work.shards - 1 and work.aside is not None else None
    return (files, reuse.manifest, reuse.made or {}, renderer.memo.showing, reuse.faults(), (cards.used, cards.made),
            taken_frames(renderer), failed)


def changed_site_files(
    inp: SiteInput, layouts: Path, memo: RenderMemo, reuse: ManifestReuse, store: Memo
) -> tuple[list[OutputFile], frozenset[str]] | None:
    """The files that changed since the build `memo` comes from, when only the content
    of some articles did (nothing added, removed, moved, re-tagged...; see
    `SiteRenderer.only_showing`): their pages and the files that showed them, and the
    last build's files to remove (share cards renamed). None when the change is bigger;
    then `site_files` must look at everything."""
    if not memo.fits(inp) or memo.env is None:
        return None
    renderer = SiteRenderer(inp, memo.env, layouts, reuse, memo)
    renderer.card_store = store
    changed = renderer.only_showing(inp.articles)
    if changed is None or memo.listed is None:
        return None
    listed = list(memo.listed)
    files: list[OutputFile] = []
    try:
        records = _read_ahead(renderer, reuse, [article for _, article in changed])
        made = [article_file(renderer, reuse, article, None, record)
                for (_, article), record in zip(changed, records, strict=True)]
    finally:
        _forget_fetched(renderer, reuse)
    for (i, article), one in zip(changed, made, strict=True):
        listed[i] = renderer.listed_view(article)
        if one.shell is not None:
            store.put(shell_key(one.shell_print), one.shell, packed=True)
        if one.page.data is not None:
            reuse.record(one.page.path, one.fingerprint, one.size, one.item)
            files.append(one.page)
    files += [f for f in renderer.other_pages(listed) if f.data is not None]
    keep_frames(store, *taken_frames(renderer))
    memo.published, memo.listed = inp.articles, listed
    return files, frozenset(renderer.gone)


PageRecord = tuple[str, int, str]  # a page written: fingerprint, size in bytes, list item HTML


def _no_record(path: str, fingerprint: str) -> PageRecord | None:
    return None


def page_key(out: Path, path: str, fingerprint: str) -> str:
    """The memo key of the record of the page at `path` in `out`, made from `fingerprint`
    (its value: `record_value`)."""
    return memo_key("page", str(out), path, fingerprint)


def memo_records(store: Memo, out: Path) -> Callable[[str, str], PageRecord | None]:
    """The pages the memo knows were written into `out`, looked up by path and fingerprint."""

    def find(path: str, fingerprint: str) -> PageRecord | None:
        found = store.load(page_key(out, path, fingerprint), tuple[int, str])
        return (fingerprint, *found) if found is not None else None

    return find


def manifest_records(manifest: Mapping[str, PageRecord]) -> Callable[[str, str], PageRecord | None]:
    """The pages of the last build in this process (its manifest), by path and fingerprint."""

    def find(path: str, fingerprint: str) -> PageRecord | None:
        record = manifest.get(path)
        return record if record is not None and record[0] == fingerprint else None

    return find


def record_value(size: int, item: str) -> bytes:
    """A page record as the memo keeps it (without the fingerprint, which is in its key)."""
    return pack(encode((size, item)))


def save_records(store: Memo, out: Path, manifest: Mapping[str, PageRecord]) -> None:
    """Count this build's page records as used: the memo holds them all, those of pages made
    anew since they came back (`ManifestReuse.settle`), the others from the build that made them."""
    store.use(page_key(out, path, made_from) for path, (made_from, _, _) in manifest.items())


@dataclass
class ManifestReuse:
    """Page reuse: the records of pages written before (`find`) and the files in the output folder."""

    find: Callable[[str, str], PageRecord | None]
    existing: Collection[str]
    out: Path | None
    manifest: dict[str, PageRecord]
    store: Memo | None = None  # what `find` reads, if the memo: its problems go back from workers
    # Each file's (size, st_mtime_ns) as the last build left it (its SiteRecord), when known.
    as_left: Mapping[str, tuple[int, int]] | None = None
    # The memo values of the records made anew (`record_value`), by path; None: not kept in the memo.
    made: dict[str, bytes] | None = None

    def keep(self, path: str, fingerprint: str) -> PageRecord | None:
        if path not in self.existing or self.out is None:
            return None
        record = self.find(path, fingerprint)
        if record is None:
            return None
        try:  # a file changed by hand since (another size, or time when known) is rendered again
            st = os.stat(os.path.join(self.out, path))
        except OSError:
            return None
        if st.st_size != record[1] or (self.as_left is not None
                                       and self.as_left.get(path) != (st.st_size, st.st_mtime_ns)):
            return None
        self.note(path, record)
        return record

    def note(self, path: str, record: PageRecord) -> None:
        """`record` in the manifest; without its list item when the memo keeps the records
        (`store`, see `settle`), whose values hold it: a build need not hold every item twice."""
        self.manifest[path] = record if self.store is None or not record[2] else (record[0], record[1], "")

    def faults(self) -> tuple[list[str], str | None]:
        return self.store.take_faults() if self.store is not None else ([], None)

    def settle(self, made: dict[str, bytes]) -> None:
        """In the parent, put the records of pages made anew (their memo values, `record_value`,
        by path; `made` is emptied) into the memo as they come, rather than hold them all to
        the end of the build."""
        if self.store is None or self.out is None:
            return
        while made:
            path, value = made.popitem()
            self.store.put(page_key(self.out, path, self.manifest[path][0]), value, packed=True)

    def record(self, path: str, fingerprint: str, size: int, item: str = "") -> None:
        """Note a page made anew (and, for the memo, its record's value)."""
        self.note(path, (fingerprint, size, item))
        if self.made is not None:
            self.made[path] = record_value(size, item)


def site_fingerprint(paths: SitePaths, config: SiteConfig, options: BuildOptions, assets: Assets) -> str:
    """Digest of the inputs every page shares: layouts, settings, options, version, and the
    static files as the build already read them (`assets`): their bytes when pages name
    them by content hash, else what pages show of them, an image's size."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{__version__}|{MARKUP_VERSION}|{config!r}|{options.drafts}|{options.future}|"
             f"{options.asset_hashes}".encode())
    if paths.layouts.is_dir():
        for f in sorted(p for p in paths.layouts.rglob("*") if p.is_file()):
            h.update(f.relative_to(paths.layouts).as_posix().encode() + b"\x00" + f.read_bytes() + b"\x00")
    for static in assets.files:
        data = static.data or b""
        shown = data if options.asset_hashes else repr(image_size(data)).encode()
        h.update(static.path.encode() + b"\x00" + shown + b"\x00")
    return h.hexdigest()


# --- build -----------------------------------------------------------------------------


def _static_entries(static: Path) -> tuple[list[Path], list[Path]]:
    """static/'s files in path order: (those published, dot files and editors' files left
    out, `editors_file`; the links among them that lead out of the site folder, which are
    never published and gather reports)."""
    published: list[Path] = []
    leaving: list[Path] = []
    if static.is_dir():
        for path in sorted(p for p in static.rglob("*") if p.is_file()):
            if path.is_symlink() and _leaves(path, static):
                leaving.append(path)
            elif not editors_file(path.name):
                published.append(path)
    return published, leaving


def static_files(static: Path) -> Iterator[OutputFile]:
    """Every file published from static/, in path order (see `_static_entries`)."""
    for path in _static_entries(static)[0]:
        yield OutputFile(path.relative_to(static).as_posix(), path.read_bytes())


# The files every site has at its top, beside the folders of content.RESERVED_SLUGS.
SITE_FILES = frozenset({"404.html", "feed.xml", "index.html", NEWS_SITEMAP, "robots.txt", "snapshot.json"})
_SITEMAP = re.compile(r"sitemap(-\d+)?\.xml")


_LIST_PAGE = re.compile(r"(?:tags/([^/]+)/)?page/[1-9][0-9]*/index\.html")  # a list's second page and on


def _section_pages(articles: Iterable[Article]) -> dict[str, str]:
    """The pages of the site's own sections that `articles` make, each with what it is: a
    topic's first page and feed, and a market's or an event's page. (A list's later pages
    are matched by `_LIST_PAGE`.) Drafts and stories yet to come count as published: a page
    that would clash the day one of them is published clashes now."""
    tags: dict[str, None] = {}
    refs: dict[str, MarketRef] = {}
    for article in articles:
        tags.update(dict.fromkeys(article.tags))
        for use in article.uses:
            refs[use.ref.key] = use.ref
    pages: dict[str, str] = {}
    for tag in tags:
        folder = f"tags/{tag_slug(tag)}/"
        pages.setdefault(folder + "index.html", f"the topic page of {tag!r}")
        pages.setdefault(folder + "feed.xml", f"the feed of the topic {tag!r}")
    for ref in refs.values():
        kind = "event" if ref.kind == "event" else "market"
        pages.setdefault(ref.page_path + "index.html", f"the page of the {kind} {ref.slug!r}")
    return pages


def static_problems(paths: SitePaths, by_url: Mapping[str, Article]) -> list[Problem]:
    """An error for each symbolic link in static/ that leads out of the site folder (its
    target would be published as a file of the site), and for each article whose page
    would take the place of a file of static/, of a site-wide file, of the first page of
    one of the site's own sections (a permalink of `/{slug}/` and an article slugged
    `tags`), or of a page within one (a permalink of `/tags/{slug}/` and an article
    slugged as a topic is): found here, each with the article's file, rather than by the
    writer, one at a time. (An article may live inside a section's folder,
    `/markets/{year}/{slug}/`, where no page of the section is.)"""
    published, leaving = _static_entries(paths.static)
    problems = [Problem(paths.shown(p), 0, "", "a symbolic link to a file outside the site folder; "
                        "static files and links must stay inside it (it is not published)") for p in leaving]
    files = {p.relative_to(paths.static).as_posix() for p in published}
    folders = ancestors(files)
    tops = {f.split("/", 1)[0] for f in files}  # a page can take a static file's place only under its top folder
    sections = _section_pages(by_url.values())
    section_folders = ancestors(sections)
    topics = {page.split("/")[1] for page in sections if page.startswith("tags/")}
    for url, article in by_url.items():
        page = page_file(url)
        top = page.split("/", 1)[0]
        listed = _LIST_PAGE.fullmatch(page)
        taken = None
        if top in tops:
            taken = next((f"static/{f}" for f in (page, *sorted(ancestors([page]))) if f in files), None) or (
                f"static/{page}/" if page in folders else None)
        if taken is None and (page in SITE_FILES or _SITEMAP.fullmatch(page)
                              or (top in RESERVED_SLUGS and page in (top, f"{top}/index.html"))):
            taken = f"the site's own /{top}{'/' if '/' in page else ''}"
        elif taken is None and page in sections:
            taken = sections[page]
        elif taken is None and page in section_folders:  # a file where the section needs a folder
            taken = f"the folder /{page}/ of the site's own pages"
        elif taken is None and listed is not None and (listed[1] is None or listed[1] in topics):
            taken = "a page of the front page's list" if listed[1] is None \
                else f"a page of the topic list /tags/{listed[1]}/"
        if taken is not None:
            problems.append(Problem(article.path, article.line_of("slug"), "slug",
                                    f"URL {url} would take the place of {taken}; "
                                    "give the article another 'slug:', or change the permalink"))
    return problems


def _leaves(link: Path, static: Path) -> bool:
    """Whether `link` in `static` leads out of the site folder (static/'s parent, or static/ itself)."""
    target = link.resolve()
    return not any(target.is_relative_to(folder) for folder in (static.resolve(), static.parent.resolve()))


@dataclass(frozen=True)
class BuildState:
    """What a build leaves for the next one in the same process (the dev server's rebuilds).

    With it a rebuild reads only the content files that changed, reuses the snapshot,
    and renders only the pages whose inputs changed, knowing the output folder from the
    last build instead of reading it again. Its memo (`store`) is the dev server's, in
    memory (see cache.Memo); the odds cache is written whenever the odds are new.
    """

    store: Memo
    gathered: Gathered | None = None
    manifest: Mapping[str, PageRecord] = field(default_factory=dict)
    existing: frozenset[str] | None = None  # the output folder's files; None: look
    memo: RenderMemo | None = None
    snapshot: tuple[Snapshot, Snapshot] | None = None  # (as the source gave it, restricted to the site's refs)
    fingerprint: str = ""
    assets: Assets | None = None
    pages: int = 0


def _unchanged_site(paths: SitePaths, changed: Collection[Path] | None) -> bool:
    """Whether none of `changed` is a layout, a static file or site.yaml."""
    if changed is None:
        return False
    shared = [paths.layouts, paths.static, paths.config_file]
    return not any(c == s or s in c.parents for c in changed for s in shared)


@dataclass(frozen=True)
class SnapshotTaken:
    """The snapshot stage's result: the source's snapshot, the one the site shows (restricted
    to its references), where it came from, and the warnings of the build so far."""

    odds: Odds
    snapshot: Snapshot
    warnings: tuple[Problem, ...]


def build(
    paths: SitePaths,
    options: BuildOptions,
    now: datetime,
    snapshot_source: SnapshotSource,
    progress: Progress = _no_progress,
    write: Callable[..., WriteReport] = write_site,
    previous: BuildState | None = None,
    changed: Collection[Path] | None = None,
) -> BuildReport:
    """Build the site into paths.out: gather, take one snapshot, render, write.

    Given `previous` (a BuildState from the last build in this process) and the paths
    that `changed` since, do only the work they need; the report's `state` is then the
    state for the next build. `write` must take files that worker processes staged (see
    `site_files`), as `write_site` does."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    store = previous.store if previous is not None else Memo(paths.cache, shown=_shown_memo(paths))
    try:
        gathered = gather(paths, options, progress, store, previous.gathered if previous else None, changed)
    finally:  # also when a file has errors: the next build only parses what changed since
        store.flush()
    timings["gather"] = time.perf_counter() - started
    published = gathered.published(options, now)
    taken = take_snapshot(gathered, published, snapshot_source, options, now, previous)
    timings["snapshot"] = time.perf_counter() - started - timings["gather"]
    inp, same_site = site_input(paths, options, gathered, published, taken, now, store, previous, changed)
    key = site_key(inp, paths.out.resolve(), taken) if previous is None else ""
    done = _site_as_built(paths, inp, gathered, taken, store, key) if previous is None else \
        _write_what_changed(paths, inp, same_site, gathered, taken, write, previous, store)
    if done is None:
        done = _render_and_write(paths, options, inp, gathered, taken, write, progress, previous, changed, store,
                                 key, timings)
    state, report = done
    return _report(state, report, published, list(taken.warnings), taken.snapshot, taken.odds.note, now, started,
                   timings, taken.odds.requests)


def take_snapshot(gathered: Gathered, published: Sequence[Article], source: SnapshotSource, options: BuildOptions,
                  now: datetime, previous: BuildState | None) -> SnapshotTaken:
    """The build's one snapshot, restricted to the site's references and checked: unknown
    and missing markets are warnings (errors with --strict), --max-stale an error."""
    odds = source(wanted(gathered), now)
    if previous is not None and previous.snapshot is not None and previous.snapshot[0] is odds.snapshot \
            and previous.gathered is not None and previous.gathered.uses.keys() == gathered.uses.keys():
        snapshot = previous.snapshot[1]  # the same object, so the renderer's memo still fits
    else:
        snapshot = restrict(odds.snapshot, list(gathered.uses))
    unknown = unknown_ref_problems(gathered, odds, published)
    said = {(p.path, p.line) for p in unknown}
    warnings = list(gathered.problems) + unknown + [
        p for p in missing_quote_problems(gathered, snapshot, published) if (p.path, p.line) not in said
    ]
    raise_on_errors(warnings, options.strict)  # gather raised already if it had any under --strict
    if options.max_stale_s is not None:
        check_max_stale(snapshot, shown_keys(gathered, published), now, options.max_stale_s)
    return SnapshotTaken(odds, snapshot, tuple(warnings))


def site_input(paths: SitePaths, options: BuildOptions, gathered: Gathered, published: Sequence[Article],
               taken: SnapshotTaken, now: datetime, store: Memo, previous: BuildState | None,
               changed: Collection[Path] | None) -> tuple[SiteInput, bool]:
    """What the renderer is given, and whether the layouts, static files and settings are
    the last build's in this process (then their fingerprint is not worked out again)."""
    same_site = previous is not None and previous.gathered is not None and previous.fingerprint != "" \
        and previous.assets is not None and previous.gathered.config == gathered.config \
        and _unchanged_site(paths, changed)
    if same_site and previous is not None and previous.assets is not None:
        fingerprint_, assets = previous.fingerprint, previous.assets
    else:
        statics = static_files(paths.static)
        assets = fingerprint(statics) if options.asset_hashes else Assets(files=tuple(statics))
        fingerprint_ = site_fingerprint(paths, gathered.config, options, assets)
    inp = SiteInput(config=gathered.config, articles=published, bodies=gathered.bodies, snapshot=taken.snapshot,
                    now=now, fingerprint=fingerprint_, assets=assets, shells=memo_shells(store))
    return inp, same_site


Done = tuple["BuildState", WriteReport]


@dataclass(frozen=True)
class SiteRecord:
    """The output folder as the build that wrote it left it: each of its files (the
    writer's record among them) with its size and modification time, and its page count;
    and the odds cache's snapshot file as that build left it (`cache_state`)."""

    pages: int
    files: tuple[tuple[str, int, int], ...]  # (path, size, st_mtime_ns)
    odds_cache: tuple[int, int]


def site_key(inp: SiteInput, out: Path, taken: SnapshotTaken) -> str:
    """Digest of everything the site in `out` is made from: the shared inputs (the site
    fingerprint), each published article's file, the snapshot, and what the pages show of
    the clock (`site.clock_marks`). Code version included, as in every memo key.

    The snapshot, as the site has it (`restrict`ed to its markets), is known by what it
    holds (`snapshot_digest`), however it was had: its JSON, made for /snapshot.json while
    the workers make the article pages, is not made before the build knows whether there
    is a site to make."""
    # The share cards' renderer too: Pillow's version and text layout engine, zlib's.
    return memo_key("site", str(out), inp.fingerprint, card_renderer(), snapshot_digest(taken.snapshot),
                    clock_marks(inp),
                    *(f"{a.path}\x00{a.source_hash}" for a in inp.articles))


def _file_state(out: Path, path: str) -> tuple[str, int, int]:
    """A file of the output folder as the site record keeps it (its path joined as a string:
    this is done for each of a site's files, 3 us against 6 us through `out / path`)."""
    try:
        st = os.lstat(f"{out}/{path}")
    except OSError:
        return (path, -1, 0)
    return (path, st.st_size if stat.S_ISREG(st.st_mode) else -1, st.st_mtime_ns)


def site_record(out: Path, files: Collection[str], pages: int, cache: Path | None) -> SiteRecord:
    return SiteRecord(pages, tuple(_file_state(out, p) for p in sorted({*files, RECORD})), cache_state(cache))


def _site_as_built(paths: SitePaths, inp: SiteInput, gathered: Gathered, taken: SnapshotTaken,
                   store: Memo, key: str) -> Done | None:
    """The site the last build left in the output folder, when it was made from this very
    input and every file of it is still as that build wrote it: nothing to render or write.
    None: the site is to be made."""
    out = paths.out.resolve()
    last = _last_site(store, out)
    if not inp.fingerprint or last is None or last[0] != key:
        return None
    record = last[1]
    if record is None or any(_file_state(out, path) != (path, size, mtime) for path, size, mtime in record.files):
        return None
    if cache_state(paths.cache) != record.odds_cache:  # else it holds what the last build saved
        save_cache(paths.cache, taken.snapshot, gathered.uses, taken.odds.anchors_missing, taken.odds.cached,
                   snapshot_to_json(taken.snapshot), now=inp.now)
        _note_site(store, out, key, replace(record, odds_cache=cache_state(paths.cache)))
    store.flush()  # what gather added; nothing pruned: the last build's entries are still this site's
    files = frozenset(path for path, _, _ in record.files if path != RECORD)
    state = BuildState(store=store, gathered=gathered, existing=files, snapshot=(taken.odds.snapshot, taken.snapshot),
                       fingerprint=inp.fingerprint, assets=inp.assets, pages=record.pages)
    return state, WriteReport(len(files), 0, 0, len(files), 0)


def _note_site(store: Memo, out: Path, key: str, record: SiteRecord) -> None:
    """Keep `record` as the site of `key` in `out` (see `_last_site`). Under a key of its
    own: a build again from the same input (after a failed one, say) leaves its files with
    other times."""
    value = encode(record)
    record_key = memo_key("site record", value)
    store.put(record_key, value)
    store.set_note(_pages_note(out), f"{key} {record_key}")


def _last_site(store: Memo, out: Path) -> tuple[str, SiteRecord | None] | None:
    """The `site_key` of the site the last build left in `out`, and its record; None when
    the memo's page records do not describe that folder (see `_pages_note`)."""
    note = store.note(_pages_note(out))
    if note is None:
        return None
    key, _, record_key = note.partition(" ")
    return key, cast(SiteRecord | None, store.load(record_key, SiteRecord)) if record_key else None


def _pages_note(out: Path) -> str:
    """The memo's note naming the site (its `site_key`) in `out` while the memo's page
    records describe that folder: from the end of a build that wrote it to the start of
    the next one's writing (a build that fails or is killed while writing leaves files
    they do not describe)."""
    return f"pages of {out}"


def _write_what_changed(paths: SitePaths, inp: SiteInput, same_site: bool, gathered: Gathered, taken: SnapshotTaken,
                        write: Callable[..., WriteReport], previous: BuildState | None, store: Memo) -> Done | None:
    """In the dev server, when only the content of some articles changed: their pages and
    the files that show them, written over the last build. None: the whole site is to be made."""
    if previous is None or previous.existing is None or previous.memo is None or previous.assets is None:
        return None
    # A static file edited (none added or removed) leaves the pages as they were unless they
    # name static files by content hash, which the site fingerprint, and so the memo, covers.
    if [f.path for f in previous.assets.files] != [f.path for f in inp.assets.files]:
        return None
    manifest = dict(previous.manifest)
    reuse = ManifestReuse(manifest_records(previous.manifest), previous.existing, paths.out.resolve(), manifest)
    changes = changed_site_files(inp, paths.layouts, previous.memo, reuse, store)
    if changes is None:
        return None
    changed_files, gone = changes
    if not same_site:
        changed_files += inp.assets.files
    report = write(iter(changed_files), paths.out, previous.existing, partial=True, gone=gone)
    for path in gone:
        manifest.pop(path, None)
    existing = (previous.existing - gone) | {f.path for f in changed_files}
    state = replace(previous, gathered=gathered, manifest=manifest, snapshot=(taken.odds.snapshot, taken.snapshot),
                    assets=inp.assets, fingerprint=inp.fingerprint, existing=existing)
    return state, report


def _render_and_write(paths: SitePaths, options: BuildOptions, inp: SiteInput, gathered: Gathered, taken: SnapshotTaken,
                      write: Callable[..., WriteReport], progress: Progress, previous: BuildState | None,
                      changed: Collection[Path] | None, store: Memo, key: str, timings: dict[str, float]) -> Done:
    """Every file of the site rendered (a page the memo's records say is on disk as it would
    be made is kept) and written, the odds cache saved meanwhile (`Aside`: a failure to save
    it is raised once the site is written); then the memo is saved, and, for a whole build
    (`key`: its site key), the site record. `timings` receives the time of each of the two
    ("render+write", "save")."""
    begun = time.perf_counter()
    out = paths.out.resolve()
    existing = previous.existing if previous is not None and previous.existing is not None \
        else existing_files(out)
    manifest: dict[str, PageRecord] = {}
    valid = _pages_note(out)
    as_left = None
    if previous is not None:
        find = manifest_records(previous.manifest)
    else:
        last = _last_site(store, out)
        # The page records are trusted with the site record alone, which says how the last
        # build left each file: one the memo lost or holds damaged leaves no page known as made.
        find = memo_records(store, out) if last is not None and last[1] is not None else _no_record
        if last is not None and last[1] is not None:
            as_left = {path: (size, mtime) for path, size, mtime in last[1].files}
        store.set_note(valid, None)
        store.flush()
    reuse = ManifestReuse(find, set(existing), out, manifest, None if previous is not None else store, as_left,
                          {} if previous is None else None)  # the CLI's build keeps page records in the memo
    written: set[str] = set()
    renderer_memo: list[RenderMemo] = []
    pages = 0

    base = taken.odds.snapshot
    # The odds cache, saved with the site-wide files (a worker's, while the others make pages)
    # unless it holds these odds already (the dev server's build again).
    aside = None if previous is not None and previous.snapshot is not None and previous.snapshot[0] is base \
        else Aside(partial(save_cache, paths.cache, taken.snapshot, gathered.uses, taken.odds.anchors_missing,
                           taken.odds.cached, now=inp.now))

    def files() -> Iterator[OutputFile]:
        nonlocal pages
        memo = previous.memo if previous is not None else None
        for f in site_files(inp, paths.layouts, options.jobs, reuse, memo, renderer_memo.append, stage=True,
                            store=store, aside=aside):
            if f.path.endswith(".html"):
                pages += 1
                if pages % 500 == 0:
                    progress("rendering pages", pages, 0)
            written.add(f.path)
            yield f
        for f in inp.assets.files:
            written.add(f.path)
            yield f

    report = write(files(), paths.out, existing)
    written_at = time.perf_counter()
    if aside is not None and aside.failed:  # the odds cache not saved: said now the site is written
        raise aside.failed[0]
    if previous is None:
        save_records(store, out, manifest)
        _note_site(store, out, key, site_record(out, written, pages, paths.cache))
    # Kept: what this build used (in the dev server, pruned only when it looked at every file).
    if previous is None or changed is None:
        store.save()
    timings["render+write"] = written_at - begun
    timings["save"] = time.perf_counter() - written_at
    state = BuildState(
        store=store, gathered=gathered, manifest=manifest, existing=frozenset(written),
        memo=renderer_memo[0] if renderer_memo else None, snapshot=(base, taken.snapshot),
        fingerprint=inp.fingerprint, assets=inp.assets, pages=pages,
    )
    return state, report


def _shown_memo(paths: SitePaths) -> str:
    return paths.shown(paths.cache / MEMO_FILE) if paths.cache is not None else MEMO_FILE


def shell_key(fingerprint: str) -> str:
    """The memo key of a page's frame (site.Shell: an article's shell, a list page's frame)."""
    return memo_key("shell", fingerprint)


def memo_shells(store: Memo) -> Callable[[str, Callable[[Shell], bool] | None], Shell | None]:
    """Page frames (site.Shell) from the memo, by their fingerprint; one that holds another
    fingerprint, or that does not pass `fits`, is an entry of the wrong shape."""

    def find(fingerprint: str, fits: Callable[[Shell], bool] | None = None) -> Shell | None:
        return cast(Shell | None, store.load(shell_key(fingerprint), Shell,
                                             lambda s: s.fingerprint == fingerprint and (fits is None or fits(s))))

    return find


def _report(state: BuildState, written: WriteReport, published: Sequence[Article], warnings: list[Problem],
            snapshot: Snapshot, note: str, now: datetime, started: float, timings: dict[str, float],
            requests: int) -> BuildReport:
    if "render+write" not in timings:  # a build that wrote nothing, or only what changed
        timings["render+write"] = time.perf_counter() - started - timings["gather"] - timings["snapshot"]
    if state.store.warning is not None:  # said once, after any --strict check: a cache only saves time
        warnings = [*warnings, Problem(state.store.shown, 0, "cache", state.store.warning, "warning")]
        state.store.warning = None
    assert state.gathered is not None
    stale_ages = [age for age, _ in stale_quotes(snapshot, shown_keys(state.gathered, published), now,
                                                state.gathered.config.stale_after_s)]
    return BuildReport(
        pages=state.pages, articles=len(published), warnings=tuple(sorted(warnings)),
        seconds=time.perf_counter() - started, snapshot_note=note, stale=len(stale_ages),
        oldest_stale_s=max(stale_ages, default=0), written=written, timings=timings, state=state,
        odds_requests=requests,
    )

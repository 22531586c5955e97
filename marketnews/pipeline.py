"""build(): gather and validate everything, take one snapshot, render, then write.

Reads the site folder and writes the output and cache folders; the clock, the
snapshot source and (for live odds) the httpx client are passed in, so the middle
(site.render_site) stays pure.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.pool
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import httpx

from marketnews import __version__
from marketnews.assets import fingerprint
from marketnews.cache import BodyCache, PageRecord, body_key, load_body_cache, load_pages, save_body_cache, save_pages
from marketnews.config import SiteConfig, load_config
from marketnews.content import Article, RefUse, parse_article
from marketnews.errors import ContentError, MarketnewsError, Problem
from marketnews.markets.model import Snapshot, snapshot_from_json
from marketnews.markets.polymarket import PolymarketSettings
from marketnews.markets.refs import MarketRef, RefError, parse_ref
from marketnews.markup import MARKUP_VERSION, RenderedBody, render_body
from marketnews.odds import Odds, OddsSources, assemble_odds, load_cache, save_cache
from marketnews.site import ArticleView, OutputFile, SiteInput, SiteRenderer, article_url, page_file
from marketnews.templating import make_environment
from marketnews.widgets import age_text
from marketnews.writer import WriteReport, existing_files, write_site

Progress = Callable[[str, int, int], None]
PARALLEL_MIN = 200  # below this many bodies to render, worker processes cost more than they save


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
        text = str(path if path.is_absolute() else path.resolve())
        if not text.startswith(self._root_prefix):
            text = str(path.resolve())
        if text.startswith(self._root_prefix):
            return text[len(self._root_prefix) :].replace(os.sep, "/")
        return str(path)


@dataclass(frozen=True)
class BuildOptions:
    drafts: bool = False
    future: bool = False
    strict: bool = False
    jobs: int = int(os.environ.get("MARKETNEWS_JOBS", 0)) or max(1, min(4, os.cpu_count() or 1))
    max_stale_s: int | None = None  # fail the build when a quote is older than this


@dataclass(frozen=True)
class Gathered:
    """Everything read from the site folder, validated: the input of every later stage."""

    config: SiteConfig
    articles: tuple[Article, ...]  # every valid article, drafts and future ones included
    bodies: Mapping[str, RenderedBody]  # by Article.path
    problems: tuple[Problem, ...]  # warnings only; errors raise ContentError
    uses: Mapping[str, tuple[tuple[Article, RefUse], ...]]  # market key -> where it is used

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


# --- gather ----------------------------------------------------------------------------


def content_files(content: Path) -> list[Path]:
    """Every article file, as absolute paths (resolving the folder once, not each file)."""
    return sorted(p for p in content.resolve().rglob("*.md") if p.is_file() and not p.name.startswith("."))


# Worker processes are forked, so they start with the parent's memory (the body cache,
# the site input) and only results travel back through pipes. Where fork is not
# available the same functions run in this process.
_FORK = "fork" in multiprocessing.get_all_start_methods()
_shared: dict[str, Any] = {}


def _chunks(n: int, jobs: int) -> list[range]:
    size = max(16, min(256, n // (jobs * 8) or 1))
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def _pool(jobs: int, n: int) -> multiprocessing.pool.Pool | None:
    if not _FORK or jobs < 2 or n < PARALLEL_MIN:
        return None
    return multiprocessing.get_context("fork").Pool(jobs)


ReadResult = tuple[Article | None, list[Problem], str, RenderedBody | None]


def _read_one(shown: str, path: Path, tz: tzinfo, cache: BodyCache) -> ReadResult:
    """Validate one file and render its body unless the cache has it (then None)."""
    article, problems = parse_article(shown, path.read_bytes(), tz)
    if article is None:
        return None, problems, "", None
    key = body_key(article.body)
    return article, problems, key, None if key in cache.entries else render_body(article.body)


def _read_chunk(indices: range) -> list[ReadResult]:
    files, shown, tz, cache = _shared["read"]
    return [_read_one(shown[i], files[i], tz, cache) for i in indices]


def read_articles(
    paths: SitePaths, files: Sequence[Path], tz: tzinfo, cache: BodyCache, jobs: int, progress: Progress
) -> tuple[list[Article], dict[str, RenderedBody], list[Problem]]:
    """Parse and validate every file and render each body the cache lacks, in parallel when many."""
    shown = [paths.shown(f) for f in files]
    _shared["read"] = (files, shown, tz, cache)
    articles: list[Article] = []
    bodies: dict[str, RenderedBody] = {}
    problems: list[Problem] = []
    try:
        pool = _pool(jobs, len(files))
        chunks = _chunks(len(files), max(jobs, 1))
        results = pool.imap(_read_chunk, chunks) if pool else map(_read_chunk, chunks)
        done = 0
        for chunk in results:
            for article, found, key, body in chunk:
                problems.extend(found)
                if article is None:
                    continue
                articles.append(article)
                if body is None:
                    body = cache.get(key)
                else:
                    cache.put(key, body)
                assert body is not None
                bodies[article.path] = body
            done += len(chunk)
            progress("reading articles", done, len(files))
        if pool:
            pool.close()
            pool.join()
    finally:
        _shared.pop("read", None)
    return articles, bodies, problems


def _body_problems(article: Article, body: RenderedBody) -> list[Problem]:
    problems: list[Problem] = []
    for item in body.inline:
        try:
            parse_ref(item.written)
        except RefError as exc:
            problems.append(Problem(article.path, article.body_line + item.line, "market", str(exc)))
    for line in body.empty_market_blocks:
        problems.append(Problem(article.path, article.body_line + line, "market",
                                "empty ```market block: expected one slug or URL a line", "warning"))
    for line in body.images_without_alt:
        problems.append(Problem(article.path, article.body_line + line, "image",
                                "image has no alt text: write ![what it shows](path)", "warning"))
    return problems


def gather(paths: SitePaths, options: BuildOptions, progress: Progress = _no_progress,
           cache: BodyCache | None = None) -> Gathered:
    """Read and validate site.yaml and every article; raise ContentError with every problem."""
    config, config_warnings = load_config(paths.config_file, paths.shown(paths.config_file))
    problems: list[Problem] = list(config_warnings)
    if not paths.content.is_dir():
        raise MarketnewsError(f"{paths.shown(paths.content)}: content folder not found")
    files = content_files(paths.content)
    articles, bodies, found = read_articles(
        paths, files, config.tz, cache if cache is not None else BodyCache(), options.jobs, progress)
    problems.extend(found)
    uses: dict[str, list[tuple[Article, RefUse]]] = {}
    by_url: dict[str, Article] = {}
    for a in articles:
        body = bodies[a.path]
        problems.extend(_body_problems(a, body))
        for use in a.markets:
            uses.setdefault(use.ref.key, []).append((a, use))
        for item in body.inline:
            try:
                ref = parse_ref(item.written)
            except RefError:
                continue
            uses.setdefault(ref.key, []).append((a, RefUse(ref, item.written, a.body_line + item.line)))
        url = article_url(config, a)
        if url in by_url:
            other = by_url[url]
            problems.append(Problem(a.path, 1, "slug",
                                    f"URL {url} is also written by {other.path}; give one of them another 'slug:'"))
        else:
            by_url[url] = a
    if options.strict:
        problems = [Problem(p.path, p.line, p.field, p.message, "error") for p in problems]
    if any(p.severity == "error" for p in problems):
        raise ContentError(problems)
    articles.sort(key=lambda a: (a.date, a.path), reverse=True)
    return Gathered(
        config=config, articles=tuple(articles), bodies=bodies,
        problems=tuple(sorted(problems)),
        uses={k: tuple(v) for k, v in sorted(uses.items())},
    )


# --- snapshot --------------------------------------------------------------------------

SnapshotSource = Callable[[Gathered, datetime], Odds]


def snapshot_from_file(path: Path, label: str | None = None) -> SnapshotSource:
    """A snapshot source that reads one file: no network at all."""

    def load(gathered: Gathered, now: datetime) -> Odds:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MarketnewsError(f"{path}: cannot read snapshot: {exc.strerror}") from None
        snapshot = snapshot_from_json(text, str(path))
        return Odds(snapshot, label or f"snapshot from {path}")

    return load


@dataclass(frozen=True)
class LiveOptions:
    """How the build gets live odds; the overrides come from the environment."""

    offline: bool = False
    gamma_url: str | None = None
    clob_url: str | None = None
    polymarket: PolymarketSettings = PolymarketSettings()  # policies; its URLs are replaced


def references(gathered: Gathered) -> set[MarketRef]:
    return {use.ref for places in gathered.uses.values() for _, use in places}


def live_snapshot_source(
    paths: SitePaths,
    client: httpx.Client | None,
    live: LiveOptions = LiveOptions(),
    sleep: Callable[[float], None] = time.sleep,
) -> SnapshotSource:
    """Live odds from Polymarket, each market falling back to the cache, the live site's
    /snapshot.json and the example snapshot (see odds.py). No network when offline."""

    def load(gathered: Gathered, now: datetime) -> Odds:
        cfg = gathered.config
        settings = None
        if not live.offline and client is not None:
            settings = replace(
                live.polymarket, gamma_url=live.gamma_url or cfg.gamma_url, clob_url=live.clob_url or cfg.clob_url
            )
        sources = OddsSources(
            polymarket=settings,
            live_site_snapshot=f"{cfg.base_url}/snapshot.json",
            example=paths.root / cfg.example_snapshot if cfg.example_snapshot else None,
            example_label=cfg.example_snapshot,
        )
        anchors = {(use.ref.key, a.date) for places in gathered.uses.values() for a, use in places}
        return assemble_odds(
            references(gathered), now, client=client, sources=sources, cache=load_cache(paths.cache),
            anchors_wanted=sorted(anchors), sleep=sleep,
        )

    return load


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


def check_max_stale(gathered: Gathered, snapshot: Snapshot, published: Sequence[Article],
                    now: datetime, max_stale_s: int) -> None:
    """Raise when a published article would show a quote older than `max_stale_s`.

    Markets with no quote at all are not counted: they are warnings (errors with --strict).
    """
    shown = {a.path for a in published}
    keys = {k for k, places in gathered.uses.items() if any(a.path in shown for a, _ in places)}
    ages = {k: int((now - q.as_of).total_seconds()) for k in keys if (q := snapshot.get(k)) is not None}
    old = sorted((age, k) for k, age in ages.items() if age > max_stale_s)
    if old:
        raise MarketnewsError(
            f"--max-stale {duration_text(max_stale_s)}: {len(old)} quote{'s' if len(old) != 1 else ''} older "
            f"than that, the oldest ({old[-1][1]}) as of {age_text(old[-1][0])}; is Polymarket reachable?"
        )


def duration_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


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


def restrict(snapshot: Snapshot, keys: Sequence[str]) -> Snapshot:
    """The snapshot limited to the site's own references (what /snapshot.json publishes)."""
    wanted = set(keys)
    return snapshot.with_quotes({k: q for k, q in snapshot.quotes.items() if k in wanted})


# --- render ----------------------------------------------------------------------------


def _renderer() -> SiteRenderer:
    renderer = _shared.get("renderer")
    if renderer is None:
        inp, layouts = _shared["render"]
        renderer = _shared["renderer"] = SiteRenderer(inp, make_environment(layouts, inp.config.tz), layouts)
    return cast(SiteRenderer, renderer)


def _render_chunk(indices: Sequence[int]) -> list[tuple[OutputFile, str]]:
    """Article pages and their list items, rendered in a worker."""
    r = _renderer()
    out = []
    for i in indices:
        page, view = r.article_page(r.inp.articles[i])
        out.append((page, str(r.article_item(view))))
    return out


def site_files(
    inp: SiteInput,
    layouts: Path,
    jobs: int,
    previous: Mapping[str, PageRecord] | None = None,
    existing: Collection[str] | None = None,
    out: Path | None = None,
    manifest: dict[str, PageRecord] | None = None,
) -> Iterator[OutputFile]:
    """Every file of the site. Article pages whose fingerprint, and size on disk, match
    `previous` are kept (yielded with data None); the others are rendered, spread over
    worker processes when there are many. `manifest` receives this build's records."""
    reuse = ManifestReuse(previous or {}, set(existing or ()), out, manifest if manifest is not None else {})
    renderer = SiteRenderer(inp, make_environment(layouts, inp.config.tz), layouts, reuse)
    items: dict[int, str] = {}
    todo: list[int] = []
    prints: list[str] = []
    for i, article in enumerate(inp.articles):
        fp = renderer.article_fingerprint(article) if inp.fingerprint else ""
        prints.append(fp)
        path = page_file(article_url(inp.config, article))
        if fp and reuse.keep(path, fp):
            items[i] = reuse.previous[path][2]
            yield OutputFile(path, None)
        else:
            todo.append(i)

    _shared["render"] = (inp, layouts)  # before the fork: the workers inherit it
    pool = _pool(jobs, len(todo))
    try:
        chunks = [todo[c.start : c.stop] for c in _chunks(len(todo), max(jobs, 1))]
        results = pool.imap(_render_chunk, chunks) if pool else map(_render_chunk, chunks)
        for chunk, rendered in zip(chunks, results, strict=True):
            for i, (page, item) in zip(chunk, rendered, strict=True):
                items[i] = item
                if prints[i]:
                    reuse.record(page.path, prints[i], len(page.data or b""), item)
                yield page
        if pool:
            pool.close()
            pool.join()
    finally:
        if pool:
            pool.terminate()
        _shared.pop("render", None)
        _shared.pop("renderer", None)

    listed: list[ArticleView] = []
    for i, article in enumerate(inp.articles):
        view = renderer.listed_view(article)
        renderer.seed_item(view, items[i])
        listed.append(view)
    yield from renderer.other_pages(listed)


@dataclass
class ManifestReuse:
    """Page reuse backed by the last build's manifest and the files in the output folder."""

    previous: Mapping[str, PageRecord]
    existing: set[str]
    out: Path | None
    manifest: dict[str, PageRecord]

    def keep(self, path: str, fingerprint: str) -> bool:
        record = self.previous.get(path)
        if record is None or record[0] != fingerprint or path not in self.existing or self.out is None:
            return False
        try:  # a file changed by hand since (another size) is rendered again
            if os.stat(os.path.join(self.out, path)).st_size != record[1]:
                return False
        except OSError:
            return False
        self.manifest[path] = record
        return True

    def record(self, path: str, fingerprint: str, size: int, item: str = "") -> None:
        self.manifest[path] = (fingerprint, size, item)


def site_fingerprint(paths: SitePaths, config: SiteConfig, options: BuildOptions) -> str:
    """Digest of the inputs every page shares: layouts, static files, settings, options, version."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{__version__}|{MARKUP_VERSION}|{config!r}|{options.drafts}|{options.future}".encode())
    for folder in (paths.layouts, paths.static):
        if folder.is_dir():
            for f in sorted(p for p in folder.rglob("*") if p.is_file()):
                h.update(f.relative_to(folder).as_posix().encode() + b"\x00" + f.read_bytes() + b"\x00")
    return h.hexdigest()


# --- build -----------------------------------------------------------------------------


def static_files(static: Path) -> Iterator[OutputFile]:
    """Every file under static/ (dot files left out), in path order."""
    if not static.is_dir():
        return
    for path in sorted(p for p in static.rglob("*") if p.is_file() and not p.name.startswith(".")):
        yield OutputFile(path.relative_to(static).as_posix(), path.read_bytes())


def build(
    paths: SitePaths,
    options: BuildOptions,
    now: datetime,
    snapshot_source: SnapshotSource,
    progress: Progress = _no_progress,
    write: Callable[[Iterator[OutputFile], Path, Collection[str]], WriteReport] = write_site,
) -> BuildReport:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    cache = load_body_cache(paths.cache)
    gathered = gather(paths, options, progress, cache)
    timings["gather"] = time.perf_counter() - started
    published = gathered.published(options, now)
    odds = snapshot_source(gathered, now)
    snapshot, note = restrict(odds.snapshot, list(gathered.uses)), odds.note
    unknown = unknown_ref_problems(gathered, odds, published)
    said = {(p.path, p.line) for p in unknown}
    warnings = list(gathered.problems) + unknown + [
        p for p in missing_quote_problems(gathered, snapshot, published) if (p.path, p.line) not in said
    ]
    if options.strict and len(warnings) > len(gathered.problems):
        raise ContentError([Problem(p.path, p.line, p.field, p.message, "error") for p in warnings])
    if options.max_stale_s is not None:
        check_max_stale(gathered, snapshot, published, now, options.max_stale_s)
    timings["snapshot"] = time.perf_counter() - started - timings["gather"]

    assets = fingerprint(static_files(paths.static))
    inp = SiteInput(config=gathered.config, articles=published, bodies=gathered.bodies, snapshot=snapshot,
                    now=now, fingerprint=site_fingerprint(paths, gathered.config, options), assets=assets)
    existing = existing_files(paths.out.resolve())
    previous = load_pages(paths.cache, paths.out)
    manifest: dict[str, PageRecord] = {}
    pages = 0

    def files() -> Iterator[OutputFile]:
        nonlocal pages
        for f in site_files(inp, paths.layouts, options.jobs, previous, existing, paths.out.resolve(), manifest):
            pages += f.path.endswith(".html")
            if pages % 500 == 0:
                progress("rendering pages", pages, 0)
            yield f
        yield from assets.files

    report = write(files(), paths.out, existing)
    save_pages(paths.cache, paths.out, manifest)
    save_body_cache(paths.cache, cache)
    save_cache(paths.cache, snapshot, gathered.uses, odds.anchors_missing, odds.cached, paths.out / "snapshot.json")
    timings["render+write"] = time.perf_counter() - started - timings["gather"] - timings["snapshot"]
    stale_ages = [
        int((now - q.as_of).total_seconds()) for q in snapshot.quotes.values()
        if (now - q.as_of).total_seconds() > gathered.config.stale_after_s
    ]
    return BuildReport(
        pages=pages, articles=len(published), warnings=tuple(sorted(warnings)),
        seconds=time.perf_counter() - started, snapshot_note=note, stale=len(stale_ages),
        oldest_stale_s=max(stale_ages, default=0), written=report, timings=timings,
        odds_requests=odds.requests,
    )

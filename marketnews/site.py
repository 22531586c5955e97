"""Articles + rendered bodies + one snapshot -> every output file of the site. Pure.

`render_site` yields `OutputFile`s in a stable order; given the same inputs and `now`
it yields the same bytes. Widget HTML is rendered once per distinct widget and reused
on every page that shows it.

Reuse across builds: given `keep`, a page whose template context digests the same as
in the previous build (see `SiteRenderer.context_digest`) is not rendered again but
yielded as `OutputFile(path, None)`; a `RenderMemo` carries widget views, list items
and fingerprints from one build to the next in the same process (the dev server).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from marketnews.config import SiteConfig
from marketnews.content import Article, RefUse, slugify
from marketnews.markets.model import Snapshot, snapshot_to_json
from marketnews.markets.refs import MarketRef, RefError, parse_ref
from marketnews.markup import RenderedBody, fill_placeholders
from marketnews.templating import render
from marketnews.widgets import WidgetView, widget_view

SUMMARY_CHARS = 220


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output folder, "/"-separated
    data: bytes | None  # None: the file the previous build wrote is still right; keep it


@dataclass(frozen=True)
class TagLink:
    name: str
    url: str


@dataclass(frozen=True)
class ArticleView:
    """What a template needs of one article, with its widgets and links resolved."""

    article: Article
    url: str
    title: str
    summary: str
    authors: tuple[str, ...]
    tags: tuple[TagLink, ...]
    related: tuple[WidgetView, ...]
    body_html: str
    date: datetime
    updated: datetime | None
    image: str | None
    image_alt: str
    draft: bool
    future: bool


@dataclass(frozen=True)
class Pager:
    number: int
    count: int
    items: tuple[ArticleView, ...]
    url: str
    prev_url: str | None
    next_url: str | None


@dataclass(frozen=True)
class MarketPage:
    ref: MarketRef
    widget: WidgetView
    url: str
    articles: tuple[ArticleView, ...]


@dataclass(frozen=True)
class SiteInput:
    config: SiteConfig
    articles: Sequence[Article]  # the articles to publish, newest first
    bodies: Mapping[str, RenderedBody]  # by Article.path
    snapshot: Snapshot
    now: datetime
    extra_globals: Mapping[str, Any] = field(default_factory=dict)
    # Digest of everything besides the article and its widgets that an article page is
    # made from (layouts, static files, settings, options); "" turns page reuse off.
    fingerprint: str = ""


Seen = tuple[str, str]  # an article's (path, source_hash): what its content is known by


@dataclass
class RenderMemo:
    """What one build's renderer hands to the next build's in the same process.

    Everything in it depends only on the site fingerprint, the snapshot and the clock,
    plus (for the per-article entries) the article's own source, so it is valid while
    those three stay the same (`fits`); the dev server keeps one between rebuilds.
    """

    fingerprint: str
    snapshot: Snapshot
    now: datetime
    env: jinja2.Environment | None = None
    views: dict[tuple[str, str, float | None], WidgetView] = field(default_factory=dict)
    widget_html: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    digests: dict[tuple[str, str], str] = field(default_factory=dict)
    items: dict[Seen, Markup] = field(default_factory=dict)
    views_of: dict[Seen, ArticleView] = field(default_factory=dict)
    prints: dict[Seen, str] = field(default_factory=dict)
    shapes: dict[Seen, tuple[Any, ...]] = field(default_factory=dict)
    refs: dict[Seen, list[MarketRef | None]] = field(default_factory=dict)
    market_uses: dict[Seen, tuple[tuple[str, RefUse], ...]] = field(default_factory=dict)
    widget_tokens: dict[int, tuple[WidgetView, str]] = field(default_factory=dict)  # id(view) -> view, repr
    snapshot_json: str | None = None
    snapshot_digest: str | None = None
    # The articles the last build published, and for each article path the pages (other
    # than its own) whose context showed it: what an edit that moves nothing re-renders.
    published: Sequence[Article] | None = None
    showing: dict[str, set[str]] = field(default_factory=dict)
    # The last build's list views, and its topics and markets as positions in that list:
    # an edit that moves nothing leaves the groups as they were (see `only_showing`).
    listed: list[ArticleView] | None = None
    tag_index: dict[str, tuple[str, list[int]]] | None = None
    market_index: list[tuple[str, RefUse, list[int]]] | None = None

    @classmethod
    def for_input(cls, inp: SiteInput) -> RenderMemo:
        return cls(inp.fingerprint, inp.snapshot, inp.now)

    def fits(self, inp: SiteInput) -> bool:
        return self.fingerprint == inp.fingerprint and self.snapshot is inp.snapshot and self.now == inp.now


class _NoDigest(Exception):
    pass


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def seen(article: Article) -> Seen:
    return (article.path, article.source_hash)


def article_url(config: SiteConfig, article: Article) -> str:
    d = article.date.astimezone(config.tz)
    return config.permalink.format(
        year=f"{d.year:04d}", month=f"{d.month:02d}", day=f"{d.day:02d}", slug=article.slug
    )


def tag_url(tag: str) -> str:
    return f"/tags/{slugify(tag)}/"


def page_file(url: str) -> str:
    """Root-relative URL -> output path: "/a/b/" -> "a/b/index.html"."""
    path = url.lstrip("/")
    return path + "index.html" if path == "" or path.endswith("/") else path


def inline_refs(body: RenderedBody) -> list[MarketRef | None]:
    refs: list[MarketRef | None] = []
    for item in body.inline:
        try:
            refs.append(parse_ref(item.written))
        except RefError:
            refs.append(None)
    return refs


def summarise(article: Article, body: RenderedBody | None) -> str:
    if article.summary:
        return article.summary
    text = body.first_paragraph if body else ""
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS].rsplit(" ", 1)[0].rstrip(",;:—–-")
    return cut + "…"


def paginate(items: Sequence[ArticleView], per_page: int, base: str) -> list[Pager]:
    count = max(1, math.ceil(len(items) / per_page))

    def url(n: int) -> str:
        return base if n == 1 else f"{base}page/{n}/"

    return [
        Pager(
            number=n, count=count, items=tuple(items[(n - 1) * per_page : n * per_page]), url=url(n),
            prev_url=url(n - 1) if n > 1 else None, next_url=url(n + 1) if n < count else None,
        )
        for n in range(1, count + 1)
    ]


class SiteRenderer:
    """Renders one site; holds the widget cache (in `memo`). Create one per build.

    `keep(path, digest)` says whether the page at `path` rendered from a context with
    this digest is already in place; such pages are yielded with data None. The digest
    of each page is recorded in `page_digests`.
    """

    def __init__(self, inp: SiteInput, env: jinja2.Environment, layouts: Path, memo: RenderMemo | None = None,
                 keep: Callable[[str, str], bool] | None = None):
        self.inp, self.env, self.layouts = inp, env, layouts
        self.config = inp.config
        self.memo = memo if memo is not None and memo.fits(inp) else RenderMemo.for_input(inp)
        self._views = self.memo.views
        self._widget_html = self.memo.widget_html
        self._digests = self.memo.digests
        self._items = self.memo.items
        self.keep = keep if inp.fingerprint else None
        self.page_digests: dict[str, str] = {}
        self.only: set[str] | None = None  # render only these pages (see `only_showing`)
        self._tags: tuple[Sequence[ArticleView], dict[str, tuple[str, list[ArticleView]]]] | None = None
        self._digesting = ""
        self.env.globals.update(site=self.config, **dict(inp.extra_globals))
        self.env.globals.setdefault("asset_url", lambda path: "/" + path.lstrip("/"))
        self.env.globals["article_item"] = self.article_item

    # --- widgets -----------------------------------------------------------------------

    def widget(self, written: str, ref: MarketRef, published: datetime | None = None) -> WidgetView:
        """The view of one widget; the same reference at the same published price is built once."""
        quote = self.inp.snapshot.get(ref.key)
        price = quote.price_at(published) if quote is not None and published is not None else None
        key = (written, ref.key, price)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = widget_view(
                written, ref, quote, now=self.inp.now, stale_after_s=self.config.stale_after_s,
                low_volume=self.config.low_volume, published=published,
            )
        return view

    def widget_html(self, view: WidgetView, variant: str) -> str:
        key = (view.written, view.key, view.published_pct, variant)
        html = self._widget_html.get(key)
        if html is None:
            name = "partials/widget_text.html" if variant == "text" else "partials/widget.html"
            html = self._widget_html[key] = self._render(name, w=view, variant=variant).strip()
        return html

    def market_digest(self, written: str, ref: MarketRef) -> str:
        """Digest of what a widget shows of a market, apart from the price when published."""
        key = (written, ref.key)
        digest = self._digests.get(key)
        if digest is None:
            view = self.widget(written, ref)
            digest = self._digests[key] = hashlib.blake2b(repr(view).encode(), digest_size=16).hexdigest()
        return digest

    def article_fingerprint(self, article: Article) -> str:
        """Digest of every input of an article's page and list item.

        An article page is made from the article, its widgets, the site fingerprint and
        the clock (through `future` and stale quotes, both in the widget views) only; a
        layout that showed other articles on it would have to be added here.
        """
        known = self.memo.prints.get(seen(article))
        if known is None:
            known = self.memo.prints[seen(article)] = self._fingerprint(article)
            self.memo.shapes[seen(article)] = self._shape(article)
        return known

    def _fingerprint(self, article: Article) -> str:
        parts = [self.inp.fingerprint, article.path, article.source_hash, str(article.date > self.inp.now)]
        body = self.inp.bodies.get(article.path)
        uses = [(u.written, u.ref) for u in article.markets]
        if body is not None:
            uses += [(i.written, r) for i, r in zip(body.inline, self.inline_refs(article), strict=True)
                     if r is not None]
        for written, ref in uses:
            quote = self.inp.snapshot.get(ref.key)
            price = quote.price_at(article.date) if quote is not None else None
            parts += [written, self.market_digest(written, ref), repr(price)]
        return hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).hexdigest()

    # --- views -------------------------------------------------------------------------

    def article_view(self, article: Article, body_variant: str = "inline") -> ArticleView:
        """An article with its body, inline widgets filled in (as text for feeds)."""
        view = self.listed_view(article)
        body = self.inp.bodies.get(article.path)
        if body is None:
            return view
        refs = self.inline_refs(article)

        def fill(i: int) -> str:
            ref = refs[i] if i < len(refs) else None
            if ref is None:
                return ""
            return self.widget_html(self.widget(body.inline[i].written, ref, article.date), body_variant)

        return replace(view, body_html=fill_placeholders(body.html, fill))

    def inline_refs(self, article: Article) -> list[MarketRef | None]:
        refs = self.memo.refs.get(seen(article))
        if refs is None:
            body = self.inp.bodies.get(article.path)
            refs = self.memo.refs[seen(article)] = inline_refs(body) if body is not None else []
        return refs

    def _render(self, name: str, **context: Any) -> str:
        context.setdefault("widget", self.widget_html)
        return render(self.env, name, self.layouts, **context)

    def _page(self, name: str, url: str, **context: Any) -> OutputFile:
        return self._file(name, page_file(url), page_url=url, **context)

    def _file(self, name: str, path: str, **context: Any) -> OutputFile:
        """Render a template into the file at `path`, unless `keep` says it is in place."""
        if self.only is not None:  # see only_showing: render these, skip the rest
            if path not in self.only:
                return OutputFile(path, None)
        elif self.keep is not None:
            try:
                digest = self.page_digests[path] = self.context_digest(name, path, context)
            except _NoDigest:
                pass
            else:
                if self.keep(path, digest):
                    return OutputFile(path, None)
        return OutputFile(path, self._render(name, **context).encode("utf-8"))

    # --- reuse -------------------------------------------------------------------------

    def _shape(self, article: Article) -> tuple[Any, ...]:
        """Everything about an article that decides which pages list it, and where, and
        that pages show of it outside its list item: URL, dates, draft, tags, markets."""
        body = self.inp.bodies.get(article.path)
        inline = tuple((i.written, r.key if r else None) for i, r in zip(body.inline, self.inline_refs(article),
                                                                         strict=True)) if body else ()
        return (article.path, article_url(self.config, article), article.date, article.updated, article.draft,
                article.date > self.inp.now, article.tags, tuple((u.written, u.ref.key) for u in article.markets),
                inline)

    def only_showing(self, articles: Sequence[Article]) -> list[tuple[int, Article]] | None:
        """When `articles` differ from the last build's published ones only in the content
        of some (none added, removed or moved; see `_shape`): those, after restricting
        `other_pages` to the pages that showed them, which it then renders without looking
        at digests. Else None: everything must be looked at."""
        before = self.memo.published
        if before is None or len(before) != len(articles):
            return None
        changed: list[tuple[int, Article]] = []
        for i, (old, new) in enumerate(zip(before, articles, strict=True)):
            if old is not new:
                self.article_fingerprint(new)  # records its shape
                if self.memo.shapes.get(seen(old)) != self.memo.shapes[seen(new)]:
                    return None
                changed.append((i, new))
        self.only = set().union(*(self.memo.showing.get(a.path, set()) for _, a in changed))
        return changed

    def context_digest(self, name: str, path: str, context: Mapping[str, Any]) -> str:
        """Digest of everything a page is rendered from: the site fingerprint (layouts,
        static files, settings), the template, and the context, in which an article
        stands for its fingerprint, a widget for its view and the snapshot for its JSON."""
        parts = [self.inp.fingerprint, name, path]
        self._digesting = path
        self._digest_parts(context, parts)
        return hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).hexdigest()

    def _digest_parts(self, value: Any, out: list[str]) -> None:
        kind = type(value)
        if kind is ArticleView:
            out.append(self._view_token(value))
        elif kind is str or kind is int or kind is float or kind is bool or value is None:
            out.append(repr(value))
        elif kind is tuple or kind is list:
            out.append("[")
            for item in value:
                if type(item) is ArticleView:  # the common case, inlined: lists of articles
                    out.append(self._view_token(item))
                else:
                    self._digest_parts(item, out)
            out.append("]")
        elif isinstance(value, Mapping):
            out.append("{")
            for key in sorted(value):
                out.append(repr(key))
                self._digest_parts(value[key], out)
            out.append("}")
        elif kind is WidgetView:
            known = self.memo.widget_tokens.get(id(value))
            if known is None or known[0] is not value:  # holding the view keeps its id from being reused
                known = self.memo.widget_tokens[id(value)] = (value, repr(value))
            out.append(known[1])
        elif kind is Snapshot:
            out.append(self.snapshot_digest() if value is self.inp.snapshot else snapshot_to_json(value))
        elif kind is datetime:
            out.append(value.isoformat())
        elif is_dataclass(value) and not isinstance(value, type):
            names = _FIELD_NAMES.get(kind)
            if names is None:
                names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(value))
            out.append(kind.__name__)
            for name in names:
                self._digest_parts(getattr(value, name), out)
        else:  # a value the digest cannot vouch for (a callable, say): render the page
            raise _NoDigest

    def _view_token(self, view: ArticleView) -> str:
        pages = self.memo.showing.get(view.article.path)
        if pages is None:
            pages = self.memo.showing[view.article.path] = set()
        pages.add(self._digesting)
        token = self.article_fingerprint(view.article)
        if view.body_html:
            token += hashlib.blake2b(view.body_html.encode(), digest_size=16).hexdigest()
        return token

    def snapshot_json(self) -> str:
        if self.memo.snapshot_json is None:
            self.memo.snapshot_json = snapshot_to_json(self.inp.snapshot)
        return self.memo.snapshot_json

    def snapshot_digest(self) -> str:
        if self.memo.snapshot_digest is None:
            self.memo.snapshot_digest = hashlib.blake2b(self.snapshot_json().encode(), digest_size=16).hexdigest()
        return self.memo.snapshot_digest

    def snapshot_file(self) -> OutputFile:
        if self.only is not None:
            return OutputFile("snapshot.json", None)
        if self.keep is not None:
            digest = self.page_digests["snapshot.json"] = self.snapshot_digest()
            if self.keep("snapshot.json", digest):
                return OutputFile("snapshot.json", None)
        return OutputFile("snapshot.json", self.snapshot_json().encode("utf-8"))

    # --- the site ----------------------------------------------------------------------

    def article_page(self, article: Article) -> tuple[OutputFile, ArticleView]:
        """An article's page, and its view without the body for the list pages."""
        view = self.article_view(article)
        html = self._render("article.html", page_url=view.url, a=view)
        return OutputFile(page_file(view.url), html.encode("utf-8")), self.listed_view(article)

    def listed_view(self, article: Article) -> ArticleView:
        """An article as list pages need it: widgets and links, no body."""
        view = self.memo.views_of.get(seen(article))
        if view is None:
            view = self.memo.views_of[seen(article)] = self._listed_view(article)
        return view

    def _listed_view(self, article: Article) -> ArticleView:
        body = self.inp.bodies.get(article.path)
        return ArticleView(
            article=article, url=article_url(self.config, article), title=article.title,
            summary=summarise(article, body), authors=article.authors,
            tags=tuple(TagLink(t, tag_url(t)) for t in article.tags),
            related=tuple(self.widget(u.written, u.ref, article.date) for u in article.markets),
            body_html="", date=article.date, updated=article.updated, image=article.image,
            image_alt=article.image_alt or "", draft=article.draft, future=article.date > self.inp.now,
        )

    def seed_item(self, view: ArticleView, html: str) -> None:
        """Adopt a list item rendered elsewhere (by a worker process)."""
        self._items[seen(view.article)] = Markup(html)

    def article_item(self, view: ArticleView) -> Markup:
        """An article as list pages show it, rendered once however many lists it is on."""
        html = self._items.get(seen(view.article))
        if html is None:
            html = self._items[seen(view.article)] = Markup(self._render("partials/article_item.html", a=view))
        return html

    def files(self) -> Iterator[OutputFile]:
        """Every file of the site, article pages first."""
        listed: list[ArticleView] = []
        for article in self.inp.articles:
            page, view = self.article_page(article)
            listed.append(view)
            yield page
        yield from self.other_pages(listed)

    def other_pages(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        """Everything but the article pages, from the articles' body-less views (newest first)."""
        yield from self.index_pages(listed)
        yield from self.tag_pages(listed)
        market_pages = self.market_pages(listed)
        for page in market_pages:
            yield self._page("market.html", page.url, market=page)
        ranked = sorted(market_pages, key=lambda m: (m.widget.state == "unavailable", m.widget.question.lower()))
        yield self._page("markets.html", "/markets/", markets=ranked, snapshot=self.inp.snapshot)
        yield self._page("404.html", "/404.html")
        yield from self.feeds(listed)
        yield from self.sitemaps(listed, market_pages)
        yield self.snapshot_file()

    def index_pages(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        for pager in paginate(listed, self.config.per_page, "/"):
            yield self._page("index.html", pager.url, pager=pager)

    def tags_of(self, listed: Sequence[ArticleView]) -> dict[str, tuple[str, list[ArticleView]]]:
        """Tag URL -> (display name, its articles newest first)."""
        if self._tags is not None and self._tags[0] is listed:  # tag pages and sitemap ask for the same
            return self._tags[1]
        index = self.memo.tag_index
        if self.only is None or index is None:
            groups: dict[str, tuple[str, list[int]]] = {}
            for i, v in enumerate(listed):
                for t in v.tags:
                    groups.setdefault(t.url, (t.name, []))[1].append(i)
            index = self.memo.tag_index = dict(sorted(groups.items()))
        found = {url: (name, [listed[i] for i in at]) for url, (name, at) in index.items()}
        self._tags = (listed, found)
        return found

    def tag_pages(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        tags = self.tags_of(listed)
        for url, (name, items) in tags.items():
            for pager in paginate(items, self.config.per_page, url):
                yield self._page("tag.html", pager.url, tag=name, pager=pager)
        index = sorted(((name, url, len(items)) for url, (name, items) in tags.items()), key=lambda x: x[0].lower())
        yield self._page("tags.html", "/tags/", tags=index)

    def market_uses(self, article: Article) -> tuple[tuple[str, RefUse], ...]:
        """The market pages an article is listed on, each with its first use there, in order."""
        known = self.memo.market_uses.get(seen(article))
        if known is None:
            body = self.inp.bodies.get(article.path)
            uses = list(article.markets)
            if body is not None:
                for item, ref in zip(body.inline, self.inline_refs(article), strict=True):
                    if ref is not None:
                        uses.append(RefUse(ref, item.written, item.line))
            pages: dict[str, RefUse] = {}
            for use in uses:
                pages.setdefault(use.ref.page_path, use)
            known = self.memo.market_uses[seen(article)] = tuple(pages.items())
        return known

    def market_pages(self, listed: Sequence[ArticleView]) -> list[MarketPage]:
        """One page per referenced market or event, listing the articles that reference it."""
        index = self.memo.market_index
        if self.only is None or index is None:
            markets: dict[str, tuple[RefUse, list[int]]] = {}
            for i, v in enumerate(listed):
                for path, use in self.market_uses(v.article):
                    markets.setdefault(path, (use, []))[1].append(i)
            index = self.memo.market_index = [(path, use, at) for path, (use, at) in sorted(markets.items())]
        return [
            MarketPage(use.ref, self.widget(use.written, use.ref), "/" + path, tuple([listed[i] for i in at]))
            for path, use, at in index
        ]

    def feeds(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        items = [self.article_view(v.article, "text") for v in listed[: self.config.feed_entries]]
        yield self._file("feed.xml", "feed.xml", items=items)

    def sitemaps(self, listed: Sequence[ArticleView], market_pages: Sequence[MarketPage]) -> Iterator[OutputFile]:
        if self.only is not None and "sitemap.xml" not in self.only:  # spare listing every URL for nothing
            yield OutputFile("sitemap.xml", None)
            yield self._file("robots.txt", "robots.txt")
            return
        urls = (
            [("/", listed[0].article.modified if listed else None)]
            + [(v.url, v.article.modified) for v in listed]
            + [(url, None) for url in self.tags_of(listed)]
            + [(m.url, None) for m in market_pages]
        )
        yield self._file("sitemap.xml", "sitemap.xml", urls=urls)
        yield self._file("robots.txt", "robots.txt")


def render_site(inp: SiteInput, env: jinja2.Environment, layouts: Path) -> Iterator[OutputFile]:
    return SiteRenderer(inp, env, layouts).files()


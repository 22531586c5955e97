"""Articles + rendered bodies + one snapshot -> every output file of the site. Pure.

`render_site` yields `OutputFile`s in a stable order; given the same inputs and `now`
it yields the same bytes. Widget HTML is rendered once per distinct widget and reused
on every page that shows it. Pages, feeds and sitemaps are emitted here; the static
files (and their fingerprinted copies, see `assets`) are the pipeline's to add.

Only `/markets/` and `/snapshot.json` carry the snapshot's time, so an hourly rebuild
leaves a page byte-identical unless something a reader sees on it changed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import jinja2
from markupsafe import Markup

from marketnews.assets import Assets
from marketnews.config import SiteConfig
from marketnews.content import Article, RefUse, slugify
from marketnews.feeds import FeedInfo, absolute_links, feed_path, feed_url
from marketnews.markets.model import Snapshot, snapshot_to_json
from marketnews.markets.refs import MarketRef, RefError, parse_ref
from marketnews.markup import RenderedBody, fill_placeholders
from marketnews.output import OutputFile as OutputFile  # re-exported: OutputFile lived here first
from marketnews.seo import FeedLink, PageMeta, absolute_url, card_image, iso, news_article, script_json
from marketnews.sitemaps import MAX_URLS, NEWS_WINDOW, NewsEntry, SitemapEntry, news_sitemap, sitemap_files
from marketnews.templating import render
from marketnews.widgets import WidgetView, widget_view

SUMMARY_CHARS = 220


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
    assets: Assets = field(default_factory=Assets)  # static files and their fingerprinted names
    sitemap_max_urls: int = MAX_URLS  # more URLs than this split sitemap.xml under an index
    news_window: timedelta = NEWS_WINDOW
    # Digest of everything besides the article and its widgets that an article page is
    # made from (layouts, static files, settings, options); "" turns page reuse off.
    fingerprint: str = ""


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


class PageReuse(Protocol):
    """Lets the renderer skip a page whose inputs did not change since the last build."""

    def keep(self, path: str, fingerprint: str) -> bool:
        """True when the file the last build wrote at `path` came from the same fingerprint."""
        ...

    def record(self, path: str, fingerprint: str, size: int, item: str = "") -> None:
        """Note what this build wrote (or kept) at `path`."""
        ...


class SiteRenderer:
    """Renders one site; holds the per-build widget cache. Create one per build."""

    def __init__(self, inp: SiteInput, env: jinja2.Environment, layouts: Path, reuse: PageReuse | None = None):
        self.inp, self.env, self.layouts, self.reuse = inp, env, layouts, reuse
        self._fingerprints: dict[str, str] = {}
        self.config = inp.config
        self._views: dict[tuple[str, str, float | None], WidgetView] = {}
        self._widget_html: dict[tuple[str, str, str, str], str] = {}
        self._items: dict[str, Markup] = {}
        self._digests: dict[tuple[str, str], str] = {}
        self.env.globals.update(site=self.config, asset_url=inp.assets.url, **dict(inp.extra_globals))
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
                low_volume=self.config.low_volume, published=published, tz=self.config.tz,
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
        fp = self._fingerprints.get(article.path)
        if fp is None:
            fp = self._fingerprints[article.path] = self._article_fingerprint(article)
        return fp

    def list_fingerprint(self, *parts: object, articles: Sequence[ArticleView] = ()) -> str:
        """Digest of a list page: what it is, and the fingerprints of the articles it lists."""
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((self.inp.fingerprint, parts)).encode())
        for v in articles:
            h.update(self.article_fingerprint(v.article).encode())
        return h.hexdigest()

    def _article_fingerprint(self, article: Article) -> str:
        """Digest of every input of an article's page and list item.

        An article page is made from the article, its widgets, the site fingerprint and
        the clock (through `future` and stale quotes, both in the widget views) only; a
        layout that showed other articles on it would have to be added here.
        """
        parts = [self.inp.fingerprint, article.path, article.source_hash, str(article.date > self.inp.now)]
        body = self.inp.bodies.get(article.path)
        uses = [(u.written, u.ref) for u in article.markets]
        if body is not None:
            uses += [(i.written, r) for i, r in zip(body.inline, inline_refs(body), strict=True) if r is not None]
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
        refs = inline_refs(body)

        def fill(i: int) -> str:
            ref = refs[i] if i < len(refs) else None
            if ref is None:
                return ""
            return self.widget_html(self.widget(body.inline[i].written, ref, article.date), body_variant)

        html = fill_placeholders(body.html, fill)
        if body_variant != "text":  # pages point at fingerprinted files; feeds keep stable names
            html = self.inp.assets.rewrite_html(html)
        return replace(view, body_html=html)

    def _render(self, name: str, **context: Any) -> str:
        context.setdefault("widget", self.widget_html)
        return render(self.env, name, self.layouts, **context)

    def _page(self, name: str, url: str, meta: PageMeta, fingerprint: str = "", **context: Any) -> OutputFile:
        """Render a page, or keep last build's when its fingerprint is unchanged."""
        path = page_file(url)
        reuse = self.reuse if fingerprint and self.inp.fingerprint else None
        if reuse is not None and reuse.keep(path, fingerprint):
            return OutputFile(path, None)
        data = self._render(name, page_url=url, meta=meta, **context).encode("utf-8")
        if reuse is not None:
            reuse.record(path, fingerprint, len(data))
        return OutputFile(path, data)

    # --- metadata ----------------------------------------------------------------------

    def meta(self, title: str, url: str, description: str = "", **more: Any) -> PageMeta:
        """A page's head metadata: canonical URL, description and social card."""
        image, alt = card_image(self.config, None)
        values: dict[str, Any] = {"image": image, "image_alt": alt}
        values.update(more)
        return PageMeta(title=title, description=description or self.config.description,
                        url=absolute_url(self.config.base_url, url) if url else "", **values)

    def article_meta(self, view: ArticleView) -> PageMeta:
        cfg, tz = self.config, self.config.tz
        url = absolute_url(cfg.base_url, view.url)
        published, modified = iso(view.date, tz), iso(view.article.modified, tz)
        image, alt = card_image(cfg, view.article.image, view.image_alt)
        own_image = absolute_url(cfg.base_url, view.article.image) if view.article.image else image
        doc = news_article(
            cfg, url=url, headline=view.title, description=view.summary, published=published,
            modified=modified, authors=view.authors, images=[own_image] if own_image else [],
            tags=[t.name for t in view.tags],
        )
        return self.meta(
            view.title, view.url, view.summary, type="article", image=image, image_alt=alt,
            published=published, modified=modified, tags=tuple(t.name for t in view.tags),
            jsonld=script_json(doc), noindex=view.draft or view.future,
        )

    # --- the site ----------------------------------------------------------------------

    def article_page(self, article: Article) -> tuple[OutputFile, ArticleView]:
        """An article's page, and its view without the body for the list pages."""
        view = self.article_view(article)
        page = self._page("article.html", view.url, self.article_meta(view), a=view)
        return page, replace(view, body_html="")

    def listed_view(self, article: Article) -> ArticleView:
        """An article as list pages need it: widgets and links, no body."""
        body = self.inp.bodies.get(article.path)
        return ArticleView(
            article=article, url=article_url(self.config, article), title=article.title,
            summary=summarise(article, body), authors=article.authors,
            tags=tuple(TagLink(t, tag_url(t)) for t in article.tags),
            related=tuple(self.widget(u.written, u.ref, article.date) for u in article.markets),
            body_html="", date=article.date, updated=article.updated,
            image=self.inp.assets.resolve(article.image) if article.image else None,
            image_alt=article.image_alt or "", draft=article.draft, future=article.date > self.inp.now,
        )

    def seed_item(self, view: ArticleView, html: str) -> None:
        """Adopt a list item rendered elsewhere (by a worker process)."""
        self._items[view.url] = Markup(html)

    def article_item(self, view: ArticleView) -> Markup:
        """An article as list pages show it, rendered once however many lists it is on."""
        html = self._items.get(view.url)
        if html is None:
            html = self._items[view.url] = Markup(self._render("partials/article_item.html", a=view))
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
            w = page.widget
            meta = self.meta(w.question, page.url, f"{w.question}: {w.summary}. Our stories on this market.")
            fp = self.list_fingerprint("market", page.url, self.market_digest(w.written, page.ref),
                                       articles=page.articles)
            yield self._page("market.html", page.url, meta, fp, market=page)
        ranked = sorted(market_pages, key=lambda m: (m.widget.state == "unavailable", m.widget.question.lower()))
        meta = self.meta("Markets", "/markets/", "Every prediction market our stories cover, with its current odds.")
        yield self._page("markets.html", "/markets/", meta, markets=ranked, snapshot=self.inp.snapshot)
        yield self._page("404.html", "/404.html", self.meta("Page not found", "", noindex=True))
        yield from self.feeds(listed)
        yield from self.sitemaps(listed, market_pages)
        yield OutputFile("robots.txt", self._render("robots.txt").encode("utf-8"))
        yield OutputFile("snapshot.json", snapshot_to_json(self.inp.snapshot).encode("utf-8"))

    def index_pages(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        cfg = self.config
        for pager in paginate(listed, cfg.per_page, "/"):
            title = cfg.title if pager.number == 1 else f"{cfg.title}, page {pager.number}"
            fp = self.list_fingerprint("index", pager.number, pager.count, articles=pager.items)
            yield self._page("index.html", pager.url, self.meta(title, pager.url), fp, pager=pager)

    @staticmethod
    def tags_of(listed: Sequence[ArticleView]) -> dict[str, tuple[str, list[ArticleView]]]:
        """Tag URL -> (display name, its articles newest first)."""
        tags: dict[str, tuple[str, list[ArticleView]]] = {}
        for v in listed:
            for t in v.tags:
                tags.setdefault(t.url, (t.name, []))[1].append(v)
        return dict(sorted(tags.items()))

    def tag_pages(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        tags = self.tags_of(listed)
        for url, (name, items) in tags.items():
            feed = FeedLink(f"{self.config.title}: {name}", feed_url(url))
            description = f"Stories about {name}, with the odds of the markets they cover."
            for pager in paginate(items, self.config.per_page, url):
                title = name if pager.number == 1 else f"{name}, page {pager.number}"
                meta = self.meta(title, pager.url, description, feeds=(feed,))
                fp = self.list_fingerprint("tag", name, pager.number, pager.count, articles=pager.items)
                yield self._page("tag.html", pager.url, meta, fp, tag=name, pager=pager, feed_url=feed.url)
        index = sorted(((name, url, len(items)) for url, (name, items) in tags.items()), key=lambda x: x[0].lower())
        yield self._page("tags.html", "/tags/", self.meta("Topics", "/tags/"), tags=index)

    def market_pages(self, listed: Sequence[ArticleView]) -> list[MarketPage]:
        """One page per referenced market or event, listing the articles that reference it."""
        markets: dict[str, tuple[RefUse, list[ArticleView]]] = {}
        for v in listed:
            seen: set[str] = set()
            body = self.inp.bodies.get(v.article.path)
            uses = list(v.article.markets)
            if body is not None:
                for item, ref in zip(body.inline, inline_refs(body), strict=True):
                    if ref is not None:
                        uses.append(RefUse(ref, item.written, item.line))
            for use in uses:
                path = use.ref.page_path
                if path not in seen:
                    seen.add(path)
                    markets.setdefault(path, (use, []))[1].append(v)
        return [
            MarketPage(use.ref, self.widget(use.written, use.ref), "/" + path, tuple(items))
            for path, (use, items) in sorted(markets.items())
        ]

    def feeds(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        """The site-wide Atom feed and one per topic: full articles, odds as text, absolute links."""
        cfg = self.config
        text_views: dict[str, ArticleView] = {}

        def entry(v: ArticleView) -> ArticleView:
            hit = text_views.get(v.article.path)
            if hit is None:
                full = self.article_view(v.article, "text")
                hit = replace(full, body_html=absolute_links(full.body_html, cfg.base_url))
                text_views[v.article.path] = hit
            return hit

        feeds = [(FeedInfo(cfg.title, "/feed.xml", "/"), list(listed))]
        feeds += [(FeedInfo(f"{cfg.title}: {name}", feed_url(url), url), items)
                  for url, (name, items) in self.tags_of(listed).items()]
        for info, items in feeds:
            entries = [entry(v) for v in items[: cfg.feed_entries]]
            xml = self._render("feed.xml", feed=info, items=entries)
            yield OutputFile(feed_path(info.url), xml.encode("utf-8"))

    def sitemaps(self, listed: Sequence[ArticleView], market_pages: Sequence[MarketPage]) -> Iterator[OutputFile]:
        """`sitemap.xml` (an index past the size limit) and the Google News sitemap.

        A list page's lastmod is its newest article's: a market page's odds change every
        hour, but what a search engine should re-read it for is new coverage.
        """

        def newest(items: Sequence[ArticleView]) -> datetime | None:
            return max((v.article.modified for v in items), default=None)

        entries = (
            [SitemapEntry("/", newest(listed))]
            + [SitemapEntry(v.url, v.article.modified) for v in listed]
            + [SitemapEntry("/tags/", newest(listed))]
            + [SitemapEntry(url, newest(items)) for url, (_, items) in self.tags_of(listed).items()]
            + [SitemapEntry("/markets/", newest(listed))]
            + [SitemapEntry(m.url, newest(m.articles)) for m in sorted(market_pages, key=lambda m: m.url)]
        )
        yield from sitemap_files(entries, self.config.base_url, self.inp.sitemap_max_urls)
        news = [NewsEntry(v.url, v.title, v.date) for v in listed if not v.draft]
        yield news_sitemap(news, self.config.base_url, self.config.title, self.config.language,
                           self.inp.now, self.inp.news_window)


def render_site(inp: SiteInput, env: jinja2.Environment, layouts: Path) -> Iterator[OutputFile]:
    return SiteRenderer(inp, env, layouts).files()


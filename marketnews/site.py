"""Articles + rendered bodies + one snapshot -> every output file of the site. Pure.

`render_site` yields `OutputFile`s in a stable order; given the same inputs and `now`
it yields the same bytes. Widget HTML is rendered once per distinct widget and reused
on every page that shows it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

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
    data: bytes


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
    """Renders one site; holds the per-build widget cache. Create one per build."""

    def __init__(self, inp: SiteInput, env: jinja2.Environment, layouts: Path):
        self.inp, self.env, self.layouts = inp, env, layouts
        self.config = inp.config
        self._widget_html: dict[tuple[WidgetView, str], str] = {}
        self.env.globals.update(site=self.config, **dict(inp.extra_globals))
        self.env.globals.setdefault("asset_url", lambda path: "/" + path.lstrip("/"))

    # --- widgets -----------------------------------------------------------------------

    def widget(self, use_written: str, ref: MarketRef, published: datetime | None = None) -> WidgetView:
        return widget_view(
            use_written, ref, self.inp.snapshot.get(ref.key), now=self.inp.now,
            stale_after_s=self.config.stale_after_s, low_volume=self.config.low_volume,
            published=published,
        )

    def widget_html(self, view: WidgetView, variant: str) -> str:
        key = (view, variant)
        html = self._widget_html.get(key)
        if html is None:
            name = "partials/widget_text.html" if variant == "text" else "partials/widget.html"
            html = self._render(name, w=view, variant=variant).strip()
            self._widget_html[key] = html
        return html

    # --- views -------------------------------------------------------------------------

    def article_view(self, article: Article, body_variant: str = "inline") -> ArticleView:
        body = self.inp.bodies.get(article.path)
        related = tuple(self.widget(u.written, u.ref, article.date) for u in article.markets)
        html = ""
        if body is not None:
            refs = inline_refs(body)

            def fill(i: int) -> str:
                ref = refs[i] if i < len(refs) else None
                if ref is None:
                    return ""
                view = self.widget(body.inline[i].written, ref, article.date)
                return self.widget_html(view, body_variant)

            html = fill_placeholders(body.html, fill)
        return ArticleView(
            article=article, url=article_url(self.config, article), title=article.title,
            summary=summarise(article, body), authors=article.authors,
            tags=tuple(TagLink(t, tag_url(t)) for t in article.tags), related=related,
            body_html=html, date=article.date, updated=article.updated, image=article.image,
            image_alt=article.image_alt or "", draft=article.draft,
            future=article.date > self.inp.now,
        )

    def _render(self, name: str, **context: Any) -> str:
        context.setdefault("widget", self.widget_html)
        return render(self.env, name, self.layouts, **context)

    def _page(self, name: str, url: str, **context: Any) -> OutputFile:
        html = self._render(name, page_url=url, **context)
        return OutputFile(page_file(url), html.encode("utf-8"))

    # --- the site ----------------------------------------------------------------------

    def files(self) -> Iterator[OutputFile]:
        cfg = self.config
        # Lists show articles without their bodies: keep only the body-less view, so
        # memory stays flat however many articles there are.
        listed: list[ArticleView] = []
        for article in self.inp.articles:
            view = self.article_view(article)
            yield self._page("article.html", view.url, a=view)
            listed.append(replace(view, body_html=""))
        for pager in paginate(listed, cfg.per_page, "/"):
            yield self._page("index.html", pager.url, pager=pager)

        tags: dict[str, tuple[str, list[ArticleView]]] = {}
        for v in listed:
            for t in v.tags:
                tags.setdefault(t.url, (t.name, []))[1].append(v)
        tag_index = sorted(((name, url, len(items)) for url, (name, items) in tags.items()),
                           key=lambda x: x[0].lower())
        for url, (name, items) in sorted(tags.items()):
            for pager in paginate(items, cfg.per_page, url):
                yield self._page("tag.html", pager.url, tag=name, pager=pager)
        yield self._page("tags.html", "/tags/", tags=tag_index)

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
        market_pages: list[MarketPage] = []
        for path, (use, items) in sorted(markets.items()):
            page = MarketPage(use.ref, self.widget(use.written, use.ref), "/" + path, tuple(items))
            market_pages.append(page)
            yield self._page("market.html", page.url, market=page)
        market_pages.sort(key=lambda m: (m.widget.state == "unavailable", m.widget.question.lower()))
        yield self._page("markets.html", "/markets/", markets=market_pages,
                         snapshot=self.inp.snapshot)

        yield self._page("404.html", "/404.html")
        feed_items = [self.article_view(v.article, "text") for v in listed[: cfg.feed_entries]]
        yield OutputFile("feed.xml", self._render("feed.xml", items=feed_items).encode("utf-8"))
        sitemap_pages = (
            [("/", listed[0].article.modified if listed else None)]
            + [(v.url, v.article.modified) for v in listed]
            + [(url, None) for url in sorted(tags)]
            + [(m.url, None) for m in market_pages]
        )
        yield OutputFile("sitemap.xml", self._render("sitemap.xml", urls=sitemap_pages).encode("utf-8"))
        yield OutputFile("robots.txt", self._render("robots.txt").encode("utf-8"))
        yield OutputFile("snapshot.json", snapshot_to_json(self.inp.snapshot).encode("utf-8"))


def render_site(inp: SiteInput, env: jinja2.Environment, layouts: Path) -> Iterator[OutputFile]:
    return SiteRenderer(inp, env, layouts).files()


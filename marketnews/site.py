"""Articles + rendered bodies + one snapshot -> every output file of the site. Pure.

`SiteRenderer` makes every page (`article_page`, `other_pages`; `pipeline.site_files`
drives it, sharing the work among processes); given the same inputs and `now` it
yields the same bytes. Widget HTML is rendered once per distinct widget and reused
on every page that shows it. An article page is its `Shell` (the page with a slot for
each widget) filled with the widgets: the shell outlives price moves, so the hourly
build fills the last build's shells instead of rendering the pages. Pages, feeds and
sitemaps are emitted here; the static files (and their fingerprinted copies, see
`assets`) are the pipeline's to add.

Only `/markets/` and `/snapshot.json` carry the snapshot's time, so an hourly rebuild
leaves a page byte-identical unless something a reader sees on it changed.

Between builds in one process (the dev server), a `RenderMemo` carries widget views,
list items, fingerprints and the Jinja environment over, and records which pages show
each article, so that an edit which moves nothing re-renders only those (`only_showing`).
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import re
import secrets
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import unquote

import jinja2
from markupsafe import Markup, escape

from marketnews.assets import Assets
from marketnews.cache import memo_key, pack
from marketnews.cards import (
    HEIGHT,
    WIDTH,
    Card,
    article_card,
    card_alt,
    card_digest,
    card_file,
    draw,
    from_memo,
    renderer,
    to_memo,
)
from marketnews.cards import site_card as make_site_card
from marketnews.config import SiteConfig
from marketnews.content import Article, RefUse
from marketnews.errors import TemplateError
from marketnews.feeds import FeedInfo, absolute_links, feed_url
from marketnews.images import image_size
from marketnews.markets.model import Snapshot, snapshot_to_json
from marketnews.markets.refs import MarketRef
from marketnews.markup import RenderedBody, fill_placeholders
from marketnews.names import tag_slug, url_segment
from marketnews.output import OutputFile
from marketnews.related import Move, Story, biggest_moves, more_stories
from marketnews.seo import RASTER, FeedLink, PageMeta, absolute_url, card_image, iso, news_article, script_json
from marketnews.sitemaps import (
    MAX_URLS,
    NEWS_SITEMAP,
    NEWS_WINDOW,
    NewsEntry,
    SitemapEntry,
    news_sitemap,
    sitemap_files,
)
from marketnews.templating import render
from marketnews.topics import topic_name
from marketnews.widgets import (
    WidgetView,
    at_publication,
    identity,
    market_view,
    odds_note,
    odds_statement,
    view_digest,
    with_published,
)

SUMMARY_CHARS = 220
# The SHA-256 of partials/odds_asof.html as shipped, after its leading comment (`template_code`):
# all of it inside one `{% if stale %}`, so it says nothing of a group of current odds, and
# `SiteRenderer.odds_asof` renders it once for each set of markets not current. Every
# version shipped so far differs from the others only in that comment. A test holds this to the file.
QUIET_ASOF = frozenset({"cad94a89cb68e425e91a2166db890d1e91bfae19f10e472ad2e4239cb63e23b2"})
_LEADING_COMMENT = re.compile(r"\A\{#.*?#\}", re.S)
LATEST_ON_404 = 6  # headlines on the "page not found" page


@dataclass(frozen=True)
class TagLink:
    name: str  # as readers see it (topics.topic_name)
    url: str
    term: str = ""  # as the article wrote it: a feed's category term


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


Slot = tuple[str, str, str]  # a widget on an article page: (reference as written, market key, variant)
CARD_SLOTS = ("card-url", "card-alt")  # the variants of the share card's slots (with "" for reference and key)
NOTE = "note"  # the slot of an article's "odds as of" line, which depends on all its related odds
# A list page's frame (see SiteRenderer.framed) has two kinds of slot: an article's list item
# (the key is its position in the pager) and an "odds as of" line (the key lists its markets).
ITEM, ASOF = "item", "asof"
PUBLISHED_SLOT = "\x00mn:published\x00"  # in a market's widget fragment: an article's price at publication
_SLOT = re.compile("\x00mn:([0-9]+)\x00")


def _fragment_key(view: WidgetView, variant: str) -> tuple[Any, ...]:
    """What a market's fragment is kept under (`SiteRenderer._fragment`): the market as
    written, whether the article shows its price at publication, the chart's mark, the variant."""
    return view.written, view.key, bool(view.published_pct), view.mark, variant


@dataclass(frozen=True)
class Shell:
    """An article page with its odds widgets left out, to be filled with this build's.

    The page is `parts[0]`, the widget `slots[order[0]]`, `parts[1]`, and so on. It is
    rendered from the article, the site and what the page shows of each market besides
    its widgets (question and links; `fingerprint` covers them all), so the hourly build,
    where only prices move, fills the shell again instead of rendering the page. The
    article's list item is kept the same way (`item`, `item_order`), so the hourly build
    renders no list item either.
    """

    fingerprint: str
    parts: tuple[str, ...]
    order: tuple[int, ...]
    slots: tuple[Slot, ...]
    # The article's list item, made of the same slots (empty: rendered whole).
    item: tuple[str, ...] = ()
    item_order: tuple[int, ...] = ()


@dataclass(frozen=True)
class SiteInput:
    config: SiteConfig
    articles: Sequence[Article]  # the articles to publish, newest first
    bodies: Mapping[str, RenderedBody]  # by Article.path
    snapshot: Snapshot
    now: datetime
    assets: Assets = field(default_factory=Assets)  # static files and their fingerprinted names
    sitemap_max_urls: int = MAX_URLS  # more URLs than this split sitemap.xml under an index
    news_window: timedelta = NEWS_WINDOW
    # Digest of everything besides the article and its widgets that an article page is
    # made from (layouts, static files, settings, options); "" turns page reuse off.
    fingerprint: str = ""
    # Page frames made before (see Shell), by their fingerprint (`shell_fingerprint`,
    # `frame_fingerprint`): each is the one made from that fingerprint, or None; given a
    # test of whether a frame fits the page, None as well for one that does not (which is
    # then an entry of the wrong shape, replaced by the one made now).
    shells: Callable[[str, Callable[[Shell], bool] | None], Shell | None] = field(
        default=lambda fingerprint, fits=None: None)


def template_code(source: str) -> str:
    """A template's text with \\n line ends and without its leading comment, which Jinja
    ends at the first `#}` and renders as nothing."""
    return _LEADING_COMMENT.sub("", source.replace("\r\n", "\n"), count=1)


def clock_marks(inp: SiteInput) -> str:
    """What the site shows of the clock (`inp.now`), as text: two builds from the same input
    at moments with the same marks make the same bytes. The renderer reads `now` only for
    these: whether each article is dated in the future, has a share card (`card_days`) and
    is in the news sitemap (`news_window`); whether each quote is stale or past its end date.
    A new use of `now` in rendering belongs here too (tests/test_site_record.py checks it)."""
    now, cfg = inp.now, inp.config
    cards_from, news_from = now - timedelta(days=cfg.card_days), now - inp.news_window
    marks = [f"{a.date > now:d}{cfg.card_days > 0 and cards_from <= a.date <= now:d}{news_from <= a.date <= now:d}"
             for a in inp.articles]
    marks += [f"{q.is_stale(now, cfg.stale_after_s):d}{q.past_end(now):d}"
              for _, q in sorted(inp.snapshot.quotes.items())]
    return ",".join(marks)


Seen = tuple[str, str]  # an article's (path, source_hash): what its content is known by
# A group of odds as its "as of" line depends on it (SiteRenderer.odds_asof): every market in
# it, or, with the partial as shipped, those not current and whether they are all of it.
AsofKey = tuple[tuple[tuple[str, str], ...], bool] | tuple[tuple[str, str], ...]


def seen(article: Article) -> Seen:
    return (article.path, article.source_hash)


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
    # By (reference as written, market key, publication date or None for the market's own view).
    views: dict[tuple[str, str, datetime | None], WidgetView] = field(default_factory=dict)
    widget_html: dict[tuple[str, str, Any, float | None, str], str] = field(default_factory=dict)
    fragments_fit: dict[str, bool] = field(default_factory=dict)  # by variant (see SiteRenderer.widget_html)
    asof: dict[AsofKey, Markup] = field(default_factory=dict)  # see SiteRenderer.odds_asof
    cards: dict[Seen, Card | None] = field(default_factory=dict)  # see SiteRenderer.card
    digests: dict[tuple[str, str], str] = field(default_factory=dict)
    items: dict[Seen, Markup | bytes] = field(default_factory=dict)  # bytes: UTF-8 (see seed_item)
    views_of: dict[Seen, ArticleView] = field(default_factory=dict)
    prints: dict[Seen, str] = field(default_factory=dict)
    # The articles the last build published, for each article path the files (other than
    # its page) that showed it, the list views, and topics and markets as positions in
    # that list: what an edit that moves nothing needs (see `only_showing`).
    published: Sequence[Article] | None = None
    showing: dict[str, set[str]] = field(default_factory=dict)
    listed: list[ArticleView] | None = None
    tag_index: dict[str, tuple[str, list[int]]] | None = None
    market_index: list[tuple[str, RefUse, list[int]]] | None = None
    # "More on these markets" for each article path, and the articles it was worked out from.
    more: tuple[Sequence[Article], dict[str, tuple[ArticleView, ...]]] | None = None
    more_readers: dict[str, set[int]] | None = None  # article path -> positions of the stories listing it

    @classmethod
    def for_input(cls, inp: SiteInput) -> RenderMemo:
        return cls(inp.fingerprint, inp.snapshot, inp.now)

    def fits(self, inp: SiteInput) -> bool:
        return self.fingerprint == inp.fingerprint and self.snapshot is inp.snapshot and self.now == inp.now


def _frame_fits(parts: Sequence[str], order: Sequence[int], slots: int) -> bool:
    """Whether `_filled` can fill `parts` in `order` from that many slots."""
    return len(parts) == len(order) + 1 and all(0 <= i < slots for i in order)


def _filled(parts: Sequence[str], order: Sequence[int], slots: Sequence[str]) -> str:
    """A frame's text with its slots filled: parts[0], slots[order[0]], parts[1], ..."""
    html = [parts[0]]
    for i, part in zip(order, parts[1:], strict=True):
        html += [slots[i], part]
    return "".join(html)


class _Marks:
    """The slots of a frame being rendered (see Shell): `mark` gives the text that stands for
    one in the page (the same slot twice is one slot, of one number) and counts it; `split`
    cuts what was rendered at the marks."""

    def __init__(self, kind: type[Markup] = Markup) -> None:
        self.slots: list[Slot] = []
        self._numbers: dict[Slot, int] = {}  # each slot's number: its first place in `slots`
        self.given = 0  # marks given out since the last `split`
        self._kind = kind

    def add(self, slot: Slot) -> int:
        """A new slot's number, even when the same slot is there already (a share card's)."""
        self._numbers.setdefault(slot, len(self.slots))
        self.slots.append(slot)
        return len(self.slots) - 1

    def mark(self, slot: Slot) -> Markup:
        self.given += 1
        number = self._numbers.get(slot)
        if number is None:  # (a dict, not a search of the list: an article of 8,000 widgets took 0.9 s)
            number = self.add(slot)
        return self._kind(f"\x00mn:{number}\x00")

    def split(self, text: str, others: Collection[int] = ()) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
        """`text`'s parts and, between them, the number of each mark; None when it holds
        another count of marks than were given out since the last split (or one of no
        slot): the text itself looks like a mark. `others` are numbers of marks made
        elsewhere, not counted (a share card's)."""
        pieces = _SLOT.split(text)
        order = tuple(int(i) for i in pieces[1::2])
        given, self.given = self.given, 0
        if sum(i not in others for i in order) != given or any(
                i >= len(self.slots) and i not in others for i in order):
            return None
        return tuple(pieces[0::2]), order


class _ShowsOdds(Exception):
    """Raised while a list page's frame is rendered when the template shows odds some way
    a frame cannot hold: the page is rendered whole instead (see SiteRenderer.framed)."""


class _FrameView:
    """A market as a list page's frame shows it: its question and links (the fields that
    `widgets.identity` keeps). Its other fields are odds, which a frame cannot hold: a
    template that reads one, prints the view or compares it raises `_ShowsOdds`."""

    __slots__ = ("_view",)
    _SHOWN = frozenset(("written", "key", "page_url", "question", "url", "kind"))

    def __init__(self, view: WidgetView) -> None:
        self._view = view

    def __getattr__(self, name: str) -> Any:
        if name not in self._SHOWN:
            raise _ShowsOdds(name)
        return getattr(self._view, name)

    def __str__(self) -> str:
        raise _ShowsOdds("str")

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        raise _ShowsOdds("==")

    def __hash__(self) -> int:
        raise _ShowsOdds("hash")


def _refuse(name: str) -> Callable[..., Any]:
    def refused(self: Any, *args: Any) -> Any:
        raise _ShowsOdds(name)
    return refused


class _Mark(Markup):
    """A slot's mark in a list page's frame. Printed as it is, it becomes the item or line
    it stands for; anything else a template does with it (its truth, its length, a
    comparison, a method such as a filter's) would act on the mark, not on what it stands
    for, and raises `_ShowsOdds`."""

    __slots__ = ()
    _PRINTED = frozenset(("__html__", "__class__", "escape", "__add__", "__radd__"))

    def __getattribute__(self, name: str) -> Any:
        if name not in _Mark._PRINTED:
            raise _ShowsOdds(name)
        return super().__getattribute__(name)

    def __html__(self) -> Markup:  # type: ignore[override]  # printed: the mark as plain markup
        return Markup(str.__str__(self))

    for _name in ("__str__", "__bool__", "__len__", "__getitem__", "__iter__", "__contains__", "__eq__", "__ne__",
                  "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__mod__", "__mul__", "__rmul__"):
        locals()[_name] = _refuse(_name)
    del _name


def _pairs(key: str) -> tuple[tuple[str, str, None], ...] | None:
    """The markets of an ASOF slot's key (JSON), as keys of their views (reference as
    written, market key, None); None if the key is not such a list."""
    try:
        pairs = json.loads(key)
    except (ValueError, RecursionError):
        return None
    if type(pairs) is not list or not all(
            type(p) is list and len(p) == 2 and type(p[0]) is str and type(p[1]) is str for p in pairs):
        return None
    return tuple((written, market, None) for written, market in pairs)


def article_url(config: SiteConfig, article: Article) -> str:
    if article.is_page:  # a standalone page lives at the top: /about/
        return f"/{article.slug}/"
    d = article.date.astimezone(config.tz)
    return config.permalink.format(
        year=f"{d.year:04d}", month=f"{d.month:02d}", day=f"{d.day:02d}", slug=article.slug
    )


def tag_url(tag: str) -> str:
    """A topic's URL: its letters in any script, percent-encoded ("/tags/%E6%97%A5%E6%9C%AC/"); see names.py."""
    return f"/tags/{url_segment(tag_slug(tag))}/"


def page_file(url: str) -> str:
    """Root-relative URL -> output path: "/a/b/" -> "a/b/index.html" ("/tags/%C3%BC/" -> "tags/ü/index.html")."""
    path = unquote(url.lstrip("/")) if "%" in url else url.lstrip("/")
    return path + "index.html" if path == "" or path.endswith("/") else path


def _raster(image: str | None) -> bool:
    """Whether an image URL names a format social networks show (not SVG)."""
    return bool(image) and posixpath.splitext((image or "").split("?", 1)[0])[1].lower() in RASTER


def market_uses(article: Article) -> tuple[tuple[str, RefUse], ...]:
    """The market pages an article is listed on, each with its first use there, in order."""
    pages: dict[str, RefUse] = {}
    for use in article.uses:
        pages.setdefault(use.ref.page_path, use)
    return tuple(pages.items())


def stories(listed: Sequence[ArticleView]) -> list[ArticleView]:
    """The dated stories of a list, without the standalone pages (which no list shows)."""
    return [v for v in listed if not v.article.is_page]


def _shown(views: Iterable[ArticleView]) -> list[str]:
    """What a list of headlines shows of each story (see SiteRenderer.more_stories)."""
    return [f"{v.url}\x00{v.title}\x00{v.date.isoformat()}" for v in views]


def summarise(article: Article) -> str:
    if article.summary:
        return article.summary
    text = article.lead
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

    def keep(self, path: str, fingerprint: str) -> tuple[str, int, str] | None:
        """The record of the file the last build wrote at `path` when it came from the same
        fingerprint (and is still there as written): (fingerprint, size, list item)."""
        ...

    def record(self, path: str, fingerprint: str, size: int, item: str = "") -> None:
        """Note what this build wrote (or kept) at `path`."""
        ...


class CardStore(Protocol):
    """Where share cards' PNG bytes are kept between builds (the build's memo, `cache.Memo`)."""

    def get(self, key: str) -> bytes | None:
        ...

    def put(self, key: str, value: bytes, packed: bool = False) -> None:
        """Keep `value`; with `packed`, as given (see `cache.Memo.put`)."""
        ...

    def use(self, keys: Iterable[str]) -> None:
        """Count keys as used (kept on saving) that were not read."""
        ...


@dataclass
class CardLog:
    """A worker process's view of the card store: reads go through to it; what was used
    and drawn is noted for the parent to hand to the store (`settle`), as the store
    keeps it (`cache.pack`, unless the value is put `packed`: see `cards.to_memo`)."""

    store: CardStore | None
    used: list[str] = field(default_factory=list)
    made: dict[str, bytes] = field(default_factory=dict)  # as the store keeps them

    def get(self, key: str) -> bytes | None:
        data = self.store.get(key) if self.store is not None else None
        if data is not None:
            self.used.append(key)
        return data

    def put(self, key: str, value: bytes, packed: bool = False) -> None:
        if self.store is not None:  # else nothing keeps it
            self.made[key] = value if packed else pack(value)

    def use(self, keys: Iterable[str]) -> None:
        self.used.extend(keys)

    def settle(self, store: CardStore | None) -> None:
        if store is not None:
            store.use(self.used)
            for key, value in self.made.items():
                store.put(key, value, packed=True)


class SiteRenderer:
    """Renders one site; holds the widget cache (in `memo`). Create one per build."""

    def __init__(self, inp: SiteInput, env: jinja2.Environment, layouts: Path, reuse: PageReuse | None = None,
                 memo: RenderMemo | None = None):
        self.inp, self.env, self.layouts, self.reuse = inp, env, layouts, reuse
        self.config = inp.config
        self.memo = memo if memo is not None and memo.fits(inp) else RenderMemo.for_input(inp)
        self._views = self.memo.views
        self._widget_html = self.memo.widget_html
        self._fragments_fit = self.memo.fragments_fit
        self._related_variants: tuple[str, ...] | None = None  # see _variants
        self._snapshot_text = ""  # see snapshot_text
        self._item_frames_fit: bool | None = None  # list items from article shells (see article_page)
        self._items = self.memo.items
        self._digests = self.memo.digests
        self.only: set[str] | None = None  # produce only these files (see `only_showing`)
        self.gone: set[str] = set()  # and remove these, which the last build wrote (`only_showing`)
        self.shells_made: dict[str, Shell] = {}  # article path -> its shell, when rendered by this renderer
        # List pages' frames (see `framed`): made by this renderer, by fingerprint, and those read from the memo.
        self.frames_made: dict[str, Shell] = {}
        self.frames_used: set[str] = set()
        self._frames_checked: set[str] = set()  # list templates whose first filled page was compared (`_checked`)
        self._frameless: set[str] = set()  # list templates whose pages are rendered whole (see `framed`)
        self._framing = False  # a list page's frame is being rendered (`_list_frame`)
        self.shell_prints: dict[Seen, str] = {}  # each article's `shell_fingerprint`, once worked out
        # (k, n): produce only the files whose path hashes to k of n, so that worker
        # processes can share the list pages; shard 0 also writes the site-wide files.
        self.shard: tuple[int, int] | None = None
        self._tags: tuple[Sequence[ArticleView], dict[str, tuple[str, list[ArticleView]]]] | None = None
        self._stories: tuple[Sequence[ArticleView], list[ArticleView]] | None = None
        self._markets_of: Sequence[ArticleView] | None = None  # the list memo.market_index was made from
        self.env.globals.update(site=self.config, asset_url=inp.assets.url)
        self.env.globals["article_item"] = self.article_item
        self.env.globals["image_size"] = self.image_size
        self.env.globals["odds_note"] = odds_note
        self.env.globals["odds_asof"] = self.odds_asof
        self.env.filters["absolute"] = partial(absolute_url, self.config.base_url)
        self._sizes: dict[str, tuple[int, int] | None] = {}
        self._cards = self.memo.cards
        self.card_store: CardStore | None = None  # the build's memo: cards drawn by earlier builds

    def image_size(self, url: str | None) -> tuple[int, int] | None:
        """A static image's (width, height) by its root-relative URL, original or fingerprinted; else None."""
        if not url or not url.startswith("/"):
            return None
        if url not in self._sizes:
            data = self.inp.assets.by_path.get(url[1:])
            self._sizes[url] = image_size(data) if data is not None else None
        return self._sizes[url]

    # --- widgets -----------------------------------------------------------------------

    def widget(self, written: str, ref: MarketRef, published: datetime | None = None) -> WidgetView:
        """The view of one widget: the market's, built once, as an article published at
        `published` shows it (`widgets.at_publication`)."""
        view = self._views.get((written, ref.key, None))
        quote = self.inp.snapshot.get(ref.key)
        if view is None:
            view = self._views[(written, ref.key, None)] = market_view(
                written, ref, quote, now=self.inp.now, stale_after_s=self.config.stale_after_s,
                low_volume=self.config.low_volume, tz=self.config.tz,
            )
        if published is None or quote is None:
            return view
        shown = self._views.get((written, ref.key, published))
        if shown is None:
            shown = self._views[(written, ref.key, published)] = at_publication(view, quote, published)
        return shown

    def widget_html(self, view: WidgetView, variant: str) -> str:
        """A widget's HTML. The market's fragment is rendered once per variant (and chart
        mark) with a slot for the price at publication, which each article fills with its own."""
        # (A view without a state is a frame's, odds left out: never kept as the market's fragment.)
        if variant == "text" or not view.state or not self._fragments_fit.get(variant, True):
            return self._widget_text(view, variant)
        fragment = self._fragment(view, variant)
        html = fragment.replace(PUBLISHED_SLOT, str(escape(view.published_pct))) if view.published_pct else fragment
        if view.published_pct and variant not in self._fragments_fit:
            # Checked once a variant: a template that does more with the price than print it
            # (a filter on it) is rendered article by article instead.
            self._fragments_fit[variant] = html == self._widget_text(view, variant)
            if not self._fragments_fit[variant]:
                return self._widget_text(view, variant)
        return html

    def _fragment(self, view: WidgetView, variant: str) -> str:
        """The market's fragment that `view`'s widget is made from (see `widget_html`)."""
        key = _fragment_key(view, variant)
        fragment = self._widget_html.get(key)
        if fragment is None:
            market = self._views.get((view.written, view.key, None), view)  # without the story's price
            slotted = with_published(market, PUBLISHED_SLOT, view.mark) if view.published_pct else view
            fragment = self._render("partials/widget.html", w=slotted, variant=variant).strip()
            self._widget_html[key] = fragment
        return fragment

    def shared_fragments(self, articles: Sequence[Article]) -> list[tuple[str, MarketRef, bool, str]]:
        """The fragments that many pages share, as (reference as written, market, variant):
        each cited market's with a price at publication and no chart mark (a story older
        than its chart), in each variant the articles show it in, as far as that is known
        before their shells are read (`check_fragments` knew it). Rendered ahead of the
        pages (`fragments`) in a build whose pages worker processes share, each of which
        would otherwise render them all for itself; a fragment not here is rendered where
        it is asked for, as before."""
        wanted: dict[tuple[Any, ...], tuple[str, MarketRef, bool, str]] = {}
        for article in articles:
            for use in article.uses:
                view = self.widget(use.written, use.ref, article.date)
                if not view.state or view.mark is not None:
                    continue
                for variant in self._variants(articles, article, use):
                    key = _fragment_key(view, variant)
                    # (A variant not checked yet is checked where it is asked for.)
                    if self._fragments_fit.get(variant, True) and key not in self._widget_html:
                        wanted[key] = (use.written, use.ref, bool(view.published_pct), variant)
        return list(wanted.values())

    def fragments(self, wanted: Sequence[tuple[str, MarketRef, bool, str]]) -> list[tuple[Any, str]]:
        """The fragments `wanted` (see `shared_fragments`), rendered, by their keys, for `seed_fragments`."""
        made = []
        for written, ref, published, variant in wanted:
            view = self.widget(written, ref)
            view = with_published(view, PUBLISHED_SLOT, None) if published else view
            made.append((_fragment_key(view, variant), self._fragment(view, variant)))
        return made

    def seed_fragments(self, made: Iterable[tuple[Any, str]]) -> None:
        """Fragments rendered in another process (`fragments`), taken as this renderer's own."""
        self._widget_html.update(made)

    def _widget_text(self, view: WidgetView, variant: str) -> str:
        """A widget rendered for this very view (feeds' text form, or a template that does not fit fragments)."""
        key = (view.written, view.key, view.published_pct, view.mark, variant)
        html = self._widget_html.get(key)
        if html is None:
            name = "partials/widget_text.html" if variant == "text" else "partials/widget.html"
            html = self._widget_html[key] = self._render(name, w=view, variant=variant).strip()
        return html

    def related_variants(self, articles: Sequence[Article]) -> tuple[str, ...]:
        """The variants in which an article page shows the widgets of its related markets, as
        the shell of the first article that has one not also inline has them; none when no
        such shell can be had (see `check_fragments`)."""
        for article in articles:
            related = {(u.written, u.ref.key) for u in article.markets} \
                - {(u.written, u.ref.key) for u in article.inline if u is not None}
            if related:
                shell = self.article_shell(article)
                if shell is None:
                    return ()
                return tuple(sorted({v for written, key, v in shell.slots if (written, key) in related}))
        return ()

    def check_fragments(self, articles: Sequence[Article]) -> None:
        """Whether the widget template fits fragments (see `widget_html`), found before any
        page is made for each variant the pages are expected to ask for (a related market's
        in each of `related_variants`, an inline one's in its own), on the first widget in
        article order that shows a price at publication: the same choice however many
        processes make the pages. A variant asked for beyond these is checked where it is."""
        for article in articles:
            for use in article.uses:
                view = self.widget(use.written, use.ref, article.date)
                if view.published_pct:
                    for variant in self._variants(articles, article, use):
                        if variant not in self._fragments_fit:
                            self.widget_html(view, variant)

    def _variants(self, articles: Sequence[Article], article: Article, use: RefUse) -> tuple[str, ...]:
        """The variants `article`'s page shows a market of `use` in: a related market's are
        those of the first shell that has one (`related_variants`, worked out once, when
        first asked for); an inline one's, its own."""
        if use not in article.markets:
            return (self.inline_variant(article, use.ref),)
        if self._related_variants is None:
            self._related_variants = self.related_variants(articles)
        return self._related_variants

    def market_digest(self, written: str, ref: MarketRef) -> str:
        """Digest of what a widget shows of a market, apart from the price when published."""
        key = (written, ref.key)
        digest = self._digests.get(key)
        if digest is None:
            view = self.widget(written, ref)
            digest = self._digests[key] = view_digest(view)
        return digest

    def article_fingerprint(self, article: Article) -> str:
        fp = self.memo.prints.get(seen(article))
        if fp is None:
            fp = self.memo.prints[seen(article)] = self._article_fingerprint(article)
        return fp

    def list_fingerprint(self, *parts: object, articles: Sequence[ArticleView] = ()) -> str:
        """Digest of a list page: what it is, and the fingerprints of the articles it lists."""
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((self.inp.fingerprint, parts)).encode())
        for v in articles:
            h.update(self.article_fingerprint(v.article).encode())
        return h.hexdigest()

    def _article_fingerprint(self, article: Article) -> str:
        """Digest of every input of an article's page and list item: its shell's (the site,
        the article, what the page shows besides odds: `shell_fingerprint`), its share
        card's name, and each widget's market and price at publication.

        An article page is made from the article, its widgets, the site fingerprint and
        the clock (through `future` and stale quotes, both in the widget views) only; a
        layout that showed other articles on it would have to be added here.
        """
        parts = [self.shell_print(article), self.card_path(article)]
        for written, ref in self._widget_refs(article):
            quote = self.inp.snapshot.get(ref.key)
            price = quote.price_at(article.date) if quote is not None else None
            mark = self.widget(written, ref, article.date).mark
            parts += [written, self.market_digest(written, ref), repr(price), repr(mark)]
        return hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).hexdigest()

    def _widget_refs(self, article: Article) -> list[tuple[str, MarketRef]]:
        """Each widget of an article's page as (reference as written, market): related, then inline."""
        return [(u.written, u.ref) for u in article.uses]

    def prepare(self, articles: Sequence[Article]) -> list[ArticleView]:
        """The work that every page shares, done once (before worker processes fork, which
        then inherit it rather than each doing it again): the articles' list views, the
        digest of each widget for the fingerprints, and every story's "More on these markets"."""
        for article in articles:
            for written, ref in self._widget_refs(article):
                self.market_digest(written, ref)
        listed = [self.listed_view(article) for article in articles]
        self._more_lists()  # worked out for every article at once
        return listed

    # --- views -------------------------------------------------------------------------

    def article_view(self, article: Article, body_variant: str = "inline") -> ArticleView:
        """An article with its body, inline widgets filled in (as text for feeds)."""
        view = self.listed_view(article)
        body = self.inp.bodies.get(article.path)
        if body is None:
            return view

        def fill(i: int) -> str:
            use = article.inline[i] if i < len(article.inline) else None
            if use is None:
                return ""
            variant = body_variant if body_variant == "text" else self.inline_variant(article, use.ref)
            return self.widget_html(self.widget(use.written, use.ref, article.date), variant)

        # The body's own links to static files point at their fingerprinted copies on pages;
        # feeds keep stable names. Widgets are templates: they name files with asset_url.
        html = body.html if body_variant == "text" else self.inp.assets.rewrite_html(body.html)
        return replace(view, body_html=fill_placeholders(html, fill))

    def _render(self, name: str, **context: Any) -> str:
        context.setdefault("widget", self.widget_html)
        return render(self.env, name, self.layouts, **context)

    # --- what an edit touches ------------------------------------------------------------

    def _shape(self, article: Article) -> tuple[Any, ...]:
        """Everything about an article that decides which pages list it and where, and that
        files show of it outside its list item and feed entry: URL, dates, draft, topics,
        markets. Two versions of an article with the same shape are listed alike."""
        inline = tuple((u.written, u.ref.key) if u is not None else None for u in article.inline)
        # Not the title: the pages that show it (other articles' "More on these markets",
        # the 404, "Biggest moves") are noted as showing the article (`_shows`, `readers`).
        return (article.path, article_url(self.config, article), article.date, article.updated,
                article.draft, article.kind,
                article.date > self.inp.now, article.tags, tuple((u.written, u.ref.key) for u in article.markets),
                inline)

    def only_showing(self, articles: Sequence[Article]) -> list[tuple[int, Article]] | None:
        """When `articles` differ from the last build's published ones (`memo`) only in the
        content of some, none added, removed or moved (same `_shape`): those, then the
        unchanged ones whose "More on these markets" names one of them, with their positions,
        after restricting this renderer to the files that showed them. Else None: every
        page must be looked at."""
        before = self.memo.published
        if before is None or len(before) != len(articles) or self.memo.listed is None:
            return None
        changed: list[tuple[int, Article]] = []
        for i, (old, new) in enumerate(zip(before, articles, strict=True)):
            if old is not new:
                if self._shape(old) != self._shape(new):  # (the memo fits: the same site and clock)
                    return None
                changed.append((i, new))
        self.only = set().union(*(self.memo.showing.get(a.path, set()) for _, a in changed))
        readers = [(i, articles[i]) for i in self._rebase_more(before, changed) if articles[i] is before[i]]
        self.only.update(page_file(self.listed_view(a).url) for _, a in readers)
        # A share card shows the headline and so may be renamed: the new one is made, the old removed.
        cards = {(self.card_path(before[i]), self.card_path(new)) for i, new in changed}
        self.only.update(new for old, new in cards if new and new != old)
        old_cards = {old for old, new in cards if old and old != new}
        if old_cards:
            self.gone = old_cards - {self.card_path(a) for a in articles}
        return changed + readers

    def _rebase_more(self, before: Sequence[Article], changed: Sequence[tuple[int, Article]]) -> list[int]:
        """The positions of the articles whose "More on these markets" list shows one of the `changed` ones,
        with those lists brought up to date: which stories they list depends only on what
        the shapes hold (dates, markets, topics), so they are not worked out again."""
        known = self.memo.more
        if known is None or known[0] is not before:
            self._more_lists()  # worked out afresh for every article
            known = self.memo.more
            new_views: dict[str, ArticleView] = {}
        else:
            new_views = {a.path: self.listed_view(a) for _, a in changed}
        lists = dict(known[1]) if known is not None else {}
        if self.memo.more_readers is None:  # for each story, the stories listing it, by position
            at = {a.path: i for i, a in enumerate(self.inp.articles)}
            index: dict[str, set[int]] = {}
            for path, views in lists.items():
                for v in views:
                    index.setdefault(v.article.path, set()).add(at[path])
            self.memo.more_readers = index
        positions = sorted(set().union(*(self.memo.more_readers.get(a.path, set()) for _, a in changed)))
        for a in (self.inp.articles[i] for i in positions):
            if new_views:
                lists[a.path] = tuple(new_views.get(v.article.path, v) for v in lists[a.path])
            self.memo.prints.pop(seen(a), None)  # its fingerprint covers what the list shows
        self.memo.more = (self.inp.articles, lists)
        return positions

    def _wanted(self, path: str) -> bool:
        if self.shard is not None and zlib.crc32(path.encode()) % self.shard[1] != self.shard[0]:
            return False
        return self.only is None or path in self.only

    def _shows(self, path: str, views: Iterable[ArticleView]) -> None:
        """Note that the file at `path` shows these articles (more than their URL and dates)."""
        if self.only is None:
            showing = self.memo.showing
            for v in views:
                pages = showing.get(v.article.path)
                if pages is None:
                    pages = showing[v.article.path] = set()
                pages.add(path)

    def _page(self, name: str, url: str, meta: PageMeta, fingerprint: str = "",
              shows: Iterable[ArticleView] = (), frame: str = "", **context: Any) -> OutputFile:
        """Render a page, or keep last build's when its fingerprint is unchanged. A list
        page with a `frame` fingerprint (`frame_fingerprint`) is made from its frame."""
        path = page_file(url)
        self._shows(path, shows)
        reuse = self.reuse if fingerprint and self.inp.fingerprint else None
        if reuse is not None and reuse.keep(path, fingerprint) is not None:
            if frame:  # still this page's frame, if the memo has it: kept for the hour its odds move
                self.frames_used.add(frame)
            return OutputFile(path, None)
        html = self.framed(name, url, meta, frame, context) if frame else None
        data = (html if html is not None else self._render(name, page_url=url, meta=meta, **context)).encode("utf-8")
        if reuse is not None:
            reuse.record(path, fingerprint, len(data))
        return OutputFile(path, data)

    # --- list pages' frames -------------------------------------------------------------

    def shell_print(self, article: Article) -> str:
        """The article's `shell_fingerprint`, worked out once a build."""
        fp = self.shell_prints.get(seen(article))
        if fp is None:
            fp = self.shell_prints[seen(article)] = self.shell_fingerprint(article)
        return fp

    def frame_fingerprint(self, name: str, url: str, *parts: object, articles: Sequence[ArticleView]) -> str:
        """Digest of a list page's frame: the site, its template, what it is, and what it
        shows of each article it lists besides odds (their shells' fingerprints); "" with page
        reuse off (no site fingerprint), when no frame is kept."""
        if not self.inp.fingerprint:
            return ""
        h = hashlib.blake2b(repr(("frame", self.inp.fingerprint, name, url, parts)).encode(), digest_size=16)
        for v in articles:
            h.update(self.shell_print(v.article).encode())
        return h.hexdigest()

    def framed(self, name: str, url: str, meta: PageMeta, frame_print: str, context: dict[str, Any]) -> str | None:
        """A list page (its `pager` in `context`) made from its frame: the page rendered
        once with a slot for each article's list item and each "odds as of" line, kept in
        the memo by `frame_print` and filled with this build's items and lines. So the
        hourly build, where only prices move, renders no list page's template.

        None when the template shows odds some other way: found while a frame is rendered
        (it reads a market's odds, draws a widget of its own, does more with an item or a
        line than print it; see `_list_frame`), or by rendering whole the first page of
        each template that a process fills and comparing. From then on that template's
        pages are rendered whole in this process."""
        if name in self._frameless:
            return None
        pager: Pager = context["pager"]
        frame = self.inp.shells(frame_print, partial(self._list_frame_fits, pager))
        if frame is not None:
            self.frames_used.add(frame_print)
            return self._checked(name, url, meta, context, self._fill_frame(frame, pager))
        made = self._list_frame(name, url, meta, frame_print, context)
        if made is None or not self._list_frame_fits(pager, made):
            self._frameless.add(name)
            return None
        html = self._checked(name, url, meta, context, self._fill_frame(made, pager))
        if name not in self._frameless:
            self.frames_made[frame_print] = made
        return html

    def _checked(self, name: str, url: str, meta: PageMeta, context: dict[str, Any], html: str) -> str:
        """`html`, a page filled from its frame; the first of each template in this process
        is rendered whole as well, and the template is `_frameless` if the two differ (a
        filter applied to an item, say, acts on the slot in the frame)."""
        if name in self._frames_checked:
            return html
        self._frames_checked.add(name)
        whole = self._render(name, page_url=url, meta=meta, **context)
        if whole != html:
            self._frameless.add(name)
        return whole

    def _list_frame_fits(self, pager: Pager, frame: Shell) -> bool:
        """Whether a list page's frame can be filled for `pager`: each slot is an item the
        page lists or an "odds as of" line of markets this build has views of, and its parts
        and order agree with its slots. One read from the memo that does not fit (a damaged
        memo's, say) is an entry of the wrong shape, replaced by the one made now."""
        for _, key, variant in frame.slots:
            if variant == ITEM:
                if not (key.isascii() and key.isdigit() and int(key) < len(pager.items)):
                    return False
            elif variant != ASOF or (pairs := _pairs(key)) is None or not all(p in self._views for p in pairs):
                return False
        return _frame_fits(frame.parts, frame.order, len(frame.slots))

    def _fill_frame(self, frame: Shell, pager: Pager) -> str:
        """A list page's frame (one that fits it, `_list_frame_fits`, which read each "odds
        as of" slot's key as `_pairs` and found its views) filled with this build's list
        items and "odds as of" lines."""
        lines = [self.article_item(pager.items[int(key)]) if variant == ITEM
                 else self.odds_asof([self._views[(written, market, None)] for written, market in json.loads(key)])
                 for _, key, variant in frame.slots]
        return _filled(frame.parts, frame.order, lines)

    def _list_frame(self, name: str, url: str, meta: PageMeta, frame_print: str,
                    context: dict[str, Any]) -> Shell | None:
        """A list page's frame: rendered from its articles' views without odds, each list
        item and "odds as of" line a slot. None when the template shows odds some other
        way (`_ShowsOdds`), which a frame cannot hold."""
        pager: Pager = context["pager"]
        marks = _Marks(_Mark)

        def frame_view(v: ArticleView) -> ArticleView:
            return replace(v, related=cast(tuple[WidgetView, ...], tuple(_FrameView(w) for w in v.related)))

        bare = tuple(frame_view(v) for v in pager.items)
        position = {id(v): i for i, v in enumerate(bare)}

        def item(view: ArticleView) -> Markup:
            if id(view) not in position:  # an article the page does not list: its odds are not in a slot
                raise _ShowsOdds("the item of an article not listed")
            return marks.mark(("", str(position[id(view)]), ITEM))

        def asof(items: Sequence[WidgetView]) -> Markup:
            return marks.mark(("", json.dumps([[w.written, w.key] for w in items]), ASOF))

        def widget(view: WidgetView, variant: str) -> str:
            raise _ShowsOdds("a widget")

        self._framing = True  # the renderer's own article_item, odds_asof and widget refuse (a macro's)
        try:
            text = self._render(name, page_url=url, meta=meta, **{**context, "pager": replace(pager, items=bare)},
                                article_item=item, odds_asof=asof, widget=widget)
        except TemplateError as exc:
            if isinstance(exc.__cause__, _ShowsOdds):
                return None
            raise
        finally:
            self._framing = False
        page = marks.split(text)
        return Shell(frame_print, *page, tuple(marks.slots)) if page is not None else None

    # --- share cards -------------------------------------------------------------------

    def card(self, article: Article) -> Card | None:
        """What the article's share card shows: its headline and leading markets' odds as
        their widgets state them (see `cards.article_card`). None (the site's image stands
        in) for an article published more than `card_days` days ago or not yet, and for
        one whose card would show nothing: at archive scale only recent stories get one."""
        key = seen(article)
        if key in self._cards:
            return self._cards[key]
        cfg, now = self.config, self.inp.now
        made: Card | None = None
        if cfg.card_days > 0 and now - timedelta(days=cfg.card_days) <= article.date <= now:
            views = [self.widget(written, ref) for written, ref in self._widget_refs(article)]
            image = b""
            if _raster(article.image) and article.image and article.image.startswith("/"):
                image = self.inp.assets.by_path.get(article.image[1:]) or b""
            made = article_card(cfg.title, article.title, views, cfg.tz, image)
        self._cards[key] = made
        return made

    def card_path(self, article: Article) -> str:
        """The output path of the article's share card, "" when it has none."""
        card = self.card(article)
        return card_file(article.slug, card) if card is not None else ""

    def site_card(self) -> Card | None:
        """The site's own card (name and tagline), drawn when site.yaml names no `image`."""
        if self.config.image:
            return None
        return make_site_card(self.config.title, self.config.tagline or self.config.description)

    def site_image(self) -> dict[str, Any]:
        """The social card of every page without one of its own: site.yaml's `image`, else
        the site card; a copy for each caller to add to."""
        return dict(self._site_image)

    @cached_property
    def _site_image(self) -> dict[str, Any]:
        """Worked out once by each renderer (the parent's, or a worker's copy), as every
        page's head names it: drawing up the card and its digest for each page was 6% of a
        cold article page's time."""
        card = self.site_card()
        if card is None:
            image, alt = card_image(self.config, None)
            return {"image": image, "image_alt": alt}
        return {"image": absolute_url(self.config.base_url, "/" + card_file("site", card)),
                "image_alt": card_alt(card), "image_width": WIDTH, "image_height": HEIGHT}

    def card_files(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        """The share cards of the articles that have one, and the site card."""
        cards = [(card_file(v.article.slug, c), c) for v in listed if (c := self.card(v.article)) is not None]
        site = self.site_card()
        if site is not None:
            cards.append((card_file("site", site), site))
        done: set[str] = set()
        for path, card in cards:
            if path not in done and self._wanted(path):
                done.add(path)
                yield self._card_file(path, card)

    def _card_file(self, path: str, card: Card) -> OutputFile:
        """A card's PNG: the file the last build wrote when it has this name (the name
        carries the digest of what it shows), else the memo's, else drawn now. The memo
        key covers the card, Pillow and the code (`memo_key`)."""
        digest = card_digest(card)
        store, key = self.card_store, memo_key("card", digest, renderer())
        reuse = self.reuse if self.inp.fingerprint else None
        if reuse is not None and reuse.keep(path, digest):
            if store is not None:
                store.use((key,))  # the memo keeps it for a build into an empty folder
            return OutputFile(path, None)
        # The memo's copy is checked (the cache folder is not trusted); one that is not a
        # card is replaced.
        data = from_memo(store.get(key)) if store is not None else None
        if data is None:
            data = draw(card)
            if store is not None:
                store.put(key, to_memo(data), packed=True)  # kept as it is: see to_memo
        if reuse is not None:
            reuse.record(path, digest, len(data))
        return OutputFile(path, data)

    # --- metadata ----------------------------------------------------------------------

    def meta(self, title: str, url: str, description: str = "", **more: Any) -> PageMeta:
        """A page's head metadata: canonical URL, description and social card."""
        values: dict[str, Any] = self.site_image()
        values.update(more)
        return PageMeta(title=title, description=description or self.config.description,
                        url=absolute_url(self.config.base_url, url) if url else "", **values)

    def article_meta(self, view: ArticleView) -> PageMeta:
        cfg, tz = self.config, self.config.tz
        if view.article.is_page:  # not news: no article card, no NewsArticle data
            return self.meta(view.title, view.url, view.summary, noindex=view.draft or view.future)
        url = absolute_url(cfg.base_url, view.url)
        published, modified = iso(view.date, tz), iso(view.article.modified, tz)
        # The social card: the article's share card, else its own raster image, else the site's.
        own = card_image(cfg, view.article.image, view.image_alt) if _raster(view.article.image) else None
        fallback = {"image": own[0], "image_alt": own[1]} if own else self.site_image()
        card = self.card(view.article)
        shown = fallback if card is None else {
            "image": absolute_url(cfg.base_url, "/" + card_file(view.article.slug, card)),
            "image_alt": card_alt(card), "image_width": WIDTH, "image_height": HEIGHT}
        # The JSON-LD names the article's own image or the site's, which do not move with the odds.
        own_image = absolute_url(cfg.base_url, view.article.image) if view.article.image else fallback["image"]
        doc = news_article(
            cfg, url=url, headline=view.title, description=view.summary, published=published,
            modified=modified, authors=view.authors, images=[own_image] if own_image else [],
            tags=[t.name for t in view.tags],
        )
        return self.meta(
            view.title, view.url, view.summary, type="article", **shown,
            published=published, modified=modified, tags=tuple(t.name for t in view.tags),
            jsonld=script_json(doc), noindex=view.draft or view.future,
        )

    # --- the site ----------------------------------------------------------------------

    def article_page(self, article: Article, shell_print: str = "") -> tuple[OutputFile, ArticleView]:
        """An article's page (its shell filled with this build's widgets), and its view
        without the body for the list pages; `shell_print`: its `shell_fingerprint`, if known."""
        view = self.listed_view(article)
        shell = self.article_shell(article, shell_print)
        if shell is None:  # the page's own text looks like a slot: render it whole
            full = self.article_view(article)
            return self._page(self.article_template(article), view.url, self.article_meta(view), a=full,
                              **self.article_context(article)), view
        refs = {(written, ref.key): ref for written, ref in self._widget_refs(article)}
        card = self.card(article)
        card_values = {"card-url": absolute_url(self.config.base_url, "/" + card_file(article.slug, card)),
                       "card-alt": card_alt(card)} if card is not None else {}
        widgets = [escape(card_values.get(variant, "")) if variant in CARD_SLOTS
                   else self.odds_asof(view.related) if variant == NOTE
                   else self.widget_html(self.widget(written, refs[written, key], article.date), variant)
                   for written, key, variant in shell.slots]
        if shell.item and seen(article) not in self._items and self._item_frames_fit is not False:
            item = Markup(_filled(shell.item, shell.item_order, widgets))
            if self._item_frames_fit is None:  # checked once a build: the template shows odds only through widget()
                self._item_frames_fit = item == self._render("partials/article_item.html", a=view)
            if self._item_frames_fit:
                self._items[seen(article)] = item
        return OutputFile(page_file(view.url), _filled(shell.parts, shell.order, widgets).encode("utf-8")), view

    def shell_fingerprint(self, article: Article) -> str:
        """Digest of what an article page shows besides its widgets' own HTML: the site,
        the article (and whether it is yet to come) and each related market's question
        and links; the inline widgets only by reference."""
        view = self.listed_view(article)
        parts = [self.inp.fingerprint, article.path, article.source_hash, str(view.future),
                 str(self.card(article) is not None)]
        for w in view.related:
            parts += [w.written, w.key, w.page_url, w.question, w.url, w.kind]
        parts += [f"{u.written}\x00{u.ref.key}" if u is not None else "" for u in article.inline]
        parts += self._more_parts(article)
        return hashlib.blake2b("\x01".join(parts).encode(), digest_size=16).hexdigest()

    def _shell_fits(self, article: Article, shell: Shell) -> bool:
        """Whether a shell read from the memo can be filled for `article`: each widget slot
        names a market the article cites, and its parts and order agree with its slots."""
        refs = {(written, ref.key) for written, ref in self._widget_refs(article)}
        return all(variant in CARD_SLOTS or variant == NOTE or (written, key) in refs
                   for written, key, variant in shell.slots) \
            and _frame_fits(shell.parts, shell.order, len(shell.slots)) \
            and (not shell.item or _frame_fits(shell.item, shell.item_order, len(shell.slots)))

    def article_shell(self, article: Article, fp: str = "") -> Shell | None:
        """The article's page with a slot for each widget: the last build's when its
        fingerprint (`fp`, worked out if not given) still matches, else rendered (and noted
        in `shells_made`)."""
        fp = fp or self.shell_fingerprint(article)
        known = self.inp.shells(fp, partial(self._shell_fits, article)) if self.inp.fingerprint else None
        if known is not None:
            return known
        marks = _Marks()
        slots = marks.slots

        def mark(written: str, key: str, variant: str) -> Markup:
            return marks.mark((written, key, variant))

        listed = self.listed_view(article)
        body_html = ""
        body = self.inp.bodies.get(article.path)
        if body is not None:

            def inline(i: int) -> str:
                use = article.inline[i] if i < len(article.inline) else None
                if use is None:
                    return ""
                return mark(use.written, use.ref.key, self.inline_variant(article, use.ref))

            body_html = fill_placeholders(self.inp.assets.rewrite_html(body.html), inline)
        frame = replace(listed, related=tuple(identity(w) for w in listed.related), body_html=body_html)
        # The share card's URL and alt text move with the odds too: slots, which the page's
        # head may use any number of times, so their marks carry numbers no text can guess.
        meta = self.article_meta(listed)
        card_marks: dict[int, int] = {}
        if self.card(article) is not None:
            for variant in CARD_SLOTS:
                secret = 10**12 + secrets.randbelow(10**12)
                card_marks[secret] = marks.add(("", "", variant))
            url_mark, alt_mark = (Markup(f"\x00mn:{secret}\x00") for secret in card_marks)
            meta = replace(meta, image=url_mark, image_alt=alt_mark)
        def slot(view: WidgetView, variant: str) -> Markup:
            return mark(view.written, view.key, variant)

        def list_item(view: ArticleView) -> Markup:
            """A list item in the frame: its odds lines are slots as well (never kept for other pages)."""
            return Markup(self._render("partials/article_item.html", a=view, widget=slot))

        text = self._render(self.article_template(article), page_url=listed.url, meta=meta, a=frame, widget=slot,
                            odds_asof=lambda items: mark("", "", NOTE), article_item=list_item,
                            **self.article_context(article))
        page = marks.split(text, card_marks)
        if page is None:
            return None
        # The article's list item, from the same frame: its odds lines are slots too.
        item = marks.split(list_item(frame)) or ((), ())
        shell = Shell(fp, page[0], tuple(card_marks.get(i, i) for i in page[1]), tuple(slots), *item)
        self.shells_made[article.path] = shell
        return shell

    # --- an article page's extras (see related.py) ---------------------------------------

    @staticmethod
    def article_template(article: Article) -> str:
        return "page.html" if article.is_page else "article.html"

    def odds_asof(self, items: Sequence[WidgetView]) -> Markup:
        """The one line saying when a group of odds was taken, if any is not current: of the
        markets' own views (it says nothing of an article's publication), rendered once a
        group of markets. The template as shipped shows only the markets not current, and
        whether they are the whole group: it is rendered once for each such set, and not
        at all for a group whose odds are all current."""
        if self._framing:  # reached past the frame's own (from a macro)
            raise _ShowsOdds("odds_asof")
        shown = [self._views.get((v.written, v.key, None)) if v.state else None for v in items]
        if any(v is None for v in shown):  # a frame's views (no odds), or not this build's: rendered as they are
            return Markup(self._render("partials/odds_asof.html", items=items).strip())
        key: AsofKey
        if self._asof_quiet:  # as shipped, the line names the markets not current, and whether that is all of them
            # (an article's view keeps its market's stale_text)
            stale = tuple((v.written, v.key) for v in items if v.stale_text)
            if not stale:
                return Markup("")
            key = (stale, len(stale) < len(items))
        else:
            key = tuple((v.written, v.key) for v in items)
        html = self.memo.asof.get(key)
        if html is None:
            html = self.memo.asof[key] = Markup(self._render("partials/odds_asof.html", items=shown).strip())
        return html

    @cached_property
    def _asof_quiet(self) -> bool:
        """Whether the site's odds_asof.html is one known to say nothing of odds that are all
        current (`QUIET_ASOF`); any other is rendered for each group, whatever it says."""
        try:
            source = self.env.loader.get_source(self.env, "partials/odds_asof.html")[0] if self.env.loader else ""
        except jinja2.TemplateNotFound:
            return False
        return hashlib.sha256(template_code(source).encode()).hexdigest() in QUIET_ASOF

    def inline_variant(self, article: Article, ref: MarketRef) -> str:
        """An inline widget is compact when its market is already under the headline."""
        return "compact" if any(u.ref.key == ref.key for u in article.markets) else "inline"

    def article_context(self, article: Article) -> dict[str, Any]:
        """What an article's template needs besides the article: whether the page shows
        odds (so that it says the disclaimer once) and the stories to read next."""
        return {"odds_shown": bool(self._widget_refs(article)), "more": self.more_stories(article)}

    def stories(self, listed: Sequence[ArticleView]) -> list[ArticleView]:
        """`stories(listed)`, worked out once for a list that several pages ask about."""
        if self._stories is None or self._stories[0] is not listed:
            self._stories = (listed, stories(listed))
        return self._stories[1]

    def more_stories(self, article: Article) -> tuple[ArticleView, ...]:
        """"More on these markets": other stories citing its markets, then sharing a topic."""
        return () if article.is_page else self._more_lists().get(article.path, ())

    def _more_lists(self) -> dict[str, tuple[ArticleView, ...]]:
        """Every story's "More on these markets", worked out at once for all of them."""
        known = self.memo.more
        if known is None or known[0] is not self.inp.articles:
            listed = stories([self.listed_view(a) for a in self.inp.articles])
            keys = [Story(v.date.timestamp(), frozenset(use.ref.key for _, use in market_uses(v.article)),
                          frozenset(t.url for t in v.tags)) for v in listed]
            chosen = more_stories(keys)
            before = known[1] if known is not None else None
            known = self.memo.more = (self.inp.articles, {
                v.article.path: tuple(listed[j] for j in at) for v, at in zip(listed, chosen, strict=True)})
            self.memo.more_readers = None
            # A page's fingerprint covers the stories it lists: forget those that list others now.
            # (Without lists before, no fingerprint was worked out: each one asks for them first.)
            if before is not None:
                for a in self.inp.articles:
                    if _shown(before.get(a.path, ())) != _shown(known[1].get(a.path, ())):
                        self.memo.prints.pop(seen(a), None)
        return known[1]

    def _more_parts(self, article: Article) -> list[str]:
        """What an article page shows of its "More on these markets" stories, for its fingerprints."""
        return _shown(self.more_stories(article))

    def moves(self, listed: Sequence[ArticleView], skip: Iterable[str] = ()) -> list[tuple[WidgetView, ArticleView]]:
        """"Biggest moves": the cited markets that moved most in 24 hours, each with its newest
        story; not those whose keys are in `skip` (shown beside the list already)."""
        skipped = set(skip)
        pages = [m for m in self.market_pages(listed) if m.articles and m.widget.key not in skipped]
        ranked = biggest_moves([Move(m.widget.key, m.widget.question, m.widget.change,
                                     m.widget.state == "open" and not m.widget.stale_text) for m in pages])
        return [(pages[i].widget, pages[i].articles[0]) for i in ranked]

    def listed_view(self, article: Article) -> ArticleView:
        """An article as list pages need it: widgets and links, no body."""
        view = self.memo.views_of.get(seen(article))
        if view is None:
            view = self.memo.views_of[seen(article)] = self._listed_view(article)
        return view

    def _listed_view(self, article: Article) -> ArticleView:
        return ArticleView(
            article=article, url=article_url(self.config, article), title=article.title,
            summary=summarise(article), authors=article.authors,
            tags=tuple(TagLink(topic_name(t, self.config.topics), tag_url(t), t) for t in article.tags),
            related=tuple(self.widget(u.written, u.ref, article.date) for u in article.markets),
            body_html="", date=article.date, updated=article.updated,
            image=self.inp.assets.resolve(article.image) if article.image else None,
            image_alt=article.image_alt or "", draft=article.draft, future=article.date > self.inp.now,
        )

    def seed_item(self, view: ArticleView, html: bytes) -> None:
        """Adopt a list item rendered elsewhere (by a worker process), as UTF-8: every process
        of a build holds every item, and as text one ▲ or … makes each of its characters
        two bytes (an article's item is about 2 KB of UTF-8)."""
        self._items[seen(view.article)] = html

    def article_item(self, view: ArticleView) -> Markup:
        """An article as list pages show it, rendered once however many lists it is on."""
        if self._framing:  # reached past the frame's own (from a macro): the item would be kept as it is now
            raise _ShowsOdds("article_item")
        html = self._items.get(seen(view.article))
        if html is None:
            html = self._items[seen(view.article)] = Markup(self._render("partials/article_item.html", a=view))
        return Markup(html.decode("utf-8")) if isinstance(html, bytes) else html

    def other_pages(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        """Everything but the article pages, from the articles' body-less views (newest first)."""
        yield from self.index_pages(listed)
        yield from self.tag_pages(listed)
        market_pages = self.market_pages(listed)
        for page in market_pages:
            if not self._wanted(page_file(page.url)):
                continue
            w = page.widget
            meta = self.meta(w.question, page.url, f"{w.question}: {w.summary}. Our stories on this market.")
            fp = self.list_fingerprint("market", page.url, self.market_digest(w.written, page.ref),
                                       articles=page.articles)
            yield self._page("market.html", page.url, meta, fp, page.articles, market=page)
        if self._wanted("markets/index.html"):
            ranked = sorted(market_pages, key=lambda m: (m.widget.state == "unavailable", m.widget.question.lower()))
            meta = self.meta("Markets", "/markets/",
                             "Every prediction market our stories cover, with its current odds.")
            # Of the articles it shows only the counts per market (which an edit that moves
            # nothing keeps) and the biggest moves' stories: an edit to any other article
            # does not make it again (see only_showing).
            moves = self.moves(listed)
            statement = odds_statement(self.inp.snapshot, self.config.tz)
            yield self._page("markets.html", "/markets/", meta, "", [story for _, story in moves], markets=ranked,
                             snapshot=self.inp.snapshot, odds_statement=statement, moves=moves)
        yield from self.feeds(listed)
        yield from self.card_files(listed)
        if self.shard[0] == 0 if self.shard is not None else self._wanted("404.html"):  # shard 0: site-wide files
            latest = self.stories(listed)[:LATEST_ON_404]
            yield self._page("404.html", "/404.html", self.meta("Page not found", "", noindex=True), "", latest,
                             latest=latest)
        if self.only is not None:  # the rest shows no article beyond what its shape says
            yield from self.sitemaps(listed, market_pages)
            return
        if self.shard is not None and self.shard[0] != 0:
            return
        yield from self.sitemaps(listed, market_pages)
        yield OutputFile("robots.txt", self._render("robots.txt").encode("utf-8"))
        yield OutputFile("snapshot.json", self.snapshot_text().encode("utf-8"))

    def snapshot_text(self) -> str:
        """The snapshot as JSON (/snapshot.json), made once."""
        if not self._snapshot_text:
            self._snapshot_text = snapshot_to_json(self.inp.snapshot)
        return self._snapshot_text

    def index_pages(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        cfg = self.config
        moves: list[tuple[WidgetView, ArticleView]] | None = None
        for pager in paginate(self.stories(listed), cfg.per_page, "/"):
            if not self._wanted(page_file(pager.url)):
                continue
            if pager.number == 1:  # the lead story's markets are shown with it
                moves = self.moves(listed, [w.key for w in pager.items[0].related] if pager.items else ())
            # Only the front page shows the moves (each a market's widget: its digest, not its repr).
            shown = [(view_digest(w), v.url, v.title) for w, v in moves or ()] if pager.number == 1 else []
            title = cfg.title if pager.number == 1 else f"{cfg.title}, page {pager.number}"
            fp = self.list_fingerprint("index", pager.number, pager.count, shown, articles=pager.items)
            shows = [*pager.items, *(v for _, v in moves or ())] if pager.number == 1 else pager.items
            # The front page's lead and "Biggest moves" show odds of their own: rendered whole.
            frame = self.frame_fingerprint("index.html", pager.url, pager.number, pager.count,
                                           articles=pager.items) if pager.number > 1 else ""
            yield self._page("index.html", pager.url, self.meta(title, pager.url), fp, shows, frame, pager=pager,
                             moves=moves if pager.number == 1 else [])

    def tags_of(self, listed: Sequence[ArticleView]) -> dict[str, tuple[str, list[ArticleView]]]:
        """Tag URL -> (display name, its articles newest first)."""
        if self._tags is not None and self._tags[0] is listed:  # several stages ask for the same
            return self._tags[1]
        index = self.memo.tag_index
        if self.only is None or index is None:  # else the groups are as they were (only_showing)
            groups: dict[str, tuple[str, list[int]]] = {}
            for i, v in enumerate(listed):
                for t in () if v.article.is_page else v.tags:
                    groups.setdefault(t.url, (t.name, []))[1].append(i)
            index = self.memo.tag_index = dict(sorted(groups.items()))
        found = {url: (name, [listed[i] for i in at]) for url, (name, at) in index.items()}
        self._tags = (listed, found)
        return found

    def tag_pages(self, listed: Sequence[ArticleView]) -> Iterator[OutputFile]:
        tags = self.tags_of(listed)
        for url, (name, items) in tags.items():
            feed = FeedLink(f"{self.config.title}: {name}", feed_url(url))
            description = f"Stories about {name}, with the odds of the markets they cover."
            for pager in paginate(items, self.config.per_page, url):
                if not self._wanted(page_file(pager.url)):
                    continue
                title = name if pager.number == 1 else f"{name}, page {pager.number}"
                meta = self.meta(title, pager.url, description, feeds=(feed,))
                fp = self.list_fingerprint("tag", name, pager.number, pager.count, articles=pager.items)
                frame = self.frame_fingerprint("tag.html", pager.url, name, pager.number, pager.count,
                                               articles=pager.items)
                yield self._page("tag.html", pager.url, meta, fp, pager.items, frame, tag=name, pager=pager,
                                 feed_url=feed.url)
        if self._wanted("tags/index.html"):
            index = sorted(((name, url, len(items)) for url, (name, items) in tags.items()),
                           key=lambda x: x[0].lower())
            yield self._page("tags.html", "/tags/", self.meta("Topics", "/tags/"), tags=index)

    def market_pages(self, listed: Sequence[ArticleView]) -> list[MarketPage]:
        """One page per referenced market or event, listing the articles that reference it."""
        index = self.memo.market_index
        # Grouped afresh once per list; with `only` set, the groups are as they were (only_showing).
        if index is None or (self.only is None and self._markets_of is not listed):
            self._markets_of = listed
            markets: dict[str, tuple[RefUse, list[int]]] = {}
            for i, v in enumerate(listed):
                for path, use in () if v.article.is_page else market_uses(v.article):
                    markets.setdefault(path, (use, []))[1].append(i)
            index = self.memo.market_index = [(path, use, at) for path, (use, at) in sorted(markets.items())]
        return [
            MarketPage(use.ref, self.widget(use.written, use.ref), "/" + path, tuple([listed[i] for i in at]))
            for path, use, at in index
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

        feeds = [(FeedInfo(cfg.title, "/feed.xml", "/"), self.stories(listed))]
        feeds += [(FeedInfo(f"{cfg.title}: {name}", feed_url(url), url), items)
                  for url, (name, items) in self.tags_of(listed).items()]
        for info, items in feeds:
            path = page_file(info.url)
            if not self._wanted(path):
                continue
            self._shows(path, items[: cfg.feed_entries])
            entries = [entry(v) for v in items[: cfg.feed_entries]]
            xml = self._render("feed.xml", feed=info, items=entries)
            yield OutputFile(path, xml.encode("utf-8"))

    def sitemaps(self, listed: Sequence[ArticleView], market_pages: Sequence[MarketPage]) -> Iterator[OutputFile]:
        """`sitemap.xml` (an index past the size limit) and the Google News sitemap.

        A list page's lastmod is its newest article's: a market page's odds change every
        hour, but what a search engine should re-read it for is new coverage.
        """

        def newest(items: Sequence[ArticleView]) -> datetime | None:
            return max((v.article.modified for v in items), default=None)

        news = [v for v in self.stories(listed)
                if not v.draft and self.inp.now - self.inp.news_window <= v.date <= self.inp.now]
        self._shows(NEWS_SITEMAP, news)
        if self.only is None:  # else the other sitemaps stay: they list URLs and dates, which such an edit keeps
            entries = (
                [SitemapEntry("/", newest(listed))]
                + [SitemapEntry(v.url, v.article.modified) for v in listed]
                + [SitemapEntry("/tags/", newest(listed))]
                + [SitemapEntry(url, newest(items)) for url, (_, items) in self.tags_of(listed).items()]
                + [SitemapEntry("/markets/", newest(listed))]
                + [SitemapEntry(m.url, newest(m.articles)) for m in sorted(market_pages, key=lambda m: m.url)]
            )
            yield from sitemap_files(entries, self.config.base_url, self.inp.sitemap_max_urls)
        if self.only is None or self._wanted(NEWS_SITEMAP):
            yield news_sitemap([NewsEntry(v.url, v.title, v.date) for v in news], self.config.base_url,
                               self.config.title, self.config.language, self.inp.now, self.inp.news_window)



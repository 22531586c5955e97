"""Page URLs -> `sitemap.xml` (split under a sitemap index when large) and the Google News sitemap. Pure.

Dates come from the articles, never from the build's clock, so the sitemaps change only
when the site's pages do. The one exception is the news sitemap's 48-hour window,
which moves with `now` and drops an article once it is two days old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from marketnews.markets.model import format_time
from marketnews.output import OutputFile
from marketnews.seo import absolute_url

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
MAX_URLS = 50_000  # the sitemap protocol's limit for one file
NEWS_WINDOW = timedelta(hours=48)  # Google News reads articles of the last two days
NEWS_MAX_URLS = 1_000  # and at most this many in one news sitemap
NEWS_SITEMAP = "news-sitemap.xml"


@dataclass(frozen=True)
class SitemapEntry:
    url: str  # root-relative
    lastmod: datetime | None = None


@dataclass(frozen=True)
class NewsEntry:
    url: str  # root-relative
    title: str
    published: datetime




def _loc(base_url: str, url: str) -> str:
    return escape(absolute_url(base_url, url))


def _urlset(entries: Sequence[SitemapEntry], base_url: str) -> bytes:
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    for e in entries:
        lastmod = f"<lastmod>{format_time(e.lastmod)}</lastmod>" if e.lastmod else ""
        lines.append(f"  <url><loc>{_loc(base_url, e.url)}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def sitemap_files(entries: Sequence[SitemapEntry], base_url: str, max_urls: int = MAX_URLS) -> list[OutputFile]:
    """`sitemap.xml`; past `max_urls` URLs, an index of `sitemap-1.xml`, `sitemap-2.xml`, …"""
    if max_urls < 1:
        raise ValueError("max_urls must be 1 or more")
    if len(entries) <= max_urls:
        return [OutputFile("sitemap.xml", _urlset(entries, base_url))]
    files: list[OutputFile] = []
    index = ['<?xml version="1.0" encoding="utf-8"?>', f'<sitemapindex xmlns="{SITEMAP_NS}">']
    for n, start in enumerate(range(0, len(entries), max_urls), 1):
        part = entries[start : start + max_urls]
        name = f"sitemap-{n}.xml"
        files.append(OutputFile(name, _urlset(part, base_url)))
        dates = [e.lastmod for e in part if e.lastmod is not None]
        lastmod = f"<lastmod>{format_time(max(dates))}</lastmod>" if dates else ""
        index.append(f"  <sitemap><loc>{_loc(base_url, '/' + name)}</loc>{lastmod}</sitemap>")
    index.append("</sitemapindex>")
    return [OutputFile("sitemap.xml", ("\n".join(index) + "\n").encode("utf-8")), *files]


def news_language(language: str) -> str:
    """A page language -> the ISO 639 code Google News expects ("en-GB" -> "en"; "zh-TW" -> "zh-tw")."""
    code = language.strip().lower().replace("_", "-")
    if code.startswith("zh-"):
        return "zh-tw" if code in ("zh-tw", "zh-hant", "zh-hk") else "zh-cn"
    return code.split("-", 1)[0] or "en"


def news_sitemap(
    entries: Sequence[NewsEntry], base_url: str, name: str, language: str, now: datetime,
    window: timedelta = NEWS_WINDOW,
) -> OutputFile:
    """The Google News sitemap: articles published in the `window` before `now`, newest first.

    Written even when empty, so robots.txt can always name it.
    """
    recent = sorted(
        (e for e in entries if now - window <= e.published <= now),
        key=lambda e: (e.published, e.url), reverse=True,
    )[:NEWS_MAX_URLS]
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">']
    lang = escape(news_language(language))
    for e in recent:
        lines += [
            "  <url>",
            f"    <loc>{_loc(base_url, e.url)}</loc>",
            "    <news:news>",
            f"      <news:publication><news:name>{escape(name)}</news:name>"
            f"<news:language>{lang}</news:language></news:publication>",
            f"      <news:publication_date>{format_time(e.published)}</news:publication_date>",
            f"      <news:title>{escape(e.title)}</news:title>",
            "    </news:news>",
            "  </url>",
        ]
    lines.append("</urlset>")
    return OutputFile(NEWS_SITEMAP, ("\n".join(lines) + "\n").encode("utf-8"))

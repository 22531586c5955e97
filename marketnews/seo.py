"""What a page tells search engines, social cards and feed readers about itself: `PageMeta`. Pure.

One `PageMeta` per page carries its canonical URL, description, Open Graph and Twitter
card values and, for articles, the `NewsArticle` JSON-LD; `layouts/partials/head_meta.html`
lays it out in `<head>`. Nothing here depends on the snapshot's time, so a page's head
changes only when its article or the site's settings do.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from marketnews.config import SiteConfig

RASTER = (".png", ".jpg", ".jpeg", ".gif", ".webp")


@dataclass(frozen=True)
class FeedLink:
    title: str
    url: str  # root-relative


@dataclass(frozen=True)
class PageMeta:
    title: str  # the page's own title, without the site's name (og:title)
    description: str
    url: str  # canonical absolute URL; "" for a page that has none (the 404 page)
    type: str = "website"  # og:type: website | article
    image: str = ""  # absolute URL of the social-card image
    image_alt: str = ""
    image_width: int = 0  # the image's size in pixels when known (a share card's: 1200 x 630), else 0
    image_height: int = 0
    published: str = ""  # ISO 8601 with offset (article:published_time)
    modified: str = ""
    tags: tuple[str, ...] = ()
    jsonld: str = ""  # JSON text that is safe inside <script>
    feeds: tuple[FeedLink, ...] = ()  # alternate feeds besides the site-wide one
    noindex: bool = False


def absolute_url(base_url: str, url: str) -> str:
    """A root-relative URL on the site -> absolute; an absolute URL is returned unchanged."""
    if url.startswith(("https://", "http://")):
        return url
    return base_url.rstrip("/") + "/" + url.lstrip("/")


def iso(when: datetime, tz: tzinfo) -> str:
    """ISO 8601 with the zone's offset, to the second: 2026-11-20T09:30:00+00:00."""
    return when.astimezone(tz).isoformat(timespec="seconds")


def card_image(config: SiteConfig, image: str | None, image_alt: str = "") -> tuple[str, str]:
    """(absolute URL, alt) of the image a social card shows for a page.

    The page's own image when it is a raster format (social networks do not show SVG),
    else the site's default `image`. The URL is the file's original name, not its
    fingerprinted one: cards and crawlers keep it long after the next deploy.
    """
    if image and posixpath.splitext(image.split("?", 1)[0])[1].lower() in RASTER:
        return absolute_url(config.base_url, image), image_alt
    if config.image:
        return absolute_url(config.base_url, config.image), config.image_alt or config.title
    return "", ""


def script_json(value: Any) -> str:
    """JSON for a `<script type="application/ld+json">` block.

    `<`, `>` and `&` are written as \\u escapes, which JSON allows anywhere in a string,
    so no text from an article can close the script element (`</script>`) or open a
    comment in it.
    """
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def news_article(
    config: SiteConfig,
    *,
    url: str,
    headline: str,
    description: str,
    published: str,
    modified: str,
    authors: Sequence[str],
    images: Sequence[str],
    tags: Sequence[str],
) -> dict[str, Any]:
    """The schema.org `NewsArticle` of one article page (URLs absolute, dates ISO 8601 with offset)."""
    site = config.base_url + "/"
    publisher: dict[str, Any] = {"@type": "Organization", "name": config.title, "url": site}
    if config.image:
        publisher["logo"] = {"@type": "ImageObject", "url": absolute_url(config.base_url, config.image)}
    author = (
        [{"@type": "Person", "name": name} for name in authors]
        if authors else [{"@type": "Organization", "name": config.title, "url": site}]
    )
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": headline,
        "description": description,
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "datePublished": published,
        "dateModified": modified,
        "author": author,
        "publisher": publisher,
        "inLanguage": config.language,
        "isAccessibleForFree": True,
    }
    if images:
        doc["image"] = list(images)
    if tags:
        doc["keywords"] = list(tags)
    return doc

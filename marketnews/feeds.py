"""What an Atom feed needs beyond its entries: `FeedInfo`, feed URLs, and absolute links. Pure.

The site-wide feed is `/feed.xml`; each topic has `/tags/<tag>/feed.xml`. Both are
rendered by `layouts/feed.xml` with entries carrying the full article, odds as text.
Links in entry content are made absolute: feed readers show entries away from the
site, and not all of them honour `xml:base`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ROOT_REF = re.compile(r"""\b(src|href)="/(?!/)""")


@dataclass(frozen=True)
class FeedInfo:
    title: str
    url: str  # root-relative URL of the feed itself
    page_url: str  # root-relative URL of the HTML page the feed follows


def feed_url(page_url: str) -> str:
    """`/tags/nato/` -> `/tags/nato/feed.xml`; `/` -> `/feed.xml`."""
    return page_url.rstrip("/") + "/feed.xml"


def absolute_links(html: str, base_url: str) -> str:
    """Make root-relative `src="/…"` and `href="/…"` attributes absolute on `base_url`."""
    return _ROOT_REF.sub(lambda m: f'{m.group(1)}="{base_url.rstrip("/")}/', html)

"""Page weight: an article page's HTML and CSS (sparklines are inline SVG, so inside the HTML)
stay under 50 KB before compression. Images are not counted. Needs no browser."""

from __future__ import annotations

import re
from pathlib import Path

BUDGET = 50_000  # bytes, uncompressed
# JSON-LD is data, not code; any other <script> would be JavaScript.
SCRIPT = re.compile(r'<script(?![^>]*type="application/ld\+json")[\s>]', re.I)
STYLESHEET = re.compile(r'<link[^>]*rel="stylesheet"[^>]*href="(?:https?://[^/"]+)?(/[^"]+)"')


def page_weight(site: Path, page: Path) -> tuple[int, int]:
    """(HTML bytes, CSS bytes) of one page, CSS being every stylesheet it links."""
    html = page.read_bytes()
    css = sum((site / href.lstrip("/")).stat().st_size for href in STYLESHEET.findall(html.decode("utf-8")))
    return len(html), css


def test_article_pages_are_under_budget(example_site: Path) -> None:
    articles = sorted(example_site.glob("20[0-9][0-9]/[0-9][0-9]/*/index.html"))
    assert len(articles) >= 6
    for page in articles:
        html, css = page_weight(example_site, page)
        assert css > 0, f"{page}: no stylesheet found"
        assert html + css < BUDGET, f"{page.relative_to(example_site)}: {html} B HTML + {css} B CSS"
    for page in (example_site / "index.html", example_site / "404.html"):
        html, css = page_weight(example_site, page)
        assert html + css < BUDGET, f"{page.relative_to(example_site)}: {html} B HTML + {css} B CSS"


def test_pages_carry_no_javascript(example_site: Path) -> None:
    for page in example_site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not SCRIPT.search(text), f"{page}: a script"
        assert "javascript:" not in text.lower() and " onclick=" not in text.lower(), page

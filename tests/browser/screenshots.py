"""The documentation's screenshots: the example site's article, front page and market page at
1280x800 and 390x844 (the first screen), light, into docs/images/, and the desktop
article's whole page. Run from the repository root, after changing
the layouts or the stylesheet, and look at them before committing:

    python3 -m tests.browser.screenshots

Builds the example site from its example snapshot at the browser tests' clock, serves it on
127.0.0.1 and shoots each page whole with Debian's Chromium (Playwright).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, build_site, serve
from tests.conftest import REPO

OUT = REPO / "docs" / "images"
PAGES = {
    "article": "/2026/11/bitcoin-november-slide/",
    "front": "/",
    "market": "/markets/will-bitcoin-dip-to-80k-in-november-2026/",
}
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        public = Path(tmp) / "public"
        build_site(REPO, public, REPO / "data" / "example-snapshot.json", Path(tmp) / "cache")
        server = serve(public)
        base = next(server)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for name, path in PAGES.items():
                for size, (width, height) in SIZES.items():
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    page.goto(base + path, wait_until="networkidle")
                    # The first screen, as a reader sees it; the README shows the desktop article.
                    shot = OUT / (f"{name}.png" if (name, size) == ("article", "desktop") else f"{name}-{size}.png")
                    page.screenshot(path=str(shot))
                    print(shot.relative_to(REPO))
                    if size == "desktop" and name == "article":  # and the whole page: cards, more stories
                        page.screenshot(path=str(OUT / "article-full.png"), full_page=True)
                    context.close()
            browser.close()
        server.close()


if __name__ == "__main__":
    main()

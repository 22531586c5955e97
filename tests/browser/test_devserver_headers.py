"""The dev server sends the site's Content-Security-Policy, opened only for its own reload
script: in Chromium the script runs, the page reloads on a save, and nothing is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from marketnews.devserver import DevServer
from marketnews.markets.snapshots import snapshot_from_file
from marketnews.pipeline import SitePaths
from tests.conftest import NOW_EPOCH, REPO, Site, article, quote
from tests.devclient import save

pytestmark = pytest.mark.browser


def test_live_reload_works_under_the_sites_policy(browser: Any, site: Site, tmp_path: Path) -> None:
    (site.root / "netlify.toml").write_text((REPO / "netlify.toml").read_text())
    site.snapshot({"nato-2027": quote("Will NATO meet the 2027 deadline?", 0.31)})
    site.write("content/story.md", article("First headline", markets=["nato-2027"],
                                           body="Text with <script>alert(1)</script> in it.\n"))
    paths = SitePaths(root=site.root, content=site.root / "content", out=site.root / "public",
                      cache=tmp_path / "cache")
    server = DevServer(paths, snapshot_from_file(site.root / "snapshot.json"),
                       lambda: datetime.fromtimestamp(NOW_EPOCH, tz=UTC), port=0)
    server.start()
    context = browser.new_context()
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        response = page.goto(server.url + "2026/11/story/", wait_until="load")
        assert response is not None and "script-src 'sha256-" in response.headers["content-security-policy"]
        assert page.locator("h1").inner_text() == "First headline"
        # A save before the stream connects is not missed: the stream's hello names the newer build.
        with page.expect_navigation(timeout=20_000):
            save(site.root / "content/story.md", article("Second headline", markets=["nato-2027"]))
        assert page.locator("h1").inner_text() == "Second headline"
        assert problems == [], problems  # no policy violation, no error
    finally:
        context.close()
        server.stop()

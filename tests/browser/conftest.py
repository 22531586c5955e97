"""Fixtures for the browser tests: build sites into temp folders, serve them on 127.0.0.1,
open them in headless Chromium (Debian's package, driven by Playwright for Python).

Two sites are built once per session: the repo's example site, and `states-site/`, a small
site whose story shows every state an odds widget can be in (open, thinly traded, stale,
closed, resolved, a multi-outcome event, a market missing from the snapshot). Both use the
repo's own `layouts/` and `static/`, and a snapshot file, so no test touches the network.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

HERE = Path(__file__).resolve().parent
CHROMIUM = Path(os.environ.get("MARKETNEWS_CHROMIUM", "/usr/bin/chromium"))
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# The build's clock: half an hour after both snapshots were taken, so quotes are fresh
# except the one the states site makes stale on purpose.
NOW_EPOCH = "1795278600"  # 2026-11-21T16:30:00Z
# What production serves: no inline styles, no scripts from elsewhere. Inline scripts are
# allowed only so the tests can inject axe-core; production pages carry none (checked).
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
       "script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'")
IMAGE_DELAY_S = 0.3  # images arrive late, so a missing width/height would shift the layout


def build_site(root: Path, out: Path, snapshot: Path, cache: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": NOW_EPOCH, "MARKETNEWS_CACHE": str(cache)}
    proc = subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--root", str(root), "--out", str(out),
         "--snapshot", str(snapshot), "--quiet"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"build failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's example site, built from its example snapshot."""
    tmp = tmp_path_factory.mktemp("example")
    build_site(REPO, tmp / "public", REPO / "data" / "example-snapshot.json", tmp / "cache")
    return tmp / "public"


@pytest.fixture(scope="session")
def states_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The every-widget-state site, with the repo's layouts and static files."""
    tmp = tmp_path_factory.mktemp("states")
    root = tmp / "site"
    shutil.copytree(HERE / "states-site", root)
    shutil.copytree(REPO / "layouts", root / "layouts")
    shutil.copytree(REPO / "static", root / "static")
    build_site(root, tmp / "public", root / "snapshot.json", tmp / "cache")
    return tmp / "public"


# --- serving ---------------------------------------------------------------------------


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a built site like the CDN: 404.html for missing pages, a strict CSP."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def send_head(self) -> Any:
        if "/images/" in self.path:
            time.sleep(IMAGE_DELAY_S)
        return super().send_head()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(str(self.directory)) / "404.html"
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def serve(folder: Path) -> Iterator[str]:
    handler = functools.partial(SiteHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def sites(example_site: Path, states_site: Path) -> Iterator[dict[str, str]]:
    """Base URLs of the served sites, by name."""
    example, states = serve(example_site), serve(states_site)
    yield {"example": next(example), "states": next(states)}
    for gen in (example, states):
        gen.close()


# --- the browser -----------------------------------------------------------------------


def _missing_browser_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[browser]')"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if not AXE.is_file():
        return f"axe-core is missing at {AXE} (npm ci --prefix tests/browser)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _missing_browser_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Visit:
    """One page opened in a fresh browser context, with everything that went wrong on the way."""

    page: Any
    status: int
    html: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations on the page as it is now."""
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        return list(result["violations"])

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


VIEWPORTS = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture
def visit(browser: Any, sites: dict[str, str]) -> Iterator[Any]:
    """visit(site, path, viewport="desktop", scheme="light") -> Visit, the page fully loaded."""
    contexts: list[Any] = []

    def open_page(site: str, path: str, viewport: str = "desktop", scheme: str = "light",
                  media: str = "screen") -> Visit:
        context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=scheme,
                                      reduced_motion="reduce", java_script_enabled=True)
        contexts.append(context)
        page = context.new_page()
        page.emulate_media(media=media)
        console: list[str] = []
        failed: list[str] = []
        page.on("console", lambda m: console.append(f"{m.text} [{m.location.get('url', '')}]")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: failed.append(f"{r.url}: HTTP {r.status}")
                if r.status >= 400 and r.request.resource_type != "document" else None)
        response = page.goto(sites[site] + path, wait_until="load")
        assert response is not None
        html = response.text()
        page.wait_for_load_state("networkidle")
        return Visit(page, response.status, html, console, failed)

    yield open_page
    for context in contexts:
        context.close()

"""Helpers for the deploy, feed and SEO tests: build a site in-process and read it back."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from marketnews.markets.snapshots import snapshot_from_file
from marketnews.pipeline import BuildOptions, BuildReport, SitePaths, build
from tests.conftest import REPO, tree

__all__ = ["REPO", "tree"]  # the deploy, feed and SEO tests take them from here

EXAMPLE_SNAPSHOT = REPO / "data" / "example-snapshot.json"
# An hour after the example snapshot was taken: every quote is fresh, every article published.
NOW = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
BASE_URL = "https://market-ledger.netlify.app"


def build_example(out: Path, cache: Path, snapshot: Path = EXAMPLE_SNAPSHOT, now: datetime = NOW,
                  root: Path = REPO, content: Path | None = None) -> BuildReport:
    paths = SitePaths(root=root, content=content or root / "content", out=out, cache=cache)
    return build(paths, BuildOptions(jobs=1), now, snapshot_from_file(snapshot))


def url_of(path: str) -> str:
    """Output path -> the URL a reader asks for: "a/index.html" -> "/a/"."""
    if path == "index.html":
        return "/"
    if path.endswith("/index.html"):
        return "/" + path[: -len("index.html")]
    return "/" + path


def moved_snapshot(dest: Path, key: str, probability: float, source: Path = EXAMPLE_SNAPSHOT) -> Path:
    """A copy of a snapshot file with one market's price moved."""
    doc = json.loads(source.read_text(encoding="utf-8"))
    quote = doc["quotes"][key]
    quote["probability"] = probability
    for outcome in quote.get("outcomes", []):
        if outcome["name"] == (quote.get("headline_outcome") or "Yes"):
            outcome["probability"] = probability
    dest.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return dest


def copy_site(dest: Path) -> Path:
    """A copy of the example site (settings, layouts, static files, content) to change in a test."""
    for name in ("layouts", "static", "content", "data"):
        shutil.copytree(REPO / name, dest / name)
    shutil.copy(REPO / "site.yaml", dest / "site.yaml")
    return dest


class Page(HTMLParser):
    """The parts of an HTML page the tests look at."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, list[str]] = {}  # property or name -> contents
        self.links: list[dict[str, str]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self._script: dict[str, str] | None = None
        self._script_text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta.setdefault(a.get("property") or a["name"], []).append(a.get("content", ""))
        elif tag == "link":
            self.links.append(a)
        elif tag == "script":
            self._script, self._script_text = a, []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._script_text)))
            self._script = None

    def one(self, key: str) -> str:
        values = self.meta.get(key, [])
        assert len(values) == 1, f"{key}: expected one, got {values}"
        return values[0]

    def link(self, rel: str) -> list[dict[str, str]]:
        return [a for a in self.links if rel in a.get("rel", "").split()]

"""Shared fixtures: small sites in temporary folders, built through the real command line."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from marketnews.cli import main
from marketnews.site import ASOF, ITEM, Shell

REPO = Path(__file__).resolve().parents[1]
NOW_EPOCH = 1795280400  # 2026-11-21T17:00:00Z, an hour after the test snapshots were taken
TAKEN_AT = "2026-11-21T16:00:00Z"


def is_list_frame(frame: Shell) -> bool:
    """Whether a page frame from the memo is a list page's (its slots are list items and
    "odds as of" lines), not an article's shell."""
    return any(variant in (ITEM, ASOF) for _, _, variant in frame.slots)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` as {"a/b.html": bytes}."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def entries(folder: Path) -> dict[str, tuple[int, int]]:
    """`folder` ("") and every file and folder under it as {"a/b.html": (inode, mtime in ns)}:
    what a write that touches nothing leaves as it was."""
    return {p.relative_to(folder).as_posix() if p != folder else "": (st.st_ino, st.st_mtime_ns)
            for p in [folder, *sorted(folder.rglob("*"))] for st in [p.lstat()]}


SITE_YAML = """\
title: Test Ledger
tagline: All the News That's Fit to Trade
base_url: https://news.example.org
timezone: UTC
per_page: 2
disclaimer: Odds are traders' bets, not our forecasts.
low_volume: 5000
example_snapshot: snapshot.json
"""


def quote(question: str, probability: float | None = 0.07, **fields: Any) -> dict[str, Any]:
    """A snapshot quote in its JSON form, open and fresh unless told otherwise."""
    q: dict[str, Any] = {
        "kind": "market", "question": question, "url": f"https://polymarket.com/event/e/{question[:8]}",
        "status": "open", "probability": probability, "headline_outcome": "Yes",
        "outcomes": [] if probability is None else [
            {"name": "Yes", "probability": probability, "url": None},
            {"name": "No", "probability": round(1 - probability, 6), "url": None},
        ],
        "change_24h": 0.018, "volume": 250000.0, "end_date": "2026-12-31T00:00:00Z", "winner": None,
        "as_of": TAKEN_AT, "token_id": None, "history": [], "anchors": [],
    }
    q.update(fields)
    return q


def snapshot_doc(quotes: Mapping[str, dict[str, Any]], taken_at: str = TAKEN_AT) -> dict[str, Any]:
    return {"format": "marketnews-snapshot", "version": 1, "taken_at": taken_at, "source": "test",
            "quotes": dict(quotes)}


def article(title: str = "A story", date: str = "2026-11-20T09:30:00Z", body: str = "Body text.",
            **front: Any) -> str:
    lines = ["---", f"title: {json.dumps(title)}", f"date: {date}"]
    for key, value in front.items():
        lines.append(f"{key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n---\n" + body + "\n"


@dataclass
class Site:
    root: Path

    @property
    def out(self) -> Path:
        return self.root / "public"

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def snapshot(self, quotes: Mapping[str, dict[str, Any]], name: str = "snapshot.json", **kw: Any) -> Path:
        return self.write(name, json.dumps(snapshot_doc(quotes, **kw)))

    def page(self, rel: str) -> str:
        return (self.out / rel).read_text(encoding="utf-8")

    def tree(self) -> dict[str, bytes]:
        return tree(self.out)


@pytest.fixture(scope="session")
def built_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The example site as the README's build command makes it, built once for every test reading it."""
    from tests.sitebuild import build_example

    tmp = tmp_path_factory.mktemp("example")
    build_example(tmp / "public", tmp / "cache")
    return tree(tmp / "public")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    """An empty site using the project's own layouts and static files, clock pinned."""
    root = tmp_path / "site"
    shutil.copytree(REPO / "layouts", root / "layouts")
    shutil.copytree(REPO / "static", root / "static")
    (root / "content").mkdir()
    (root / "site.yaml").write_text(SITE_YAML, encoding="utf-8")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_EPOCH))
    monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / "cache"))
    for var in ("MARKETNEWS_GAMMA_URL", "MARKETNEWS_CLOB_URL"):
        monkeypatch.delenv(var, raising=False)
    return Site(root)


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run the marketnews command line in-process; returns exit code, stdout and stderr."""

    def run(*args: str | Path) -> Run:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates rendered from now on, in order (worker processes forked
    after this inherit the counting, but what they render is not seen here)."""
    from marketnews import site as site_module

    names: list[str] = []
    real = site_module.render

    def counting(env: Any, name: str, layouts: Path, **context: Any) -> str:
        names.append(name)
        return real(env, name, layouts, **context)

    monkeypatch.setattr(site_module, "render", counting)
    return names


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the internet: builds through the CLI are offline unless a test
    points them at the local stand-in (tests/standin.py) and clears this."""
    monkeypatch.setenv("MARKETNEWS_OFFLINE", "1")

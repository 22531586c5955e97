"""Builds with live odds from the local stand-in: fresh odds, fallbacks, failures, the CLI flags."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from marketnews import cli
from marketnews.errors import ContentError, MarketnewsError
from marketnews.markets.httpjson import HttpPolicy
from marketnews.markets.model import snapshot_from_json
from marketnews.markets.polymarket import PolymarketSettings
from marketnews.markets.snapshots import LiveOptions, live_snapshot_source
from marketnews.pipeline import BuildOptions, BuildReport, SitePaths, build
from tests.conftest import REPO
from tests.markets.conftest import NOW, fixture_world
from tests.standin import StandIn

XI = "xi-jinping-out-before-2027"
NBA = "nba-will-the-mavericks-beat-the-grizzlies-by-more-than-5pt5-points-in-their-december-4-matchup"
SQUAD = "how-many-members-of-the-squad-will-lose-their-primaries"
FAST = HttpPolicy(read_timeout_s=2, budget_s=10, rate_per_s=0, attempts=2)

ARTICLES = {
    "xi.md": f"""---
title: "Xi and the succession"
date: {(NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")}
markets:
  - {XI}
  - {NBA}
  - no-such-market-anywhere
---
The story.

```market
https://polymarket.com/event/{SQUAD}
```
""",
    "evil.md": f"""---
title: "A question with markup"
date: {(NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
markets:
  - evil-market
---
Text.
""",
}


def evil_market() -> dict[str, object]:
    m = fixture_world().markets[XI].copy()
    m.update(slug="evil-market", question="<script>alert(1)</script> Will it?", clobTokenIds='["666", "667"]')
    return m


def make_site(root: Path, base_url: str) -> SitePaths:
    (root / "content").mkdir(parents=True)
    for name, text in ARTICLES.items():
        (root / "content" / name).write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "layouts", root / "layouts")
    shutil.copytree(REPO / "static", root / "static")
    (root / "data").mkdir()
    example = json.loads((REPO / "data" / "example-snapshot.json").read_text())
    example["quotes"] = {XI: example["quotes"]["xi-jinping-out-before-2027"]}
    (root / "data" / "example.json").write_text(json.dumps(example))
    (root / "site.yaml").write_text(
        f"title: Test Ledger\nbase_url: {base_url}\nexample_snapshot: data/example.json\nstale_after_hours: 2\n"
    )
    return SitePaths(root=root, content=root / "content", out=root / "public", cache=root / ".cache")


@pytest.fixture
def world() -> Iterator[StandIn]:
    server = fixture_world()
    server.markets["evil-market"] = evil_market()
    with server:
        yield server


@pytest.fixture
def site(tmp_path: Path, world: StandIn) -> SitePaths:
    return make_site(tmp_path / "site", world.url)


def run_build(
    site: SitePaths, world: StandIn, now: datetime = NOW, gamma: str | None = None, **options: object
) -> BuildReport:
    settings = PolymarketSettings(gamma=FAST, clob=FAST)
    live = LiveOptions(gamma_url=gamma or world.url, clob_url=world.url, polymarket=settings)
    with httpx.Client() as client:
        source = live_snapshot_source(site, client, live, sleep=lambda s: None)
        return build(site, BuildOptions(jobs=1, **options), now, source)  # type: ignore[arg-type]


def page(site: SitePaths, slug: str, when: datetime) -> str:
    return (site.out / f"{when:%Y}" / f"{when:%m}" / slug / "index.html").read_text()


def test_a_live_build_shows_fresh_odds_winners_events_and_charts(site: SitePaths, world: StandIn) -> None:
    report = run_build(site, world)
    html = page(site, "xi", NOW - timedelta(days=3))
    assert 'data-market="xi-jinping-out-before-2027" data-probability="0.0455"' in html
    assert '<span class="chart chart--spark">' in html and "Past 7 days: from" in html
    assert 'Resolved</span> <span class="odds__winner">No</span>' in html
    assert '<span class="odds__label">2</span> <span class="odds__pct">40%</span>' in html
    assert "when this was published, 5% now" in html  # the anchor three days back
    assert "odds as of" not in html
    market = (site.out / "markets" / XI / "index.html").read_text()
    assert '<span class="chart chart--full">' in market and "<figcaption>Past 7 days" in market
    assert report.stale == 0
    assert report.snapshot_note.startswith("odds: 4 fresh from Polymarket")
    [unknown] = [w for w in report.warnings if "no-such-market-anywhere" in w.message]
    assert (unknown.path, unknown.line) == ("content/xi.md", 7)
    published = snapshot_from_json((site.out / "snapshot.json").read_text())
    cached = snapshot_from_json((site.root / ".cache" / "snapshot.json").read_text())
    assert published.source == "polymarket" and set(published.quotes) == set(cached.quotes)
    assert (site.out / "snapshot.json").read_bytes() == (site.root / ".cache" / "snapshot.json").read_bytes()
    assert len(published.quotes[XI].history) > 100 and published.quotes[XI].anchors


def test_api_text_is_escaped(site: SitePaths, world: StandIn) -> None:
    run_build(site, world)
    html = page(site, "evil", NOW - timedelta(days=1))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Will it?" in html


def test_the_next_hourly_build_makes_no_history_request(site: SitePaths, world: StandIn) -> None:
    run_build(site, world)
    histories, gamma = world.count("/prices-history"), world.count("/markets") + world.count("/events")
    report = run_build(site, world, now=NOW + timedelta(hours=1))
    assert world.count("/prices-history") == histories
    assert world.count("/markets") + world.count("/events") - gamma <= gamma  # resolved ones not asked again
    assert report.odds_requests <= 4


def test_polymarket_down_falls_back_to_the_cache_marked_stale(site: SitePaths, world: StandIn) -> None:
    run_build(site, world)
    world.fault("500", "/markets", times=None)
    world.fault("500", "/events", times=None)
    later = NOW + timedelta(hours=3)
    report = run_build(site, world, now=later)
    assert "from the cache" in report.snapshot_note and "HTTP 500" in report.snapshot_note
    assert report.stale >= 3 and report.oldest_stale_s == 3 * 3600
    html = page(site, "xi", NOW - timedelta(days=3))
    assert "odds as of 21 November 2026, 16:30 UTC" in html
    assert 'data-probability="0.0455"' in html  # the cached quote, not "odds unavailable"
    summary = cli.summary_line(report)
    assert "stale quotes, the oldest 3 hours ago" in summary


def test_a_price_history_outage_is_named_in_the_odds_line(site: SitePaths, world: StandIn) -> None:
    world.fault("503", "/prices-history", times=None)
    report = run_build(site, world)
    assert report.snapshot_note.startswith("odds: 4 fresh from Polymarket")
    assert "price histories failed (HTTP 503" in report.snapshot_note, report.snapshot_note


def test_no_cache_falls_back_to_the_live_sites_snapshot_then_the_example(
    site: SitePaths, world: StandIn, tmp_path: Path
) -> None:
    # A first build elsewhere plays the live site: its /snapshot.json is served by the stand-in.
    other = make_site(tmp_path / "other", world.url)
    run_build(other, world)
    world.site_snapshot = (other.out / "snapshot.json").read_bytes()
    down = "http://127.0.0.1:9"  # nothing listens there
    report = run_build(site, world, gamma=down)
    assert "from " + world.url + "/snapshot.json" in report.snapshot_note
    assert world.count("/snapshot.json") == 1
    world.site_snapshot = None
    shutil.rmtree(site.root / ".cache")
    report = run_build(site, world, gamma=down)
    assert report.snapshot_note.startswith(
        "odds from the example snapshot data/example.json (no live odds), 4 unavailable [Polymarket: "
    )
    html = page(site, "xi", NOW - timedelta(days=3))
    assert 'data-market="xi-jinping-out-before-2027"' in html and "odds unavailable" in html.lower()  # the rest


def test_a_failed_batch_leaves_the_rest_fresh(site: SitePaths, world: StandIn) -> None:
    world.fault("html", "/events", times=None)
    report = run_build(site, world)
    assert report.snapshot_note.startswith("odds: 3 fresh from Polymarket")
    assert "2 unavailable" in report.snapshot_note and "not JSON" in report.snapshot_note
    html = page(site, "xi", NOW - timedelta(days=3))
    assert "odds unavailable" in html.lower() and 'data-probability="0.0455"' in html


def test_strict_makes_an_unknown_slug_an_error(site: SitePaths, world: StandIn) -> None:
    with pytest.raises(ContentError) as err:
        run_build(site, world, strict=True)
    assert any(p.path == "content/xi.md" and p.line == 7 for p in err.value.problems)
    assert not site.out.exists()


def test_max_stale_fails_the_build_and_writes_nothing(site: SitePaths, world: StandIn) -> None:
    run_build(site, world)
    before = (site.out / "snapshot.json").read_bytes()
    world.fault("503", "", times=None)
    with pytest.raises(MarketnewsError, match="--max-stale 6h: .*older than that"):
        run_build(site, world, now=NOW + timedelta(hours=7), max_stale_s=6 * 3600)
    assert (site.out / "snapshot.json").read_bytes() == before
    run_build(site, world, now=NOW + timedelta(hours=5), max_stale_s=6 * 3600)  # within: builds


def test_cli_build_snapshot_and_offline(site: SitePaths, world: StandIn, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("MARKETNEWS_OFFLINE")
    monkeypatch.setenv("MARKETNEWS_GAMMA_URL", world.url)
    monkeypatch.setenv("MARKETNEWS_CLOB_URL", world.url)
    monkeypatch.setenv("MARKETNEWS_CACHE", str(site.root / ".cache"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(NOW.timestamp())))
    out = site.root / "snap.json"
    assert cli.main(["snapshot", "--root", str(site.root), "-o", str(out)]) == 0
    snap = snapshot_from_json(out.read_text())
    assert {XI, NBA, f"event/{SQUAD}", "evil-market"} <= set(snap.quotes)
    assert not site.out.exists()
    err = capsys.readouterr().err
    assert "content/xi.md:7: warning: markets: 'no-such-market-anywhere'" in err
    assert "wrote 4 quotes into" in err

    assert cli.main(["build", "--root", str(site.root), "--strict"]) == 1
    assert cli.main(["build", "--root", str(site.root)]) == 0
    assert "odds: 3 fresh from Polymarket, 1 resolved (final, from the cache)" in capsys.readouterr().out

    asked = world.count()
    assert cli.main(["build", "--root", str(site.root), "--offline"]) == 0
    assert world.count() == asked  # no request at all
    out_text = capsys.readouterr().out
    assert "odds: 4 from the cache, 1 unavailable [offline]" in out_text


def test_duration_flag() -> None:
    assert [cli.duration_s(t) for t in ("6h", "90m", "2d", "45", "1.5h")] == [21600, 5400, 172800, 45, 5400]
    with pytest.raises(Exception, match="expected a duration"):
        cli.duration_s("soon")


def test_the_example_site_builds_offline_with_every_widget_filled(tmp_path: Path) -> None:
    root = tmp_path / "ex"
    for part in ("content", "layouts", "static", "data"):
        shutil.copytree(REPO / part, root / part)
    shutil.copy(REPO / "site.yaml", root / "site.yaml")
    paths = SitePaths(root=root, content=root / "content", out=root / "public", cache=root / ".cache")
    source = live_snapshot_source(paths, None, LiveOptions(offline=True))
    report = build(paths, BuildOptions(jobs=1), datetime.fromisoformat("2026-11-21T17:00:00+00:00"), source)
    assert report.snapshot_note.startswith("odds from the example snapshot data/example-snapshot.json")
    pages = "".join(p.read_text() for p in (root / "public").rglob("*.html"))
    assert "odds unavailable" not in pages.lower() and '<span class="chart chart--spark">' in pages


def test_a_report_keeps_replace_working() -> None:
    # BuildReport stays a frozen dataclass the CLI can summarise.
    report = BuildReport(pages=1, articles=1, warnings=(), seconds=0.1, snapshot_note="n", stale=2,
                         oldest_stale_s=7200)
    assert "2 stale quotes, the oldest 2 hours ago" in cli.summary_line(replace(report, written=None))

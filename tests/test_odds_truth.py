"""Odds that never say something untrue: one stale rule, charts that agree, API data that
makes no sense shown as unavailable, text that cannot be encoded cleaned where it enters."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from marketnews.errors import MarketnewsError
from marketnews.markets.model import Quote, Snapshot, snapshot_from_json
from marketnews.markets.normalise import market_quote
from marketnews.markets.refs import parse_ref
from marketnews.markets.snapshots import LiveOptions, live_snapshot_source
from marketnews.pipeline import BuildOptions, SitePaths, build
from marketnews.widgets import odds_note, odds_statement, widget_view
from tests.conftest import REPO
from tests.markets.conftest import NOW
from tests.standin import StandIn, fixture

DEC_2 = datetime.fromisoformat("2026-12-02T08:00:00+00:00")  # the example's quotes are from 21 November
KNICKS = "nba-will-the-knicks-beat-the-celtics-by-more-than-3pt5-points-in-their-november-19-matchup"


def example_site(tmp_path: Path) -> SitePaths:
    root = tmp_path / "ex"
    for part in ("content", "layouts", "static", "data"):
        shutil.copytree(REPO / part, root / part)
    shutil.copy(REPO / "site.yaml", root / "site.yaml")
    return SitePaths(root=root, content=root / "content", out=root / "public", cache=root / ".cache")


def offline(paths: SitePaths, now: datetime = DEC_2, **options: object):  # type: ignore[no-untyped-def]
    source = live_snapshot_source(paths, None, LiveOptions(offline=True))
    return build(paths, BuildOptions(jobs=1, **options), now, source)  # type: ignore[arg-type]


def html_pages(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.html")}


# --- one rule for "stale" ----------------------------------------------------------------


def test_the_summary_counts_exactly_the_markets_whose_widgets_say_odds_as_of(tmp_path: Path) -> None:
    paths = example_site(tmp_path)
    report = offline(paths)
    marked = set()
    for html in html_pages(paths.out).values():
        for tag in re.findall(r'<div class="odds [^"]*odds--stale[^"]*"[^>]*>', html):
            marked.add(re.search(r'data-market="([^"]*)"', tag).group(1))  # type: ignore[union-attr]
    keys = {m.rsplit("/", 1)[-1] for m in marked}
    assert report.stale == len(keys) == 11  # the resolved Knicks market is a result: never stale
    assert KNICKS not in keys


def test_max_stale_asks_the_same_rule(tmp_path: Path) -> None:
    paths = example_site(tmp_path)
    with pytest.raises(MarketnewsError, match="11 quotes older than that"):
        offline(paths, max_stale_s=3600)


def test_a_resolved_quote_is_never_stale_an_open_one_is() -> None:
    old = Quote(key="k", question="q", url="https://x", as_of=NOW - timedelta(days=30))
    assert old.is_stale(NOW, 3600) and not old.is_stale(NOW, 31 * 86400)
    resolved = Quote(key="k", question="q", url="https://x", as_of=old.as_of, status="resolved", winner="Yes")
    assert not resolved.is_stale(NOW, 3600)


# --- charts that agree -------------------------------------------------------------------


def test_every_chart_and_sentence_about_a_market_comes_from_one_series(tmp_path: Path) -> None:
    paths = example_site(tmp_path)
    offline(paths)
    pages = html_pages(paths.out)
    article = pages["2026/11/knicks-celtics-spread-resolves/index.html"]
    market = pages[f"markets/{KNICKS}/index.html"]
    said = set(re.findall(r"Past \d+ days: from \d+% to \d+%, between \d+% and \d+%", article + market))
    assert len(said) == 1  # the sparkline's text, the chart's caption: one sentence
    # The story says the price "fell to around 20 cents": the chart keeps that swing.
    low = int(re.search(r"between (\d+)%", said.pop()).group(1))  # type: ignore[union-attr]
    assert low <= 22
    spark = re.search(r'<span class="chart chart--spark"><svg.*?</svg>', article, re.S)
    chart = re.search(r'<span class="chart chart--full"><svg.*?</svg>', market, re.S)
    assert spark and chart
    drawn = [re.findall(r'points="([^"]*)"', svg.group(0))[0].split() for svg in (spark, chart)]
    assert len(drawn[0]) == len(drawn[1])  # the same points, drawn at two sizes


# --- API data that makes no sense, text that cannot be encoded -------------------------


def absurd_market() -> dict[str, object]:
    m = fixture("market-binary-open")
    m.update(slug="absurd-market", question="Will \ud800 be \udfff shown?", volumeNum=1e308, volume="-5",
             oneDayPriceChange=42.0, endDate="9999-12-31T00:00:00Z", clobTokenIds='["881", "882"]',
             outcomes='["Yes", "No\\ud800"]')
    return m


def test_absurd_numbers_and_lone_surrogates_are_cleaned_where_they_enter() -> None:
    q = market_quote(absurd_market(), "absurd-market", NOW)
    assert q.question == "Will \ufffd be \ufffd shown?" and q.question.encode("utf-8")
    assert [o.name for o in q.outcomes] == ["Yes", "No\ufffd"]
    assert q.volume is None and q.change_24h is None and q.end_date is None
    negative = fixture("market-binary-open") | {"volumeNum": -3, "volume": "12"}
    assert market_quote(negative, "k", NOW).volume == 12.0
    huge = fixture("market-binary-open") | {"volumeNum": 10**400, "volume": "1e400"}  # too big for a float
    assert market_quote(huge, "k", NOW).volume is None


def test_a_snapshot_file_with_an_absurd_volume_is_refused_by_field() -> None:
    doc = ('{"format": "marketnews-snapshot", "version": 1, "taken_at": "2026-11-21T16:00:00Z", "quotes": '
           '{"a": {"question": "Q\\ud800", "url": "https://polymarket.com/event/a", "volume": -1}}}')
    with pytest.raises(Exception, match=r"quotes\.a\.volume: expected a number from 0 to 1e\+12, got -1"):
        snapshot_from_json(doc, "f.json")
    ok = snapshot_from_json(doc.replace('"volume": -1', '"volume": 5'), "f.json")
    assert ok.quotes["a"].question == "Q\ufffd"


@pytest.fixture
def absurd_world() -> Iterator[StandIn]:
    with StandIn(markets=[absurd_market()], now_ts=int(NOW.timestamp())) as server:
        yield server


def test_a_live_build_copes_with_anything_the_api_sends(tmp_path: Path, absurd_world: StandIn) -> None:
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    (root / "content" / "a.md").write_text(
        f'---\ntitle: "A"\ndate: {(NOW - timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ}\nmarkets:\n  - absurd-market\n---\n'
        "Text.\n", encoding="utf-8")
    shutil.copytree(REPO / "layouts", root / "layouts")
    shutil.copytree(REPO / "static", root / "static")
    (root / "site.yaml").write_text("title: T\nbase_url: https://example.org\n")
    paths = SitePaths(root=root, content=root / "content", out=root / "public", cache=root / ".cache")
    live = LiveOptions(gamma_url=absurd_world.url, clob_url=absurd_world.url)
    with httpx.Client() as client:
        report = build(paths, BuildOptions(jobs=1), NOW, live_snapshot_source(paths, client, live))
    assert report.snapshot_note.startswith("odds: 1 fresh from Polymarket")
    html = (paths.out / "markets" / "absurd-market" / "index.html").read_text(encoding="utf-8")
    assert "Will \ufffd be \ufffd shown?" in html
    assert "e+" not in html and "traded" not in html and "Traded" not in html  # no volume shown at all
    assert "points in 24 hours" not in html
    published = (paths.out / "snapshot.json").read_text(encoding="utf-8")
    assert snapshot_from_json(published).quotes["absurd-market"].volume is None


# --- determinism, and where and when the odds came from ----------------------------------


def tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_two_offline_builds_in_a_row_give_the_same_bytes(tmp_path: Path) -> None:
    paths = example_site(tmp_path)
    offline(paths, DEC_2)
    first = tree(paths.out)
    offline(paths, DEC_2 + timedelta(minutes=17))  # from the cache now, on another minute
    assert tree(paths.out) == first
    knicks = snapshot_from_json(first["snapshot.json"]).quotes[KNICKS]
    assert knicks.status == "resolved" and len(knicks.history) > 50  # the resolved market kept its history
    assert 'points="' in (paths.out / "markets" / KNICKS / "index.html").read_text()


def test_two_builds_in_a_row_that_cannot_reach_polymarket_give_the_same_bytes(tmp_path: Path) -> None:
    """As on a machine with no network: the second build reuses the cache's resolved quote,
    which keeps the time it was taken instead of being stamped with the build's clock."""
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    paths = example_site(tmp_path)
    with httpx.Client(transport=httpx.MockTransport(unreachable)) as client:
        source = live_snapshot_source(paths, client, sleep=lambda s: None)
        build(paths, BuildOptions(jobs=1), DEC_2, source)
        first = tree(paths.out)
        build(paths, BuildOptions(jobs=1), DEC_2 + timedelta(minutes=17), source)
    assert tree(paths.out) == first
    knicks = snapshot_from_json(first["snapshot.json"]).quotes[KNICKS]
    assert knicks.status == "resolved" and knicks.as_of == datetime.fromisoformat("2026-11-21T16:00:00+00:00")


def test_the_markets_page_and_the_feed_say_truly_where_and_when_the_odds_were_taken(tmp_path: Path) -> None:
    paths = example_site(tmp_path)
    offline(paths)
    markets = (paths.out / "markets" / "index.html").read_text()
    assert "Odds on this site are from the example snapshot (not live odds), taken at 21 November 2026, 16:00 UTC." \
        in markets
    assert "taken from Polymarket" not in markets and "2 December" not in markets
    assert snapshot_from_json((paths.out / "snapshot.json").read_bytes()).taken_at == datetime.fromisoformat(
        "2026-11-21T16:00:00+00:00")
    feed = (paths.out / "feed.xml").read_text()
    assert "the hour this feed was built" not in feed and "current when this feed was built" not in feed
    assert "Odds from the example snapshot (not live odds); where a market says" in feed


def test_live_odds_are_called_current_only_when_they_are() -> None:
    fresh = Quote(key="a", question="A?", url="https://polymarket.com/event/a", as_of=NOW, probability=0.4)
    old = Quote(key="b", question="B?", url="https://polymarket.com/event/b", as_of=NOW - timedelta(hours=5),
                probability=0.2)
    example = Quote(key="c", question="C?", url="https://polymarket.com/event/c", as_of=NOW - timedelta(days=3),
                    probability=0.6, source="example")
    views = {q.key: widget_view(q.key, parse_ref(q.key), q, now=NOW, stale_after_s=7200, low_volume=0)
             for q in (fresh, old, example)}
    assert odds_note([views["a"]]) == (
        "Odds from Polymarket, current when this feed was built; the article page has the latest.")
    assert odds_note([views["a"], views["b"]]).startswith("Odds from Polymarket; where a market says")
    assert odds_note([views["a"], views["c"]]).startswith(
        "Odds from Polymarket and the example snapshot (not live odds); where")
    mixed = Snapshot.of({q.key: q for q in (fresh, old, example)}, NOW)
    assert mixed.taken_at == NOW and mixed.source == "polymarket"
    assert odds_statement(mixed, UTC) == (
        "Odds on this site: 2 markets from Polymarket, taken between 21 November 2026, 11:30 UTC and "
        "21 November 2026, 16:30 UTC; 1 market from the example snapshot (not live odds), taken at "
        "18 November 2026, 16:30 UTC.")


def test_a_market_past_its_end_date_is_not_called_open(tmp_path: Path) -> None:
    paths = example_site(tmp_path)
    offline(paths)  # 2 December: "Bitcoin Up or Down in November?" ended on 1 December
    html = (paths.out / "markets" / "bitcoin-up-or-down-in-november-2026" / "index.html").read_text()
    assert "<dd>Open</dd>" not in html and "Closes" not in html
    assert "Past its end date, awaiting the result" in html and "<dt>Ended</dt>" in html
    assert "Past its end date (1 December 2026); awaiting the result." in html
    before = (tmp_path / "before")
    early = example_site(before)
    offline(early, datetime.fromisoformat("2026-11-21T17:00:00+00:00"))
    html = (early.out / "markets" / "bitcoin-up-or-down-in-november-2026" / "index.html").read_text()
    assert "<dd>Open</dd>" in html and "<dt>Closes</dt>" in html and "Past its end date" not in html


def test_a_snapshot_key_that_cannot_be_encoded_is_named_readably() -> None:
    doc = ('{"format": "marketnews-snapshot", "version": 1, "taken_at": "2026-11-21T16:00:00Z", "quotes": '
           '{"k\\ud800": {"question": "Q", "url": "ftp://x"}}}')
    with pytest.raises(Exception, match="quotes.k\ufffd.url") as caught:
        snapshot_from_json(doc, "f.json")
    assert str(caught.value).encode("utf-8")  # printable to any UTF-8 terminal or log

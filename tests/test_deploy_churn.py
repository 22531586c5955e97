"""Deploy churn: an hourly rebuild changes only the files whose content a reader would see change."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from marketnews import cli
from marketnews.writer import RECORD
from tests.sitebuild import EXAMPLE_SNAPSHOT, NOW, REPO, build_example, moved_snapshot, tree

MOVED = "xi-jinping-out-before-2027"  # shown by one article; its tags and market pages list it


def shows(data: bytes, written: str) -> bool:
    """Whether an output file shows the odds of the market written as `written`."""
    attr = re.escape(written)
    text = data.decode("utf-8", "replace")
    return re.search(rf'data-market=(?:"|&#34;|&quot;){attr}(?:"|&#34;|&quot;)', text) is not None


def test_two_builds_of_the_same_input_are_byte_identical(tmp_path: Path) -> None:
    first = build_example(tmp_path / "a", tmp_path / "cache-a")
    second_report = build_example(tmp_path / "b", tmp_path / "cache-b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert first.written is not None and second_report.written is not None
    assert first.written.added == len(tree(tmp_path / "a")) - 1 > 40  # all but the build's record


def test_rebuild_with_nothing_changed_reports_no_churn(tmp_path: Path) -> None:
    out = tmp_path / "public"
    build_example(out, tmp_path / "cache")
    before = tree(out)
    report = build_example(out, tmp_path / "cache")
    assert report.written is not None
    assert (report.written.changed, report.written.added, report.written.removed) == (0, 0, 0)
    assert report.written.unchanged == len(before) - 1  # all but the build's record
    assert tree(out) == before


def test_an_hour_later_with_the_same_odds_nothing_changes(tmp_path: Path) -> None:
    """Fresh quotes carry no time; nor does any page but /markets/ (the snapshot's own time)."""
    out = tmp_path / "public"
    build_example(out, tmp_path / "cache", now=NOW)
    before = tree(out)
    report = build_example(out, tmp_path / "cache", now=NOW + timedelta(hours=1))
    assert report.written is not None
    assert report.written.churn() == "0 changed, 0 added, 0 removed"
    assert tree(out) == before


def test_stale_quotes_do_not_change_pages_from_hour_to_hour(tmp_path: Path) -> None:
    """A stale quote says when it was taken, not how long ago: the page is the same next hour."""
    out = tmp_path / "public"
    stale_now = NOW + timedelta(hours=5)  # the example quotes are from 16:00; stale after 2 h
    build_example(out, tmp_path / "cache", now=stale_now)
    before = tree(out)
    article = before["2026/11/xi-military-reshuffle-succession-odds/index.html"].decode()
    assert "odds as of 21 November 2026, 16:00 UTC" in article
    report = build_example(out, tmp_path / "cache", now=stale_now + timedelta(hours=1))
    assert report.written is not None and report.written.churn() == "0 changed, 0 added, 0 removed"


def test_one_price_moved_changes_only_the_files_that_show_that_market(tmp_path: Path) -> None:
    out = tmp_path / "public"
    build_example(out, tmp_path / "cache")
    before = tree(out)
    written = MOVED
    expected = {path for path, data in before.items() if shows(data, written)} | {"snapshot.json"}
    # The market's own page, the list of markets, the article and the feeds all show it...
    assert {"markets/xi-jinping-out-before-2027/index.html", "markets/index.html", "feed.xml",
            "2026/11/xi-military-reshuffle-succession-odds/index.html"} <= expected
    # ...and most of the site does not.
    assert len(expected) < len(before) / 2

    report = build_example(out, tmp_path / "cache", snapshot=moved_snapshot(tmp_path / "moved.json", MOVED, 0.09))
    after = tree(out)
    changed = {path for path in before if path in after and before[path] != after[path]}
    assert changed == expected | {RECORD}  # the record of the build's files names the new card
    # The article's share card shows the price: a new card under a new name replaces the old one.
    (old_card,) = set(before) - set(after)
    (new_card,) = set(after) - set(before)
    assert old_card.startswith("cards/xi-military-reshuffle-succession-odds-") and new_card.startswith(
        "cards/xi-military-reshuffle-succession-odds-")
    assert new_card in after["2026/11/xi-military-reshuffle-succession-odds/index.html"].decode()
    assert report.written is not None
    assert (report.written.changed, report.written.added, report.written.removed) == (len(expected), 1, 1)
    page = after["markets/xi-jinping-out-before-2027/index.html"].decode()
    assert 'data-probability="0.0900"' in page


def test_assets_keep_their_names_when_only_odds_change(tmp_path: Path) -> None:
    out = tmp_path / "public"
    build_example(out, tmp_path / "cache")
    assets_before = {p for p in tree(out) if p.startswith("assets/")}
    build_example(out, tmp_path / "cache", snapshot=moved_snapshot(tmp_path / "m.json", MOVED, 0.2))
    assert {p for p in tree(out) if p.startswith("assets/")} == assets_before
    assert any(p.startswith("assets/css/site.") for p in assets_before)


def test_summary_line_reports_files_changed_added_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(NOW.timestamp())))
    monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "public"
    args = ["build", "--root", str(REPO), "--out", str(out), "--snapshot"]
    assert cli.main([*args, str(EXAMPLE_SNAPSHOT)]) == 0
    first = capsys.readouterr().out
    count = len(tree(out)) - 1  # all but the build's record
    assert f"0 changed, {count} added, 0 removed" in first

    (out / "CNAME").write_text("news.example.org\n")  # someone's own file: left alone, not counted
    moved = moved_snapshot(tmp_path / "moved.json", MOVED, 0.09)
    assert cli.main([*args, str(moved)]) == 0
    second = capsys.readouterr().out
    # one card added and one removed (the moved market's article's); someone's own file stays
    n = int(re.search(r"(\d+) changed, 1 added, 1 removed", second).group(1))  # type: ignore[union-attr]
    assert 0 < n < count / 2
    assert (out / "CNAME").read_text() == "news.example.org\n"


def test_snapshot_time_appears_only_on_the_markets_page_and_in_snapshot_json(tmp_path: Path) -> None:
    out = tmp_path / "public"
    build_example(out, tmp_path / "cache")
    taken = json.loads((EXAMPLE_SNAPSHOT).read_text())["taken_at"]  # "2026-11-21T16:00:00Z"
    carrying = {p for p, data in tree(out).items() if taken.encode() in data or b"16:00 UTC" in data}
    assert carrying == {"markets/index.html", "snapshot.json"}


def test_an_hour_of_history_at_the_same_prices_leaves_article_pages_alone(tmp_path: Path) -> None:
    """Each hourly build adds a point to every history; the sparklines draw 6-hour samples
    and the latest price, so within a 6-hour block a page changes only if a price moved."""
    out = tmp_path / "public"
    build_example(out, tmp_path / "cache", now=NOW)
    before = tree(out)
    doc = json.loads(EXAMPLE_SNAPSHOT.read_text())
    for q in doc["quotes"].values():
        h = q["history"]
        if h["t"]:
            h["t"].append(h["t"][-1] + 3600)
            h["p"].append(h["p"][-1])
        q["as_of"] = "2026-11-21T17:00:00Z"
    doc["taken_at"] = "2026-11-21T17:00:00Z"
    later = tmp_path / "later.json"
    later.write_text(json.dumps(doc))
    build_example(out, tmp_path / "cache", now=NOW + timedelta(hours=1), snapshot=later)
    after = tree(out)
    changed = {p for p in before if before[p] != after.get(p)}
    articles = {p for p in before if p.startswith("2026/")}
    assert articles and not changed & articles
    assert not {"index.html", "feed.xml"} & changed
    # The market pages draw the same series as the sparklines: unchanged while prices hold still.
    assert "markets/xi-jinping-out-before-2027/index.html" not in changed


def test_the_chart_series_keeps_each_blocks_extremes_and_ends_at_the_latest_price() -> None:
    from marketnews.charts import chart_series

    t0 = 1795276800 - 1795276800 % 21600  # a 6-hour boundary
    hourly = [(t0 - 3600 * k, 0.5 + 0.002 * k) for k in range(200, -1, -1)] + [(t0 + 3600, 0.4001)]
    series = chart_series(hourly)
    start = t0 - 7 * 86400 + 21600  # the first whole block inside the window
    assert series[0] == (start, 0.824) and all(t >= start for t, _ in series)
    # each whole block by its lowest and highest price, at their own times
    blocks = {t for b in range(start, t0, 21600) for t in (b, b + 5 * 3600)}
    assert [t for t, _ in series[1:-1]] == sorted(blocks | {t0})[1:]
    assert series[-1] == (t0 + 21600, 0.4)  # the latest price, drawn to the nearest 0.2 points
    flat = hourly[:-1] + [(t0 + 3600, 0.5), (t0 + 7200, 0.5003)]
    assert chart_series(flat) == chart_series(flat[:-1])[:-1] + ((t0 + 21600, 0.5),)  # an hour on, no move: the same
    young = [(t0 + 3600 * k, 0.3 + 0.01 * k) for k in range(30)]  # 30 hours: drawn hour by hour
    assert chart_series(young) == tuple((t, round(p, 6)) for t, p in young)

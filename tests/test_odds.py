"""The odds cache folder and the per-market fallback order, without a network."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from marketnews.errors import MarketnewsError
from marketnews.markets.model import Quote, Snapshot, snapshot_to_json
from marketnews.markets.refs import parse_ref
from marketnews.markets.snapshots import (
    CachedOdds,
    OddsSources,
    assemble_odds,
    load_cache,
    newest,
    read_snapshot,
    save_cache,
)
from tests.test_parallel import within

T = datetime(2026, 11, 21, 16, tzinfo=UTC)


def q(key: str, p: float, as_of: datetime = T) -> Quote:
    return Quote(key=key, question=key, url="https://polymarket.com/market/" + key, as_of=as_of, probability=p)


def test_a_missing_or_broken_cache_is_empty(tmp_path: Path) -> None:
    assert load_cache(None) == CachedOdds() and load_cache(tmp_path) == CachedOdds()
    (tmp_path / "snapshot.json").write_text("<html>")
    (tmp_path / "anchors-missing.json").write_text('{"no": 1}')
    assert load_cache(tmp_path).quotes == {} and load_cache(tmp_path).anchors_missing == frozenset()


@pytest.mark.parametrize("kind", ["FIFO", "folder", "nested too deep", "40 GB (sparse)", "a link to a 40 GB file"])
def test_a_cache_file_that_cannot_be_read_as_one_is_an_empty_cache_at_once(tmp_path: Path, kind: str) -> None:
    for name in ("snapshot.json", "anchors-missing.json"):
        if kind == "FIFO":  # read, it would wait for a writer for ever
            os.mkfifo(tmp_path / name)
        elif kind == "folder":
            (tmp_path / name).mkdir()
        elif kind.startswith("40 GB"):  # read whole, it would fill memory: not a file this code wrote
            with open(tmp_path / name, "wb") as f:
                f.truncate(40 * 2**30)
        elif kind.startswith("a link"):
            with open(tmp_path / f"big-{name}", "wb") as f:
                f.truncate(40 * 2**30)
            (tmp_path / name).symlink_to(tmp_path / f"big-{name}")
        else:
            (tmp_path / name).write_text("[" * 100_000 + "]" * 100_000)
    assert within(30, lambda: load_cache(tmp_path)) == CachedOdds()


def test_a_snapshot_named_by_the_user_may_be_a_pipe(tmp_path: Path) -> None:
    # `marketnews snapshot | marketnews build --snapshot /dev/stdin`: read, where a cache
    # file that is a FIFO is not (see above). A folder is refused with its name.
    pipe = tmp_path / "odds.json"
    os.mkfifo(pipe)
    text = snapshot_to_json(Snapshot(T, {"a": q("a", 0.25)}, "polymarket"))
    writer = threading.Thread(target=pipe.write_text, args=(text,), daemon=True)
    writer.start()
    assert within(30, lambda: read_snapshot(pipe, "odds.json")).quotes["a"].probability == 0.25
    writer.join(5)
    with pytest.raises(MarketnewsError, match="odds: cannot read snapshot: Is a directory"):
        read_snapshot(tmp_path, "odds")


def test_the_cache_keeps_the_newest_quote_of_each_site_key(tmp_path: Path) -> None:
    later = T + timedelta(hours=1)
    save_cache(tmp_path, Snapshot(T, {"a": q("a", 0.1), "b": q("b", 0.2)}, "polymarket"), ["a", "b"],
               frozenset({("a", 100)}))
    example = replace(q("a", 0.3, later), source="example")
    save_cache(tmp_path, Snapshot(later, {"a": example}, "example"), ["a", "b"], frozenset())
    cached = load_cache(tmp_path)
    assert {k: v.probability for k, v in cached.quotes.items()} == {"a": 0.3, "b": 0.2}
    assert cached.anchors_missing == {("a", 100)}
    assert {k: v.source for k, v in cached.quotes.items()} == {"a": "example", "b": "polymarket"}  # each its own
    save_cache(tmp_path, Snapshot(later, {}, "x"), ["b"], frozenset())  # "a" left the site
    assert set(load_cache(tmp_path).quotes) == {"b"} and load_cache(tmp_path).anchors_missing == frozenset()


def test_a_cache_that_holds_this_very_snapshot_is_left_as_it_is(tmp_path: Path) -> None:
    snap = Snapshot(T, {"a": q("a", 0.1), "b": q("b", 0.2)}, "file")
    text = snapshot_to_json(snap)
    save_cache(tmp_path, snap, ["a", "b"], frozenset({("a", 100)}), published=text)
    stamp = (tmp_path / "snapshot.json").stat()
    save_cache(tmp_path, snap, ["a", "b"], frozenset({("b", 200)}), published=text)  # the same snapshot again
    again = (tmp_path / "snapshot.json").stat()
    assert (again.st_ino, again.st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)  # not written again
    assert load_cache(tmp_path).anchors_missing == {("a", 100), ("b", 200)}  # what is new of those is kept
    moved = Snapshot(T + timedelta(hours=1), {"a": q("a", 0.4, T + timedelta(hours=1))}, "file")
    save_cache(tmp_path, moved, ["a", "b"], frozenset(), published=snapshot_to_json(moved))
    assert {k: v.probability for k, v in load_cache(tmp_path).quotes.items()} == {"a": 0.4, "b": 0.2}


def test_newest_prefers_the_later_quote() -> None:
    old, new = q("a", 0.1), q("a", 0.2, T + timedelta(minutes=1))
    assert newest({"a": new}, {"a": old})["a"] is new and newest({"a": old}, {"a": new})["a"] is new


def test_offline_odds_come_from_the_cache_then_the_example(tmp_path: Path) -> None:
    example = tmp_path / "example.json"
    save_cache(tmp_path, Snapshot(T, {"b": q("b", 0.5), "c": q("c", 0.6)}, "example"), ["b", "c"], frozenset())
    example.write_text((tmp_path / "snapshot.json").read_text())
    cache = CachedOdds({"a": q("a", 0.1)}, frozenset(), "polymarket")
    sources = OddsSources(polymarket=None, live_site_snapshot="http://never.invalid/snapshot.json",
                          example=example, example_label="example.json")
    refs = [parse_ref(s) for s in ("a", "b", "zzz")]
    odds = assemble_odds(refs, T, client=None, sources=sources, cache=cache)
    assert {k: v.probability for k, v in odds.snapshot.quotes.items()} == {"a": 0.1, "b": 0.5}
    assert odds.note == "odds: 1 from the cache, 1 from the example snapshot example.json, 1 unavailable [offline]"
    assert odds.requests == 0 and {k: v.source for k, v in odds.snapshot.quotes.items()} == {
        "a": "polymarket", "b": "example"}
    assert odds.snapshot.taken_at == T  # its newest quote's time, not the clock's
    only_example = assemble_odds(refs[1:2], T, client=None, sources=sources, cache=CachedOdds())
    assert only_example.note == "odds from the example snapshot example.json (no live odds) [offline]"
    assert assemble_odds([], T, client=None, sources=sources, cache=cache).note == (
        "odds: no markets referenced [offline]"
    )


def test_a_quote_stamped_in_the_future_does_not_win_the_cache() -> None:
    from datetime import UTC, datetime, timedelta

    from marketnews.markets.model import Quote
    from marketnews.markets.snapshots import newest

    now = datetime(2026, 11, 21, 17, tzinfo=UTC)
    real = Quote(key="m", question="Q", url="https://polymarket.com/event/m", as_of=now, probability=0.4)
    skewed = Quote(key="m", question="Q", url="https://polymarket.com/event/m", as_of=now + timedelta(days=3),
                   probability=0.9)
    assert newest({"m": skewed}, {"m": real}, latest=now)["m"] is real
    assert newest({"m": skewed}, {"m": real})["m"] is skewed  # without a bound, the latest stamp wins


def test_a_resolved_quote_kept_from_the_cache_is_not_called_fresh() -> None:
    import httpx

    from marketnews.markets.polymarket import PolymarketSettings

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host", request=request)

    settled = Quote(key="done", question="done", url="https://polymarket.com/market/done", as_of=T,
                    probability=1.0, status="resolved", winner="Yes")
    cache = CachedOdds(quotes={"done": settled, "open": q("open", 0.4)}, source="polymarket")
    sources = OddsSources(polymarket=PolymarketSettings(), live_site_snapshot="")
    with httpx.Client(transport=httpx.MockTransport(unreachable)) as client:
        odds = assemble_odds([parse_ref("done"), parse_ref("open")], T + timedelta(hours=1), client=client,
                             sources=sources, cache=cache, sleep=lambda s: None)
    assert odds.note.startswith("odds: 1 resolved (final, from the cache), 1 from the cache [Polymarket: "), odds.note
    assert "fresh" not in odds.note

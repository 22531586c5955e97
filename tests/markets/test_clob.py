"""Histories and anchors from the CLOB stand-in; the pure series helpers; the rate limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from marketnews.markets.clob import (
    HOUR_S,
    WEEK_S,
    SeriesResult,
    add_series,
    extend_history,
    fidelity_min,
    known_histories,
    nearest,
    parse_history,
)
from marketnews.markets.httpjson import CallFailed, HttpPolicy, RateLimit
from marketnews.markets.model import Point, Quote
from tests.markets.conftest import NOW, Sleeps
from tests.standin import StandIn

POLICY = HttpPolicy(concurrency=4, rate_per_s=0, budget_s=10.0, attempts=2)
NOW_TS = int(NOW.timestamp())
SLOT = NOW_TS - NOW_TS % HOUR_S


def quote(key: str, token: str | None = "tok-" + "a", p: float = 0.4, **kw) -> Quote:  # type: ignore[no-untyped-def]
    return Quote(key=key, question=key, url="u", as_of=NOW, probability=p, token_id=token, **kw)


def series(standin: StandIn, client: httpx.Client, sleeps: Sleeps, quotes: dict[str, Quote],
           wanted: list[tuple[str, datetime]] = (), **kw: Any) -> SeriesResult:  # type: ignore[assignment]
    """add_series against the stand-in, with this module's policy and the recorded sleeps."""
    settings: dict[str, Any] = {"now": NOW, "policy": POLICY, "sleep": sleeps} | kw
    return add_series(quotes, wanted, client, clob_url=standin.url, **settings)


def histories(standin: StandIn, client: httpx.Client, sleeps: Sleeps, quotes: dict[str, Quote],
              known: dict[str, tuple[Point, ...]], **kw: Any) -> SeriesResult:
    return series(standin, client, sleeps, quotes, known_history=known, **kw)


def anchors(standin: StandIn, client: httpx.Client, sleeps: Sleeps, quotes: dict[str, Quote],
            wanted: list[tuple[str, datetime]], known: dict[str, tuple[Point, ...]] | None = None,
            **kw: Any) -> SeriesResult:
    """Only the prices at article dates: every quote's history is known and recent."""
    recent = {k: ((SLOT, 0.4),) for k in quotes}
    return series(standin, client, sleeps, quotes, wanted, known_history=recent, known_anchors=known, **kw)


def test_extend_history_adds_the_hour_and_trims_a_week() -> None:
    old = [(NOW_TS - WEEK_S - 10, 0.1), (NOW_TS - 2 * HOUR_S, 0.2), (SLOT + 60, 0.25)]
    series = extend_history(old, NOW, 0.3)
    assert series == ((NOW_TS - 2 * HOUR_S, 0.2), (SLOT, 0.3))
    assert extend_history(series, NOW, None) == series  # no price: nothing added


def test_a_point_stamped_after_now_is_dropped_from_a_known_history() -> None:
    # (A cache's, say, from an answer that had one: the chart would show 7 days up to it.)
    old = [(NOW_TS - 2 * HOUR_S, 0.2), (NOW_TS + 10 * 24 * HOUR_S, 0.9)]
    assert extend_history(old, NOW, 0.3) == ((NOW_TS - 2 * HOUR_S, 0.2), (SLOT, 0.3))
    assert extend_history(old, NOW, None) == ((NOW_TS - 2 * HOUR_S, 0.2),)


def test_parse_history_leaves_out_points_stamped_after_the_time_given() -> None:
    body = {"history": [{"t": NOW_TS - HOUR_S, "p": 0.5}, {"t": 7258000000, "p": 0.9}, {"t": 7258000001, "p": "0.9"}]}
    assert parse_history(body, latest=NOW_TS) == ((NOW_TS - HOUR_S, 0.5),)


def test_parse_history_skips_bad_points_and_rejects_bad_shapes() -> None:
    t1, t2, t3 = 1795273200, 1795276800, 1795280400
    body = {"history": [{"t": t2, "p": 0.5}, {"t": t1, "p": "0.25"}, {"t": "x"}, 7, {"t": t3, "p": 9},
                        {"t": 10**400, "p": "0.5"}, {"t": float("nan"), "p": "0.5"}, {"t": float("inf"), "p": "0.5"},
                        {"t": t3, "p": 10**400}]}
    assert parse_history(body) == ((t1, 0.25), (t2, 0.5))
    with pytest.raises(CallFailed):
        parse_history([])
    with pytest.raises(CallFailed):
        parse_history({"history": "none"})


def test_known_histories_drop_a_changed_token() -> None:
    prev = {"a": quote("a", history=((1, 0.1),)), "b": quote("b", history=((1, 0.1),))}
    fresh = {"a": quote("a"), "b": quote("b", token="other")}
    assert known_histories(prev, fresh) == {"a": ((1, 0.1),)}


def test_histories_are_fetched_only_when_unknown(
    standin: StandIn, client: httpx.Client, sleeps: Sleeps
) -> None:
    quotes = {"a": quote("a", "tok-a"), "b": quote("b", "tok-b"), "c": quote("c", None)}
    known = {"b": ((NOW_TS - 3 * HOUR_S, 0.35),)}
    result = histories(standin, client, sleeps, quotes, known)
    assert result.requests == 1 == standin.count("/prices-history")
    assert standin.asked == [("tok-a", NOW_TS - WEEK_S, NOW_TS, 60)]  # a week, hourly
    a = result.quotes["a"].history
    assert len(a) >= 160 and a[-1] == (SLOT, 0.4) and a[0][0] > NOW_TS - WEEK_S
    assert result.quotes["b"].history == ((NOW_TS - 3 * HOUR_S, 0.35), (SLOT, 0.4))
    assert result.quotes["c"].history == ((SLOT, 0.4),)
    assert result.fetched == {"a"}


def test_the_next_hourly_build_makes_no_history_request(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    quotes = {f"m{i}": quote(f"m{i}", f"tok-{i}") for i in range(5)}
    first = histories(standin, client, sleeps, quotes, {})
    later = NOW + timedelta(hours=1)
    fresh = {k: replace(q, probability=0.5, as_of=later) for k, q in quotes.items()}
    second = histories(standin, client, sleeps, fresh, known_histories(first.quotes, fresh), now=later)
    assert first.requests == 5 and second.requests == 0
    assert second.quotes["m0"].history[-1] == (SLOT + HOUR_S, 0.5)
    assert second.quotes["m0"].history[:-1] == first.quotes["m0"].history[1:]


def test_a_failed_history_leaves_the_quote_without_one(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("html", "/prices-history", times=1)
    quotes = {"a": quote("a", "tok-a"), "b": quote("b", "tok-b")}
    result = histories(standin, client, sleeps, quotes, {})
    assert sum(1 for q in result.quotes.values() if q.history == ()) == 1
    assert len(result.failed) == 1 and "not JSON" in next(iter(result.failed.values()))
    assert all(q.probability == 0.4 for q in result.quotes.values())


def test_anchor_is_fetched_once_then_known(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    published = NOW - timedelta(days=20)
    quotes = {"a": quote("a", "tok-a")}
    first = anchors(standin, client, sleeps, quotes, [("a", published), ("a", published)])
    assert first.requests == 1
    line = standin.requests("/prices-history")[0]
    pub_ts = int(published.timestamp())
    assert f"startTs={pub_ts - 3 * HOUR_S}" in line and f"endTs={pub_ts + 3 * HOUR_S}" in line
    anchored = first.quotes["a"]
    assert len(anchored.anchors) == 1 and anchored.price_at(published) is not None
    assert anchored.history == ((SLOT, 0.4),)  # the known history stays
    again = anchors(standin, client, sleeps, {"a": quote("a", "tok-a")}, [("a", published)],
                    known={"a": anchored.anchors})
    assert again.requests == 0 and again.quotes["a"].anchors == anchored.anchors


def test_anchor_before_the_market_existed_is_missing_and_not_asked_again(
    standin, client, sleeps
) -> None:  # type: ignore[no-untyped-def]
    published = NOW - timedelta(days=400)  # the stand-in's series covers 30 days
    first = anchors(standin, client, sleeps, {"a": quote("a")}, [("a", published)])
    key = ("a", int(published.timestamp()))
    assert first.missing == {key} and first.quotes["a"].anchors == ()
    again = anchors(standin, client, sleeps, {"a": quote("a")}, [("a", published)], known_missing=first.missing)
    assert again.requests == 0 and again.missing == {key}


def test_anchor_inside_the_history_needs_no_request(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    published = NOW - timedelta(hours=5)
    pt = (int(published.timestamp()) + 600, 0.12)
    q = quote("a", history=(pt, (SLOT, 0.4)))
    wanted = [("a", published), ("missing-key", published), ("a", NOW + timedelta(days=1))]
    result = series(standin, client, sleeps, {"a": q}, wanted, known_history={"a": q.history})
    assert result.requests == 0 and result.quotes["a"].anchors == (pt,)


def test_a_failed_anchor_is_asked_again_next_time(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("500", "/prices-history", times=None)
    published = NOW - timedelta(days=20)
    result = anchors(standin, client, sleeps, {"a": quote("a")}, [("a", published)])
    assert result.failed == {"a": "HTTP 500 after 2 attempts"}
    assert result.missing == frozenset() and result.quotes["a"].anchors == ()


class VirtualClock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_rate_limit_keeps_any_10_s_window_under_its_share() -> None:
    clock = VirtualClock()
    limit = RateLimit(80.0, clock.monotonic, clock.sleep)
    stamps = []
    for _ in range(2000):
        assert limit.acquire(deadline=10_000)
        stamps.append(clock.t)
    for i in range(len(stamps) - 800):
        assert stamps[i + 800] - stamps[i] >= 10.0 - 1e-9  # never more than 800 starts in 10 s
    assert stamps[799] == stamps[0]  # a window's worth may start at once
    assert stamps[-1] - stamps[0] == pytest.approx(20.0)  # 2,000 calls: windows at 0, 10 and 20 s


def test_rate_limit_refuses_a_slot_past_the_deadline() -> None:
    clock = VirtualClock()
    limit = RateLimit(0.2, clock.monotonic, clock.sleep)  # 2 per 10 s
    assert limit.acquire(deadline=105.0) and limit.acquire(deadline=105.0)
    assert not limit.acquire(deadline=105.0)  # the next slot is at 110
    assert clock.t == 100.0
    assert limit.acquire(deadline=200.0) and clock.t == 110.0


def test_no_rate_limit_never_waits() -> None:
    clock = VirtualClock()
    limit = RateLimit(0, clock.monotonic, clock.sleep)
    assert all(limit.acquire(deadline=0) for _ in range(10_000)) and clock.t == 100.0


def test_history_fetches_go_through_the_rate_limit(standin, client) -> None:  # type: ignore[no-untyped-def]
    clock = VirtualClock()
    quotes = {f"m{i}": quote(f"m{i}", f"tok-{i}") for i in range(30)}
    policy = HttpPolicy(concurrency=1, rate_per_s=1.0, budget_s=100.0)  # 10 per 10 s
    result = add_series(
        quotes,
        (),
        client,
        clob_url=standin.url,
        now=NOW,
        policy=policy,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    assert result.requests == 30 and not result.failed
    assert clock.t - 100.0 == pytest.approx(20.0)  # 30 calls, 10 a window: windows at 0, 10, 20 s


def test_history_points_that_are_not_finite_or_not_plausible_times_are_skipped() -> None:
    from marketnews.markets.clob import parse_history

    body = {"history": [{"t": float("nan"), "p": 0.5}, {"t": float("inf"), "p": 0.5}, {"t": 10**15, "p": 0.5},
                        {"t": 1795276800, "p": float("nan")}, {"t": 1795276800, "p": 0.25}]}
    assert parse_history(body) == ((1795276800, 0.25),)


# --- one request per market: history and prices at article dates together ---------------


def test_one_request_gives_a_market_its_history_and_every_price_when_published(
    standin: StandIn, client: httpx.Client, sleeps: Sleeps
) -> None:
    dates = [NOW - timedelta(days=20), NOW - timedelta(days=2), NOW - timedelta(hours=3)]
    result = series(standin, client, sleeps, {"a": quote("a", "tok-a")}, [("a", d) for d in dates])
    assert result.requests == 1 and not result.failed and not result.missing
    assert standin.asked == [("tok-a", int(dates[0].timestamp()) - 3 * HOUR_S, NOW_TS, 60)]
    q = result.quotes["a"]
    assert all(q.price_at(d) is not None for d in dates)
    assert q.history[0][0] > NOW_TS - WEEK_S and len(q.history) >= 160  # the chart's week, hourly
    assert len(q.anchors) == 3  # kept for good: the history moves on


def test_an_archive_is_asked_at_a_coarser_fidelity_that_still_prices_every_date(
    client: httpx.Client, sleeps: Sleeps
) -> None:
    dates = [NOW - timedelta(hours=h) for h in range(24, 24 * 400, 37)]
    with StandIn(now_ts=NOW_TS, history_days=450) as world:
        result = series(world, client, sleeps, {"a": quote("a", "tok-a")}, [("a", d) for d in dates])
    (token, start, end, fidelity), = world.asked
    assert fidelity == 360 and fidelity_min(end - start) == 360
    q = result.quotes["a"]
    assert all(q.price_at(d) is not None for d in dates) and not result.missing
    assert q.history and all(NOW_TS - WEEK_S < t <= NOW_TS for t, _ in q.history)


def test_fidelity_is_hourly_until_the_answer_would_be_too_long() -> None:
    assert fidelity_min(WEEK_S) == 60
    assert fidelity_min(1500 * HOUR_S) == 60 and fidelity_min(1500 * HOUR_S + 1) == 120
    assert fidelity_min(10 * 365 * 86400) == 360  # never coarser: a date would be over 3 h from a point


def test_a_resolved_market_is_asked_at_12_hours_and_keeps_its_history_for_good(
    client: httpx.Client, sleeps: Sleeps
) -> None:
    closed = StandIn(markets=[], now_ts=NOW_TS)
    closed.histories["tok-r"] = [{"t": NOW_TS - 10 * 86400 + h * 3600, "p": 0.5 + h / 1000} for h in range(100)]
    resolved = quote("r", "tok-r", p=1.0, status="resolved", winner="Yes")
    with closed as world:
        world.markets["m"] = {"slug": "m", "closed": True, "clobTokenIds": '["tok-r", "tok-n"]'}
        first = series(world, client, sleeps, {"r": resolved}, [("r", NOW - timedelta(days=9))])
    assert world.asked == [("tok-r", 0, NOW_TS, 720)]  # interval=max: its whole life
    history = first.quotes["r"].history
    ended = NOW_TS - 10 * 86400 + 99 * 3600
    assert history and ended - 12 * HOUR_S < history[-1][0] <= ended  # ends where trading ended
    assert history[0][0] > history[-1][0] - WEEK_S
    assert first.quotes["r"].anchors == ()  # a result shows no "when published" price
    later = NOW + timedelta(days=30)
    again = series(world, client, sleeps, {"r": replace(resolved, as_of=later)}, [], now=later,
                   known_history={"r": history})
    assert again.requests == 0 and again.quotes["r"].history == history


def test_a_closed_token_has_no_history_finer_than_12_hours(standin: StandIn, client: httpx.Client) -> None:
    standin.markets["m"] = {"slug": "m", "closed": True, "clobTokenIds": '["tok-c", "tok-d"]'}
    hourly = client.get(f"{standin.url}/prices-history", params={"market": "tok-c", "interval": "1w",
                                                                  "fidelity": "60"}).json()
    coarse = client.get(f"{standin.url}/prices-history", params={"market": "tok-c", "interval": "1w",
                                                                  "fidelity": "720"}).json()
    assert hourly == {"history": []} and len(coarse["history"]) == 14


def test_the_standin_honours_the_documented_parameters(standin: StandIn, client: httpx.Client) -> None:
    url = f"{standin.url}/prices-history"
    both = client.get(url, params={"market": "x", "interval": "1d", "startTs": str(NOW_TS - 3600)})
    assert both.status_code == 400  # interval and startTs/endTs are mutually exclusive
    day = client.get(url, params={"market": "x", "interval": "1d", "fidelity": "60"}).json()["history"]
    assert [p["t"] for p in day] == list(range(NOW_TS - 86400 + (-(NOW_TS - 86400)) % 3600, NOW_TS + 1, 3600))
    ranged = client.get(url, params={"market": "x", "startTs": str(NOW_TS - 10 * 3600),
                                     "endTs": str(NOW_TS - 4 * 3600), "fidelity": "120"}).json()["history"]
    assert [p["t"] % 7200 for p in ranged] == [0] * len(ranged) and len(ranged) == 3
    assert all(NOW_TS - 10 * 3600 <= p["t"] <= NOW_TS - 4 * 3600 for p in ranged)
    minutes = client.get(url, params={"market": "x", "interval": "1h"}).json()["history"]
    assert len(minutes) == 61  # the default fidelity is one minute


def test_a_history_with_a_gap_is_filled_in_from_its_newest_point(
    standin: StandIn, client: httpx.Client, sleeps: Sleeps
) -> None:
    known = ((NOW_TS - 30 * HOUR_S, 0.3), (NOW_TS - 20 * HOUR_S, 0.31))
    result = histories(standin, client, sleeps, {"a": quote("a", "tok-a")}, {"a": known})
    assert standin.asked == [("tok-a", NOW_TS - 20 * HOUR_S, NOW_TS, 60)]
    h = result.quotes["a"].history
    assert h[:2] == known and len(h) > 20 and h[-1] == (SLOT, 0.4)
    standin.fault("500", "/prices-history", times=None)
    failed = histories(standin, client, sleeps, {"a": quote("a", "tok-a")}, {"a": known})
    assert failed.failed and failed.quotes["a"].history == (*known, (SLOT, 0.4))  # what was known stays


def test_nearest_takes_the_earlier_point_on_a_tie_and_none_beyond_the_window() -> None:
    pts = ((100, 0.1), (300, 0.3))
    assert nearest(pts, 200) == (100, 0.1) and nearest(pts, 260) == (300, 0.3)
    assert nearest(pts, 300 + 3 * HOUR_S + 1) is None and nearest((), 5) is None

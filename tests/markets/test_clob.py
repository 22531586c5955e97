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
    AnchorResult,
    HistoryResult,
    add_anchors,
    add_histories,
    extend_history,
    known_histories,
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


def histories(standin: StandIn, client: httpx.Client, sleeps: Sleeps, quotes: dict[str, Quote],
              known: dict[str, tuple[Point, ...]], **kw: Any) -> HistoryResult:
    """add_histories against the stand-in, with this module's policy and the recorded sleeps."""
    settings: dict[str, Any] = {"now": NOW, "policy": POLICY, "sleep": sleeps} | kw
    return add_histories(quotes, known, client, clob_url=standin.url, **settings)


def anchors(standin: StandIn, client: httpx.Client, sleeps: Sleeps, quotes: dict[str, Quote],
            wanted: list[tuple[str, datetime]], **kw: Any) -> AnchorResult:
    """add_anchors against the stand-in, with this module's policy and the recorded sleeps."""
    return add_anchors(quotes, wanted, client, clob_url=standin.url, now=NOW, policy=POLICY, sleep=sleeps, **kw)


def test_extend_history_adds_the_hour_and_trims_a_week() -> None:
    old = [(NOW_TS - WEEK_S - 10, 0.1), (NOW_TS - 2 * HOUR_S, 0.2), (SLOT + 60, 0.25)]
    series = extend_history(old, NOW, 0.3)
    assert series == ((NOW_TS - 2 * HOUR_S, 0.2), (SLOT, 0.3))
    assert extend_history(series, NOW, None) == series  # no price: nothing added


def test_parse_history_skips_bad_points_and_rejects_bad_shapes() -> None:
    t1, t2, t3 = 1795273200, 1795276800, 1795280400
    body = {"history": [{"t": t2, "p": 0.5}, {"t": t1, "p": "0.25"}, {"t": "x"}, 7, {"t": t3, "p": 9}]}
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
    assert "market=tok-a" in standin.requests()[0] and "interval=1w" in standin.requests()[0]
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
    result = anchors(standin, client, sleeps, {"a": q}, wanted)
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
    result = add_histories(
        quotes,
        {},
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

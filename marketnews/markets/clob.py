"""Price histories and prices at article dates, from the CLOB `prices-history` endpoint.

Network I/O in `add_histories` and `add_anchors`, through an injected httpx client,
rate-limited (at most 800 requests in any 10 s, against the CLOB's documented 1,000).
`extend_history`, `parse_history` and `known_histories` are pure.

History: a market's hourly headline price over the last 7 days. It is fetched
(`interval=1w&fidelity=60`) only for quotes that have none known; a known series is
extended with the fresh quote's own price at the current hour and trimmed to 7 days,
so a steady hourly build makes no history request. A failed fetch leaves the quote
without history (the next build tries again).

Anchors: the price at an article's date ("10% when this was published"), taken from
the known history when it covers that time, else fetched once with `startTs`/`endTs`
(fidelity 60) around it. A date with no price within `ANCHOR_WINDOW_S` (the market
did not exist yet, or did not trade) is recorded as *missing* so that it is not
asked again; a failed fetch is not (it will be).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

import httpx

from marketnews.markets.httpjson import CallFailed, Fetcher, HttpPolicy
from marketnews.markets.model import EARLIEST_TS, LATEST_TS, PRICE_AT_TOLERANCE_S, Point, Quote
from marketnews.markets.normalise import probability

HOUR_S = 3600
WEEK_S = 7 * 24 * HOUR_S
ANCHOR_WINDOW_S = PRICE_AT_TOLERANCE_S  # a price this near a date is the price at it

# The CLOB allows 1,000 requests per 10 s; we start at most 800 in any 10 s, keeping a
# fifth of the limit free. 12 in flight at once sustain ~120/s at ~100 ms a round trip,
# so a cold build of 2,000 histories takes about three windows (~23 s).
CLOB_POLICY = HttpPolicy(concurrency=12, rate_per_s=80.0, budget_s=60.0, attempts=3)

AnchorWanted = tuple[str, datetime]  # (quote key, article date)
AnchorKey = tuple[str, int]  # (quote key, unix seconds)


@dataclass(frozen=True)
class HistoryResult:
    quotes: Mapping[str, Quote]
    fetched: frozenset[str] = frozenset()  # keys whose history came from the CLOB this time
    failed: Mapping[str, str] = field(default_factory=dict)
    requests: int = 0


@dataclass(frozen=True)
class AnchorResult:
    quotes: Mapping[str, Quote]
    missing: frozenset[AnchorKey] = frozenset()  # asked, and no price exists: don't ask again
    failed: Mapping[str, str] = field(default_factory=dict)
    requests: int = 0


def hour(ts: int) -> int:
    return ts - ts % HOUR_S


def parse_history(body: Any) -> tuple[Point, ...]:
    """`{"history": [{"t": .., "p": ..}]}` -> sorted points; bad points are skipped.

    Raises CallFailed when the body is not of that shape at all.
    """
    if not isinstance(body, dict) or not isinstance(body.get("history"), list):
        raise CallFailed('unexpected response: expected {"history": [...]}')
    points: dict[int, float] = {}
    for item in body["history"]:
        if not isinstance(item, dict):
            continue
        t, p = item.get("t"), probability(item.get("p"))
        if (isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) and p is not None
                and EARLIEST_TS <= t <= LATEST_TS):
            points[int(t)] = p
    return tuple(sorted(points.items()))


def extend_history(points: Iterable[Point], now: datetime, price: float | None) -> tuple[Point, ...]:
    """Add `price` at the current hour (replacing any point in that hour); keep 7 days."""
    now_ts = int(now.timestamp())
    slot = hour(now_ts)
    kept = {t: p for t, p in points if t > now_ts - WEEK_S and not (price is not None and hour(t) == slot)}
    if price is not None:
        kept[slot] = price
    return tuple(sorted(kept.items()))


def known_histories(previous: Mapping[str, Quote], fresh: Mapping[str, Quote],
                    series: str = "history") -> dict[str, tuple[Point, ...]]:
    """Cached series (`history` or `anchors`) still valid for the fresh quotes: same key, same CLOB token."""
    return {
        key: getattr(old, series)
        for key, old in previous.items()
        if getattr(old, series) and key in fresh and fresh[key].token_id == old.token_id
    }



def add_histories(
    quotes: Mapping[str, Quote],
    known: Mapping[str, Sequence[Point]],
    client: httpx.Client,
    *,
    clob_url: str,
    now: datetime,
    policy: HttpPolicy = CLOB_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    fetcher: Fetcher | None = None,
) -> HistoryResult:
    """Quotes with their 7-day history: extended from `known`, else fetched (see module doc)."""
    # A fetcher passed in is shared with other CLOB work: one time budget, one rate limit.
    fetcher = fetcher or Fetcher(client, policy, sleep=sleep, monotonic=monotonic)
    url = clob_url.rstrip("/") + "/prices-history"
    out = dict(quotes)
    to_fetch = []
    for key, q in sorted(quotes.items()):
        series = known.get(key)
        if series:
            out[key] = replace(q, history=extend_history(series, now, q.probability))
        elif q.token_id:
            to_fetch.append(key)
        else:  # nothing to fetch with: the series starts now
            out[key] = replace(q, history=extend_history((), now, q.probability))

    def job(token: str) -> tuple[Point, ...]:
        params = [("market", token), ("interval", "1w"), ("fidelity", "60")]
        return parse_history(fetcher.get_json(url, params))

    tokens = [quotes[k].token_id or "" for k in to_fetch]
    results = fetcher.run_all([partial(job, t) for t in tokens])
    failed: dict[str, str] = {}
    fetched = set()
    for key, result in zip(to_fetch, results, strict=True):
        if isinstance(result, CallFailed):
            failed[key] = result.reason
            out[key] = replace(quotes[key], history=())
        else:
            fetched.add(key)
            out[key] = replace(quotes[key], history=extend_history(result, now, quotes[key].probability))
    return HistoryResult(out, frozenset(fetched), failed, fetcher.requests)


def nearest(points: Iterable[Point], ts: int, window_s: int = ANCHOR_WINDOW_S) -> Point | None:
    best = min(points, key=lambda pt: abs(pt[0] - ts), default=None)
    return best if best is not None and abs(best[0] - ts) <= window_s else None


def add_anchors(
    quotes: Mapping[str, Quote],
    wanted: Iterable[AnchorWanted],
    client: httpx.Client,
    *,
    clob_url: str,
    now: datetime,
    known: Mapping[str, Sequence[Point]] | None = None,
    known_missing: frozenset[AnchorKey] = frozenset(),
    policy: HttpPolicy = CLOB_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    fetcher: Fetcher | None = None,
) -> AnchorResult:
    """Quotes whose `anchors` hold the price at each wanted (key, date), fetched at most once.

    `known` holds anchors from earlier builds (the cache) and `known_missing` the
    (key, time) pairs that were asked before and had no price.
    """
    # A fetcher passed in is shared with other CLOB work: one time budget, one rate limit.
    fetcher = fetcher or Fetcher(client, policy, sleep=sleep, monotonic=monotonic)
    url = clob_url.rstrip("/") + "/prices-history"
    anchors: dict[str, set[Point]] = {k: set(q.anchors) | set((known or {}).get(k, ())) for k, q in quotes.items()}
    missing = set(known_missing)
    to_fetch: dict[AnchorKey, None] = {}  # ordered, and a lookup is not a scan
    now_ts = int(now.timestamp())
    for key, when in sorted(set(wanted)):
        q = quotes.get(key)
        ts = int(when.timestamp())
        if q is None or ts > now_ts or (key, ts) in missing or nearest(anchors[key], ts):
            continue
        from_history = nearest(q.history, ts)
        if from_history:
            anchors[key].add(from_history)
        elif q.token_id:
            to_fetch[key, ts] = None

    def job(token: str, ts: int) -> tuple[Point, ...]:
        params = [
            ("market", token),
            ("startTs", str(ts - ANCHOR_WINDOW_S)),
            ("endTs", str(ts + ANCHOR_WINDOW_S)),
            ("fidelity", "60"),
        ]
        return parse_history(fetcher.get_json(url, params))

    results = fetcher.run_all([partial(job, quotes[k].token_id or "", ts) for k, ts in to_fetch])
    failed: dict[str, str] = {}
    for (key, ts), result in zip(to_fetch, results, strict=True):
        if isinstance(result, CallFailed):
            failed[key] = result.reason
            continue
        point = nearest(result, ts)
        if point is None:
            missing.add((key, ts))
        else:
            anchors[key].add(point)
    out = {k: replace(q, anchors=tuple(sorted(anchors[k]))) for k, q in quotes.items()}
    return AnchorResult(out, frozenset(missing), failed, fetcher.requests)

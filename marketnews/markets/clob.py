"""Price series from the CLOB `prices-history` endpoint: one request per market, at most.

Network I/O in `add_series`, through an injected httpx client, rate-limited (at most
800 requests in any 10 s, against the CLOB's documented 1,000). The rest is pure.

Each quote carries two series:
- `history`, the headline price over the last 7 days, for its charts;
- `anchors`, the price at each citing article's date ("10% when this was published").
Both come from the same answer. For a market that needs anything, one request asks for
`startTs` = the earliest date wanted (the earliest citing article not yet anchored, or
7 days ago for a history) minus `ANCHOR_WINDOW_S`, `endTs` = now (or the last date
wanted), at the finest `fidelity` (minutes per point) that keeps the answer under
`MAX_POINTS` points, but never coarser than 6 hours: then every date has a point within
3 hours, the widest gap `Quote.price_at` accepts. A market that is not open (closed or
resolved) is asked `interval=max&fidelity=720`: the CLOB answers nothing finer for it.

A known series (the cache's, same CLOB token) is not fetched again: an open market's
history is extended with the fresh quote's own price at the current hour and trimmed
to 7 days, so a steady hourly build makes no request; one whose newest point is older
than `GAP_S` (builds stopped for a while) is filled in from that point. A closed or
resolved market's history is kept as it is: it ended. A date with no price within
`ANCHOR_WINDOW_S` (the market did not exist yet, or did not trade) is recorded as
*missing* so that it is not asked again; a failed request is not (it will be).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from marketnews.markets.httpjson import CallFailed, Fetcher, HttpPolicy
from marketnews.markets.model import EARLIEST_TS, FUTURE_SKEW_S, LATEST_TS, PRICE_AT_TOLERANCE_S, Point, Quote
from marketnews.markets.normalise import probability

if TYPE_CHECKING:  # the network stack is imported by the code that uses it, not by every build
    import httpx

HOUR_S = 3600
WEEK_S = 7 * 24 * HOUR_S
ANCHOR_WINDOW_S = PRICE_AT_TOLERANCE_S  # a price this near a date is the price at it
GAP_S = 3 * HOUR_S  # a known history whose newest point is older than this is filled in
# Fidelities tried, finest first: 6 hours is the coarsest that leaves every date within
# ANCHOR_WINDOW_S of a point. A longer span than MAX_POINTS of 6 hours gets more points.
FIDELITIES_MIN = (60, 120, 180, 360)
MAX_POINTS = 1500
CLOSED_FIDELITY_MIN = 720  # a closed or resolved market has no history finer than 12 hours

# The CLOB allows 1,000 requests per 10 s; we start at most 800 in any 10 s, keeping a
# fifth of the limit free. 12 in flight at once sustain ~240/s at 50 ms a round trip,
# so a cold build of 2,000 markets (one request each) takes about two windows (~22 s).
CLOB_POLICY = HttpPolicy(concurrency=12, rate_per_s=80.0, budget_s=60.0, attempts=3)

AnchorWanted = tuple[str, datetime]  # (quote key, article date)
AnchorKey = tuple[str, int]  # (quote key, unix seconds)


@dataclass(frozen=True)
class SeriesResult:
    quotes: Mapping[str, Quote]
    missing: frozenset[AnchorKey] = frozenset()  # asked, and no price exists: don't ask again
    failed: Mapping[str, str] = field(default_factory=dict)  # key -> why its request failed
    fetched: frozenset[str] = frozenset()  # keys whose series came from the CLOB this time
    requests: int = 0


@dataclass(frozen=True)
class Ask:
    """The one request a market needs: what to send, and what to take from the answer."""

    key: str
    params: tuple[tuple[str, str], ...]
    history: bool  # the answer gives the market's history (else only anchors)
    anchors: tuple[int, ...]  # article times (unix seconds) to take prices for


def hour(ts: int) -> int:
    return ts - ts % HOUR_S


def parse_history(body: Any, latest: int = LATEST_TS) -> tuple[Point, ...]:
    """`{"history": [{"t": .., "p": ..}]}` -> sorted points; bad points are skipped, and
    so are points stamped after `latest` (unix seconds: when the build asked).

    Raises CallFailed when the body is not of that shape at all.
    """
    if not isinstance(body, dict) or not isinstance(body.get("history"), list):
        raise CallFailed('unexpected response: expected {"history": [...]}')
    points: dict[int, float] = {}
    for item in body["history"]:
        # The usual point, checked at C speed: an archive's answers hold millions of them.
        t, p = (item.get("t"), item.get("p")) if isinstance(item, dict) else (None, None)
        if type(t) is int and type(p) is float and 0.0 <= p <= 1.0 and EARLIEST_TS <= t <= latest:
            points[t] = p
            continue
        p = probability(p)
        if (isinstance(t, (int, float)) and not isinstance(t, bool) and p is not None
                and EARLIEST_TS <= t <= latest):  # (NaN and infinities fail the bounds; a huge int is never a float)
            points[int(t)] = p
    return tuple(sorted(points.items()))


def extend_history(points: Sequence[Point], now: datetime | int, price: float | None) -> tuple[Point, ...]:
    """Add `price` at the current hour (replacing any point in that hour); keep 7 days, and
    nothing stamped later than the hour after this one (a cache's, or a clock ahead).

    `points` are sorted by time, as every series here is."""
    now_ts = now if isinstance(now, int) else int(now.timestamp())
    slot = hour(now_ts)
    first = bisect.bisect_right(points, (now_ts - WEEK_S, math.inf))
    last = bisect.bisect_left(points, (slot, -math.inf)) if price is not None else len(points)
    end = bisect.bisect_right(points, (now_ts + FUTURE_SKEW_S, math.inf))
    kept = tuple(points[first:min(last, end)]) + tuple(pt for pt in points[last:end] if hour(pt[0]) != slot)
    return tuple(sorted((*kept, (slot, price)))) if price is not None else kept


def known_histories(previous: Mapping[str, Quote], fresh: Mapping[str, Quote],
                    series: str = "history") -> dict[str, tuple[Point, ...]]:
    """Cached series (`history` or `anchors`) still valid for the fresh quotes: same key, same CLOB token."""
    return {
        key: getattr(old, series)
        for key, old in previous.items()
        if getattr(old, series) and key in fresh and fresh[key].token_id == old.token_id
    }



def last_week(points: Sequence[Point]) -> tuple[Point, ...]:
    """The 7 days up to a series' last point: the history of a market that has stopped trading."""
    if not points:
        return ()
    end = points[-1][0]
    return tuple(pt for pt in points if pt[0] > end - WEEK_S)


def nearest(points: Sequence[Point], ts: int, window_s: int = ANCHOR_WINDOW_S) -> Point | None:
    """The point of a sorted series closest to `ts` (the earlier one on a tie), if within `window_s`."""
    i = bisect.bisect_left(points, (ts, -1.0))
    best = min((pt for pt in points[max(0, i - 1) : i + 1]), key=lambda pt: abs(pt[0] - ts), default=None)
    return best if best is not None and abs(best[0] - ts) <= window_s else None


def fidelity_min(span_s: int) -> int:
    """The finest fidelity (minutes per point) that covers `span_s` in MAX_POINTS points, at most 6 hours."""
    for minutes in FIDELITIES_MIN:
        if span_s <= MAX_POINTS * minutes * 60:
            return minutes
    return FIDELITIES_MIN[-1]


def plan(quote: Quote, history: Sequence[Point], anchors: Sequence[Point], wanted: Iterable[int],
         missing: Iterable[int], now_ts: int) -> tuple[tuple[Point, ...], tuple[Point, ...], Ask | None]:
    """A quote's series from what is known, and the request for what is not (None: nothing to ask).

    `history` and `anchors` are known (the cache's, for the same token); `wanted` the
    article times wanted, `missing` those known to have no price.
    """
    is_open = quote.status == "open"
    gone = set(missing)
    anchored = list(anchors)
    newest = history[-1][0] if history else now_ts - WEEK_S
    need_history = not history or (is_open and newest < now_ts - GAP_S)
    if is_open and history:  # with a gap to fill, this is what stays if the request fails
        history = extend_history(history, now_ts, quote.probability)
    have = sorted(set(anchored))
    times: list[int] = []
    for ts in sorted(set(wanted)):
        # Only an open market shows the price when an article was published (see widgets).
        if not is_open or ts > now_ts or ts in gone or nearest(have, ts):
            continue
        found = nearest(history, ts) if not need_history else None
        if found:
            have.append(found)
            have.sort()
        else:
            times.append(ts)
    ask = None
    if quote.token_id and (need_history or times):
        if not is_open:
            params: tuple[tuple[str, str], ...] = (("interval", "max"), ("fidelity", str(CLOSED_FIDELITY_MIN)))
        else:
            starts = [ts - ANCHOR_WINDOW_S for ts in times]
            if need_history:
                starts.append(max(newest, now_ts - WEEK_S))
            start = max(EARLIEST_TS, min(starts))
            end = now_ts if need_history else min(now_ts, max(times) + ANCHOR_WINDOW_S)
            params = (("startTs", str(start)), ("endTs", str(end)), ("fidelity", str(fidelity_min(end - start))))
        ask = Ask(quote.key, (("market", quote.token_id), *params), need_history, tuple(times))
    elif not history and is_open:  # nothing to fetch with: the series starts now
        history = extend_history((), now_ts, quote.probability)
    return tuple(history), tuple(have), ask


def answered(quote: Quote, ask: Ask, known: Sequence[Point], anchors: Sequence[Point], points: Sequence[Point],
             now_ts: int) -> tuple[Quote, set[AnchorKey]]:
    """The quote with its series from an answer (`points`), and the article times it has no price for."""
    history: tuple[Point, ...] = tuple(known)
    if ask.history:
        if quote.status == "open":
            merged = dict(known)
            merged.update(pt for pt in points if pt[0] > now_ts - WEEK_S)
            history = extend_history(sorted(merged.items()), now_ts, quote.probability)
        else:
            history = last_week(points)
    have = set(anchors)
    missing: set[AnchorKey] = set()
    for ts in ask.anchors:
        found = nearest(points, ts)
        if found is None:
            missing.add((quote.key, ts))
        else:
            have.add(found)
    return replace(quote, history=history, anchors=tuple(sorted(have))), missing


def add_series(
    quotes: Mapping[str, Quote],
    wanted: Iterable[AnchorWanted],
    client: httpx.Client,
    *,
    clob_url: str,
    now: datetime,
    known_history: Mapping[str, Sequence[Point]] | None = None,
    known_anchors: Mapping[str, Sequence[Point]] | None = None,
    known_missing: frozenset[AnchorKey] = frozenset(),
    policy: HttpPolicy = CLOB_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    fetcher: Fetcher | None = None,
) -> SeriesResult:
    """Quotes with their history and anchors: known ones kept, the rest fetched, one request a market.

    `known_history`/`known_anchors` hold the series of earlier builds (the cache, for the
    same CLOB token, see `known_histories`) and `known_missing` the (key, time) pairs
    that were asked before and had no price.
    """
    fetcher = fetcher or Fetcher(client, policy, sleep=sleep, monotonic=monotonic)
    url = clob_url.rstrip("/") + "/prices-history"
    now_ts = int(now.timestamp())
    by_key: dict[str, set[int]] = {}
    for key, when in wanted:
        by_key.setdefault(key, set()).add(int(when.timestamp()))
    gone: dict[str, set[int]] = {}
    for key, ts in known_missing:
        gone.setdefault(key, set()).add(ts)
    out = dict(quotes)
    asks: list[tuple[Ask, tuple[Point, ...], tuple[Point, ...]]] = []
    for key, q in sorted(quotes.items()):
        known = (known_history or {}).get(key, ())
        anchors = sorted(set(q.anchors) | set((known_anchors or {}).get(key, ())))
        history, have, ask = plan(q, known, anchors, by_key.get(key, ()), gone.get(key, ()), now_ts)
        out[key] = replace(q, history=history, anchors=have)
        if ask is not None:
            asks.append((ask, tuple(known), have))

    def job(ask: Ask) -> tuple[Point, ...]:
        return parse_history(fetcher.get_json(url, ask.params), latest=now_ts + FUTURE_SKEW_S)

    results = fetcher.run_all([partial(job, ask) for ask, _, _ in asks])
    failed: dict[str, str] = {}
    missing = set(known_missing)
    fetched = set()
    for (ask, known, have), result in zip(asks, results, strict=True):
        if isinstance(result, CallFailed):
            failed[ask.key] = result.reason
            continue
        fetched.add(ask.key)
        out[ask.key], none = answered(quotes[ask.key], ask, known, have, result, now_ts)
        missing |= none
    return SeriesResult(out, frozenset(missing), failed, frozenset(fetched), fetcher.requests)

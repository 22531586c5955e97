"""The Polymarket provider: refs -> fresh quotes with histories and anchors. Network I/O.

Composes two steps, each with its own time budget, so that slow charts never cost the
odds themselves:
  1. `gamma.fetch_quotes`  quotes for the refs (batched list requests, see gamma.py);
  2. `clob.add_series`     the 7-day history and the prices at article dates, at most
                           one request per market, only for what the cache lacks.
`previous` is the last good quote of each key (the cache): resolved quotes are
reused without a request, and histories and anchors are carried over while the
quote's CLOB token is the same. The caller builds the client and reads the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from marketnews.markets import CLOB_URL, GAMMA_URL
from marketnews.markets.clob import CLOB_POLICY, AnchorKey, AnchorWanted, add_series, known_histories
from marketnews.markets.gamma import MAX_URL_BYTES, FetchResult, fetch_quotes
from marketnews.markets.httpjson import HttpPolicy
from marketnews.markets.model import Quote
from marketnews.markets.refs import MarketRef

if TYPE_CHECKING:  # the network stack is imported by the code that uses it, not by every build
    import httpx


@dataclass(frozen=True)
class PolymarketSettings:
    gamma_url: str = GAMMA_URL
    clob_url: str = CLOB_URL
    gamma: HttpPolicy = HttpPolicy()
    clob: HttpPolicy = CLOB_POLICY
    max_url_bytes: int = MAX_URL_BYTES
    histories: bool = True


@dataclass(frozen=True)
class LiveQuotes:
    """The provider's answer. `quotes` holds only what was fetched now (plus final resolved)."""

    quotes: Mapping[str, Quote] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()
    failed: Mapping[str, str] = field(default_factory=dict)
    anchors_missing: frozenset[AnchorKey] = frozenset()
    history_failed: Mapping[str, str] = field(default_factory=dict)
    quote_requests: int = 0
    history_requests: int = 0
    final: frozenset[str] = frozenset()  # resolved quotes passed on from `previous`, not asked for

    @property
    def requests(self) -> int:
        return self.quote_requests + self.history_requests


def fetch_live(
    refs: Iterable[MarketRef],
    client: httpx.Client,
    *,
    now: datetime,
    settings: PolymarketSettings = PolymarketSettings(),
    previous: Mapping[str, Quote] | None = None,
    anchors_wanted: Iterable[AnchorWanted] = (),
    anchors_missing: frozenset[AnchorKey] = frozenset(),
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> LiveQuotes:
    previous = previous or {}
    got: FetchResult = fetch_quotes(
        refs,
        client,
        gamma_url=settings.gamma_url,
        now=now,
        policy=settings.gamma,
        settled=previous,
        max_url_bytes=settings.max_url_bytes,
        sleep=sleep,
        monotonic=monotonic,
    )
    if not settings.histories or not got.quotes:
        return LiveQuotes(got.quotes, got.unknown, got.failed, anchors_missing, quote_requests=got.requests,
                          final=got.final)
    series = add_series(
        got.quotes,
        anchors_wanted,
        client,
        clob_url=settings.clob_url,
        now=now,
        known_history=known_histories(previous, got.quotes),
        known_anchors=known_histories(previous, got.quotes, "anchors"),
        known_missing=anchors_missing,
        policy=settings.clob,
        sleep=sleep,
        monotonic=monotonic,
    )
    return LiveQuotes(
        quotes=series.quotes,
        unknown=got.unknown,
        failed=got.failed,
        anchors_missing=series.missing,
        history_failed=series.failed,
        quote_requests=got.requests,
        history_requests=series.requests,
        final=got.final,
    )

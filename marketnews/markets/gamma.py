"""Look up market references on Polymarket's Gamma API, in batches, and normalise them. Network I/O.

The lookup of a set of `MarketRef`s, in rounds (each round's batches run in parallel):

1. markets, `closed=false`: every bare slug and `/event/E/M` market slug;
2. markets, `closed=true`, for the slugs round 1 answered without: Gamma's `/markets`
   list silently applies `closed=false` when `closed` is absent, so a resolved
   market is only found by asking for closed ones. Asking in this order costs one
   round for the common case (open markets) and a second only for what is missing;
3. events, `closed=false` then `closed=true` (same reason; `/events` reportedly
   defaults the other way, which we don't rely on): every `/event/E` ref, and the
   bare slugs no market has.
What no round finds is `unknown`; what a failed batch held is `failed` (with the reason)
and is not looked up further. Batches are as many slugs as fit in `max_url_bytes`
of encoded URL; a 414 splits the batch in two and asks again.

Quotes already `resolved` in `settled` (from the cache) are final: they are
returned as they are, with the time they were taken, without a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from marketnews.markets.httpjson import CallFailed, Fetcher, HttpPolicy
from marketnews.markets.model import Quote
from marketnews.markets.normalise import event_quote, market_quote, text
from marketnews.markets.refs import MarketRef

if TYPE_CHECKING:  # the network stack is imported by the code that uses it, not by every build
    import httpx

MAX_URL_BYTES = 8000

# One lookup round's answer: slug -> object found, slugs confirmed absent, slug -> failure reason.
Round = tuple[dict[str, Mapping[str, Any]], list[str], dict[str, str]]


@dataclass(frozen=True)
class FetchResult:
    """What one lookup produced. Every requested key is in exactly one of the three."""

    quotes: Mapping[str, Quote] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()  # keys Polymarket does not know
    failed: Mapping[str, str] = field(default_factory=dict)  # key -> why it could not be had
    requests: int = 0
    final: frozenset[str] = frozenset()  # keys of `quotes` passed on unasked: resolved in `settled`


def batches(
    base_url: str, slugs: Sequence[str], extra: Sequence[tuple[str, str]], max_url_bytes: int
) -> list[list[str]]:
    """Split slugs into runs whose URL `base_url?<extra>&slug=..&slug=..` fits the limit."""
    head = len(base_url) + 1 + len(urlencode(list(extra)))
    out: list[list[str]] = []
    current: list[str] = []
    size = head
    for slug in slugs:
        cost = 1 + len(urlencode([("slug", slug)]))
        if current and size + cost > max_url_bytes:
            out.append(current)
            current, size = [], head
        current.append(slug)
        size += cost
    if current:
        out.append(current)
    return out


def _split_refs(refs: Iterable[MarketRef]) -> tuple[dict[str, MarketRef], dict[str, list[str]]]:
    """Dedupe: market slug -> its ref (the more specific one wins), event slug -> event keys."""
    markets: dict[str, MarketRef] = {}
    events: dict[str, list[str]] = {}
    for ref in sorted(set(refs)):
        if ref.kind == "event":
            keys = events.setdefault(ref.slug, [])
            if ref.key not in keys:
                keys.append(ref.key)
        elif ref.slug not in markets or markets[ref.slug].kind == "any":
            markets[ref.slug] = ref
    return markets, events


class _Lookup:
    """The state of one lookup run; `run()` returns its FetchResult."""

    def __init__(self, fetcher: Fetcher, gamma_url: str, now: datetime, max_url_bytes: int):
        self.fetcher, self.gamma_url, self.now = fetcher, gamma_url.rstrip("/"), now
        self.max_url_bytes = max_url_bytes
        self.unreadable: dict[str, str] = {}

    def list_round(self, path: str, slugs: Sequence[str], closed: bool) -> Round:
        """One round: slug -> object found, slugs confirmed absent, slug -> why it failed."""
        if not slugs:
            return {}, [], {}
        url = self.gamma_url + path
        extra = [("closed", "true" if closed else "false")]
        groups = batches(url, sorted(slugs), extra, self.max_url_bytes)
        results = self.fetcher.run_all([partial(self.list_batch, url, g, extra) for g in groups])
        found: dict[str, Mapping[str, Any]] = {}
        absent: list[str] = []
        failed: dict[str, str] = {}
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, CallFailed):
                failed.update((slug, result.reason) for slug in group)
                continue
            hits, misses, fails = result
            found.update(hits)
            absent.extend(misses)
            failed.update(fails)
        return found, absent, failed

    def list_batch(self, url: str, group: list[str], extra: list[tuple[str, str]]) -> Round:
        params = [*extra, *(("slug", s) for s in group)]
        try:
            body = self.fetcher.get_json(url, params)
        except CallFailed as exc:
            if not exc.too_long or len(group) < 2:
                return {}, [], {s: exc.reason for s in group}
            half = len(group) // 2
            a = self.list_batch(url, group[:half], extra)
            b = self.list_batch(url, group[half:], extra)
            return {**a[0], **b[0]}, a[1] + b[1], {**a[2], **b[2]}
        if not isinstance(body, list):
            reason = f"unexpected response: expected a JSON array, got {type(body).__name__}"
            return {}, [], {s: reason for s in group}
        wanted = set(group)
        hits: dict[str, Mapping[str, Any]] = {}
        for item in body:
            if isinstance(item, Mapping):
                slug = text(item.get("slug"))
                if slug in wanted and slug not in hits:
                    hits[slug] = item
        return hits, [s for s in group if s not in hits], {}

    def both_ways(self, path: str, slugs: Sequence[str]) -> Round:
        """Open ones first, then closed ones among the slugs not found open (the closed trap)."""
        found, absent, failed = self.list_round(path, slugs, closed=False)
        more, absent, failed_closed = self.list_round(path, absent, closed=True)
        return {**found, **more}, absent, {**failed, **failed_closed}

    def run(self, refs: Iterable[MarketRef], settled: Mapping[str, Quote]) -> FetchResult:
        quotes: dict[str, Quote] = {}
        final: set[str] = set()
        pending = []
        for ref in set(refs):
            settled_quote = settled.get(ref.key)
            if settled_quote is not None and settled_quote.status == "resolved":
                # Kept with the time it was taken: it was not asked for again, and a later
                # stamp would change /snapshot.json and /markets/ on every build.
                quotes[ref.key] = settled_quote
                final.add(ref.key)
            else:
                pending.append(ref)
        markets, events = _split_refs(pending)
        unknown: set[str] = set()

        found, absent, failed_slugs = self.both_ways("/markets", list(markets))
        for slug, raw in found.items():
            ref = markets[slug]
            self.add(quotes, ref.key, market_quote, raw, ref.key, self.now, ref.event_slug)
        for slug in absent:
            if markets[slug].kind == "any":
                events.setdefault(slug, []).append(markets[slug].key)
            else:
                unknown.add(markets[slug].key)
        failed = {markets[s].key: r for s, r in failed_slugs.items()}

        found, absent, failed_slugs = self.both_ways("/events", list(events))
        for slug, raw in found.items():
            for key in events[slug]:
                self.add(quotes, key, event_quote, raw, key, self.now)
        unknown.update(k for slug in absent for k in events[slug])
        failed.update((k, r) for s, r in failed_slugs.items() for k in events[s])
        failed.update(self.unreadable)
        return FetchResult(
            quotes=dict(sorted(quotes.items())),
            unknown=frozenset(unknown),
            failed=dict(sorted(failed.items())),
            requests=self.fetcher.requests,
            final=frozenset(final),
        )

    def add(self, quotes: dict[str, Quote], key: str, build: Callable[..., Quote], *args: Any) -> None:
        """Normalising never raises by design; should it ever, that key fails, not the run."""
        try:
            quotes[key] = build(*args)
        except Exception as exc:  # one bad object must not sink the build
            self.unreadable[key] = f"could not read the API's answer: {type(exc).__name__}: {exc}"


def fetch_quotes(
    refs: Iterable[MarketRef],
    client: httpx.Client,
    *,
    gamma_url: str,
    now: datetime,
    policy: HttpPolicy | None = None,
    settled: Mapping[str, Quote] | None = None,
    max_url_bytes: int = MAX_URL_BYTES,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """Quotes for `refs` from Gamma at `gamma_url`, each fetched quote stamped `as_of=now`."""
    fetcher = Fetcher(client, policy or HttpPolicy(), sleep=sleep, monotonic=monotonic)
    return _Lookup(fetcher, gamma_url, now, max_url_bytes).run(refs, settled or {})

"""Raw Gamma market and event objects -> `Quote`: the odds Polymarket itself displays. No I/O.

Every field of a Gamma object may be missing, null or malformed; each reader here
falls back to a default instead of raising. Rules, in one place:

Headline probability (what polymarket.com shows)
    Open market: midpoint of `bestBid`/`bestAsk` when both are there and the spread
    is at most 0.10; over 0.10, `lastTradePrice`. Where those are missing, the
    outcome's entry in `outcomePrices`. Closed market: `outcomePrices` first (the
    order book is cleared at close, e.g. bid 0 / ask 1, so a midpoint means nothing).
    Gamma's bid/ask/last-trade are those of the *first* outcome's token; for two
    outcomes the second is 1 minus the first.
Headline outcome
    "Yes" for a Yes/No market (whatever its index), else the first outcome ("Up").
Status (flags lag, so prices decide the winner)
    resolved  `closed` and exactly one outcome priced >= 0.99 (that outcome wins), or
              `umaResolutionStatus` "resolved" (winner as before, or none when no
              outcome is at ~1, e.g. a 50-50 resolution);
    closed    `closed` without a clear winner (e.g. awaiting resolution);
    open      everything else, even past `endDate` or with a price at 0.999: a
              market is only called over once Gamma says it is closed.
Events
    One member market: that market's quote under the event's key. Several: an
    `event` quote whose outcomes are the members (`groupItemTitle`, else their
    question) with their Yes probability, ranked by probability (ties by
    `groupItemThreshold`); the headline is the leader (or the winner once
    resolved); volume is the event's; resolved when exactly one member resolved
    "Yes" and the event or all its members are closed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from marketnews.markets.model import EARLIEST, LATEST, Outcome, Quote, Status, amount, clean_text, parse_time

SITE = "https://polymarket.com"
WIDE_SPREAD = 0.10
WIN_PRICE = 0.99

Raw = Mapping[str, Any]


# --- field readers: never raise -------------------------------------------------------


def json_list(value: object) -> list[Any]:
    """A list, or a string holding a JSON array (Gamma's `outcomes` etc.); else []."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):  # (nested too deep to read)
            return []
        return parsed if isinstance(parsed, list) else []
    return []


def number(value: object) -> float | None:
    """A finite float from a number or a decimal string; None otherwise (bools too)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            result = float(value)
        elif isinstance(value, str):
            result = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):  # OverflowError: an int too large for a float
        return None
    return result if math.isfinite(result) else None


def money(value: object) -> float | None:
    """A sum in USD that makes sense (see model.amount): a negative or absurd one is None."""
    return amount(number(value))


def change(value: object) -> float | None:
    """A price change, from -1 to 1; anything else is None."""
    result = number(value)
    return result if result is not None and -1.0 <= result <= 1.0 else None


def probability(value: object) -> float | None:
    """A price from 0 to 1 (a hair outside is clamped); None when absent or out of range."""
    result = number(value)
    if result is None or not -1e-6 <= result <= 1 + 1e-6:
        return None
    return min(1.0, max(0.0, result))


def text(value: object) -> str | None:
    """A non-blank string, stripped; None otherwise."""
    if isinstance(value, str) and value.strip():
        return clean_text(value.strip())
    return None


def time(value: object) -> datetime | None:
    stamp = text(value)
    if stamp is None:
        return None
    try:
        when = parse_time(stamp)
        when.astimezone(UTC)  # an offset that pushes the time out of range fails here
    except (ValueError, TypeError, OverflowError):
        return None
    return when if EARLIEST <= when <= LATEST else None


def market_url(slug: str, event_slug: str | None) -> str:
    if event_slug and event_slug != slug:
        return f"{SITE}/event/{event_slug}/{slug}"
    if event_slug:
        return event_url(event_slug)
    return f"{SITE}/market/{slug}"


def event_url(slug: str) -> str:
    return f"{SITE}/event/{slug}"


def first_event_slug(raw: Raw) -> str | None:
    events = raw.get("events")
    if isinstance(events, list) and events and isinstance(events[0], Mapping):
        return text(events[0].get("slug"))
    return None


# --- markets ----------------------------------------------------------------------------


def outcome_names(raw: Raw) -> tuple[str, ...]:
    names = json_list(raw.get("outcomes"))
    if not names:
        return ("Yes", "No")
    return tuple(text(n) or f"Outcome {i + 1}" for i, n in enumerate(names))


def listed_prices(raw: Raw, count: int) -> tuple[float | None, ...]:
    """`outcomePrices` aligned to `count` outcomes (missing entries are None)."""
    prices = [probability(p) for p in json_list(raw.get("outcomePrices"))][:count]
    return tuple(prices + [None] * (count - len(prices)))


def book_price(raw: Raw) -> float | None:
    """The first outcome's displayed price from the order book, or None to fall back."""
    bid, ask = probability(raw.get("bestBid")), probability(raw.get("bestAsk"))
    if bid is None or ask is None or ask < bid:
        return None
    if round(ask - bid, 9) <= WIDE_SPREAD:
        return (bid + ask) / 2
    return probability(raw.get("lastTradePrice"))


def displayed_prices(raw: Raw, names: Sequence[str], closed: bool) -> tuple[float | None, ...]:
    listed = listed_prices(raw, len(names))
    first = None if closed else book_price(raw)
    if first is None:
        first = listed[0] if listed else None
    if first is None and not closed:
        first = probability(raw.get("lastTradePrice"))
    if first is None:
        return listed
    if len(names) == 2:
        return (first, 1.0 - first)
    return (first, *listed[1:])


def headline_index(names: Sequence[str]) -> int:
    folded = [n.casefold() for n in names]
    if sorted(folded) == ["no", "yes"]:
        return folded.index("yes")
    return 0


def market_status(raw: Raw, names: Sequence[str]) -> tuple[Status, str | None]:
    closed = raw.get("closed") is True
    statuses = json_list(raw.get("umaResolutionStatuses"))
    uma_resolved = text(raw.get("umaResolutionStatus")) == "resolved" or bool(
        statuses and statuses[-1] == "resolved"
    )
    settled = listed_prices(raw, len(names))
    winners = [names[i] for i, p in enumerate(settled) if p is not None and p >= WIN_PRICE]
    winner = winners[0] if len(winners) == 1 else None
    if (closed and winner) or uma_resolved:
        return "resolved", winner
    if closed:
        return "closed", None
    return "open", None


def market_quote(raw: Raw, key: str, as_of: datetime, event_slug: str | None = None) -> Quote:
    """One Gamma market object -> its Quote. `event_slug` is used when the market names none."""
    slug = text(raw.get("slug")) or key
    names = outcome_names(raw)
    closed = raw.get("closed") is True
    prices = displayed_prices(raw, names, closed)
    head = headline_index(names)
    tokens = [text(t) for t in json_list(raw.get("clobTokenIds"))]
    status, winner = market_status(raw, names)
    day_change = change(raw.get("oneDayPriceChange"))
    if day_change is not None and head != 0 and len(names) == 2:
        day_change = -day_change  # Gamma's change is the first outcome's
    volume = money(raw.get("volumeNum"))
    return Quote(
        key=key,
        question=text(raw.get("question")) or text(raw.get("title")) or slug,
        url=market_url(slug, first_event_slug(raw) or event_slug),
        as_of=as_of,
        kind="market",
        status=status,
        probability=prices[head] if head < len(prices) else None,
        headline_outcome=names[head],
        outcomes=tuple(Outcome(n, p) for n, p in zip(names, prices, strict=True)),
        change_24h=day_change,
        volume=volume if volume is not None else money(raw.get("volume")),
        end_date=time(raw.get("endDate")),
        winner=winner,
        token_id=tokens[head] if head < len(tokens) else None,
    )


# --- events -----------------------------------------------------------------------------


def event_markets(raw: Raw) -> list[Raw]:
    markets = raw.get("markets")
    if not isinstance(markets, list):
        return []
    return [m for m in markets if isinstance(m, Mapping)]


def event_quote(raw: Raw, key: str, as_of: datetime) -> Quote:
    """One Gamma event object (with its `markets`) -> its Quote under `key`."""
    slug = text(raw.get("slug")) or key.removeprefix("event/")
    markets = event_markets(raw)
    if len(markets) == 1:
        return market_quote(markets[0], key, as_of, event_slug=slug)

    members: list[tuple[float, float, str, Quote]] = []
    for i, m in enumerate(markets):
        member_slug = text(m.get("slug")) or f"{slug}-{i}"
        q = market_quote(m, member_slug, as_of, event_slug=slug)
        label = text(m.get("groupItemTitle")) or q.question
        threshold = number(m.get("groupItemThreshold"))
        rank = -(q.probability if q.probability is not None else -1.0)
        members.append((rank, threshold if threshold is not None else float(i), label, q))
    members.sort(key=lambda m: (m[0], m[1], m[2]))

    outcomes = tuple(Outcome(label, q.probability, q.url) for _, _, label, q in members)
    quotes = [q for *_, q in members]
    winners = [label for _, _, label, q in members if q.status == "resolved" and q.winner == "Yes"]
    over = raw.get("closed") is True or (bool(quotes) and all(q.status != "open" for q in quotes))
    status: Status = "open"
    winner: str | None = None
    if over and len(winners) == 1:
        status, winner = "resolved", winners[0]
    elif over:
        status = "closed"
    lead = next((m for m in members if m[2] == winner), members[0] if members else None)
    volume = money(raw.get("volume"))
    if volume is None and quotes:
        volume = amount(sum(q.volume or 0.0 for q in quotes))
    return Quote(
        key=key,
        question=text(raw.get("title")) or text(raw.get("question")) or slug,
        url=event_url(slug),
        as_of=as_of,
        kind="event",
        status=status,
        probability=lead[3].probability if lead else None,
        headline_outcome=lead[2] if lead else None,
        outcomes=outcomes,
        change_24h=lead[3].change_24h if lead else None,
        volume=volume,
        end_date=time(raw.get("endDate")),
        winner=winner,
        token_id=lead[3].token_id if lead else None,
    )

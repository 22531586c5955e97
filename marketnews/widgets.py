"""Quote -> `WidgetView`: every figure and sentence an odds widget shows, computed once. No I/O.

Templates only lay these values out, so the HTML page, the feed's text form and the
accessible name all say the same thing ("Yes 7%, up 1.8 points in 24 hours").
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from itertools import chain
from typing import Any

from marketnews.charts import chart_series, describe, mark_at, pct
from marketnews.markets.model import Point, Quote, Series, Snapshot
from marketnews.markets.normalise import event_url, market_url
from marketnews.markets.refs import MarketRef
from marketnews.templating import date_long, datetime_long, money, points

MAX_OUTCOMES = 4


@dataclass(frozen=True)
class OutcomeView:
    label: str
    pct: str
    probability: float
    url: str | None
    leading: bool


@dataclass(frozen=True)
class WidgetView:
    written: str  # the reference as the author wrote it (data-market)
    key: str
    page_url: str  # this site's page for the market, root-relative
    question: str
    url: str  # the market's page on polymarket.com
    state: str  # open | closed | resolved | unavailable
    kind: str  # market | event
    data_probability: str  # "0.0700", or "" when there is no probability
    pct: str  # "7%"
    outcome: str  # what pct is the chance of: "Yes", "Up", a leading outcome's label
    change_text: str  # "+1.8", "" when unknown
    direction: str  # up | down | flat | none
    arrow: str  # ▲ ▼ ▬ or ""
    change_sentence: str  # "up 1.8 points in 24 hours"
    volume_text: str  # "$12.1M"
    winner: str
    outcomes: tuple[OutcomeView, ...]
    more_outcomes: int
    stale_text: str  # "odds as of 21 November 2026, 14:00 UTC", "" when fresh
    published_pct: str  # price when the article was published, "" when unknown
    low_volume: bool
    summary: str  # the whole widget as one sentence, for feeds and accessible names
    history: Sequence[Point]
    # For templates to format in the site's timezone (filters date_long, iso, rfc3339...).
    end_date: datetime | None = None
    as_of: datetime | None = None
    low_volume_limit: str = ""  # the low-liquidity threshold as shown in the caveat: "$10K"
    # One series for every chart of this market (sparkline and larger chart) and the one
    # sentence that describes it (charts.chart_series): they can never disagree.
    spark: tuple[Point, ...] = ()  # the series every chart draws
    spark_text: str = ""  # the charts' text alternative: "Past 7 days: from 22% to 20%, ..."
    history_text: str = ""  # the same sentence (kept for templates that name it so)
    source: str = ""  # where the quote was taken (Quote.source): "polymarket", "example", ...
    past_end: bool = False  # open, but past its end date: awaiting the result
    end_text: str = ""  # "past its end date (1 December 2026), awaiting the result", "" otherwise
    change: float | None = None  # the 24-hour move in price units (0.018), open markets only
    mark: float | None = None  # where the article's publication falls on the charts' series, 0..1
    # A two-outcome market whose outcomes are not Yes and No, as Polymarket writes it:
    # "Up 5% · Down 95%"; "" for a Yes/No market or an event.
    both_text: str = ""


_SERIES = ("history", "spark")


def view_digest(view: WidgetView) -> str:
    """A digest of everything `view` holds: its fields' reprs, and its two series as their
    numbers' bytes (exact): a history's two arrays as they are, another series' numbers as
    doubles. In a fraction of the time of the whole view's repr."""
    fields = vars(view)
    h = hashlib.blake2b(repr([v for k, v in fields.items() if k not in _SERIES]).encode(), digest_size=16)
    for name in _SERIES:
        series = fields[name]
        h.update(len(series).to_bytes(4, "big"))
        if type(series) is Series:
            h.update(b"S" + series.raw())
        else:
            h.update(b"T")
            h.update(array("d", chain.from_iterable(series)).tobytes())
    return h.hexdigest()


@lru_cache(maxsize=4096)
def _chart_data(history: tuple[Point, ...]) -> tuple[tuple[Point, ...], str]:
    """The charts' series and its sentence: they depend on the history alone, which every
    article showing a market shares, so they are worked out once."""
    series = chart_series(history)
    return series, describe(series)


def _direction(change: float | None) -> tuple[str, str, str]:
    if change is None:
        return "none", "", ""
    value = round(change * 100, 1)
    if value > 0:
        return "up", "▲", f"up {value:.1f} points in 24 hours"
    if value < 0:
        return "down", "▼", f"down {-value:.1f} points in 24 hours"
    return "flat", "▬", "unchanged in 24 hours"


def _bare(written: str, key: str, page_url: str, question: str, url: str, kind: str, state: str,
          summary: str) -> WidgetView:
    return WidgetView(
        written=written, key=key, page_url=page_url, question=question, url=url, state=state, kind=kind,
        data_probability="", pct="", outcome="", change_text="", direction="none", arrow="",
        change_sentence="", volume_text="", winner="", outcomes=(), more_outcomes=0,
        stale_text="", published_pct="", low_volume=False, summary=summary, history=(),
    )


def unavailable(written: str, ref: MarketRef) -> WidgetView:
    url = event_url(ref.slug) if ref.kind == "event" else market_url(ref.slug, ref.event_slug)
    return _bare(written, ref.key, "/" + ref.page_path, written, url, "event" if ref.kind == "event" else "market",
                 "unavailable", "odds unavailable")


def identity(view: WidgetView) -> WidgetView:
    """What a page shows of a market besides its widget: question and links, no odds.

    An article page's frame is rendered with these (see site.Shell), so that the frame
    stays the same while prices move; the odds reach the page through its widgets."""
    return _bare(view.written, view.key, view.page_url, view.question, view.url, view.kind, "", "")


def market_view(
    written: str,
    ref: MarketRef,
    quote: Quote | None,
    *,
    now: datetime,
    stale_after_s: int,
    low_volume: float,
    tz: tzinfo | None = None,
) -> WidgetView:
    """Everything a widget shows for `quote` at `now`, on any page (see `at_publication`
    for what differs from one article to another).

    A stale quote says when it was taken as a date and time rather than an age: the page
    then stays byte-identical from one hourly build to the next while the quote stays
    stale (no deploy churn), and it stays true however long a CDN or a browser keeps it.
    """
    if quote is None:
        return unavailable(written, ref)
    direction, arrow, change_sentence = _direction(quote.change_24h)
    if quote.status != "open":
        direction, arrow, change_sentence = "none", "", ""
    stale = quote.is_stale(now, stale_after_s)  # the one rule: the summary and --max-stale use it too
    stale_text = f"odds as of {datetime_long(quote.as_of, tz or UTC)}" if stale else ""
    ranked = sorted(
        (o for o in quote.outcomes if o.probability is not None),
        key=lambda o: -(o.probability or 0.0),
    ) if quote.kind == "event" else [o for o in quote.outcomes if o.probability is not None]
    outcomes = tuple(
        OutcomeView(o.name, pct(o.probability), float(o.probability or 0.0), o.url, i == 0)
        for i, o in enumerate(ranked[:MAX_OUTCOMES])
    )
    headline = quote.headline_outcome or (ranked[0].name if ranked else "Yes")
    pct_text = pct(quote.probability)
    if quote.status == "resolved":
        summary = f"Resolved: {quote.winner}" if quote.winner else "Resolved"
    elif quote.status == "closed":
        summary = "Closed" + (f", last {headline} {pct_text}" if quote.probability is not None else "")
    elif quote.probability is None:
        summary = "odds unavailable"
    else:
        summary = f"{headline} {pct_text}" + (f", {change_sentence}" if change_sentence else "")
    past_end = quote.past_end(now)
    end_text = ""
    if past_end and quote.end_date is not None:
        end_text = f"past its end date ({date_long(quote.end_date, tz or UTC)}), awaiting the result"
        summary += f"; {end_text}"
    charts = _chart_data(quote.history)
    return WidgetView(
        written=written,
        key=ref.key,
        page_url="/" + ref.page_path,
        question=quote.question,
        url=quote.url,
        state=quote.status if quote.probability is not None or quote.status != "open" else "unavailable",
        kind=quote.kind,
        data_probability=f"{quote.probability:.4f}" if quote.probability is not None else "",
        pct=pct_text,
        outcome=headline,
        change_text=points(quote.change_24h) if quote.status == "open" else "",
        direction=direction,
        arrow=arrow,
        change_sentence=change_sentence,
        volume_text=money(quote.volume),
        winner=quote.winner or "",
        outcomes=outcomes,
        more_outcomes=max(0, len(ranked) - MAX_OUTCOMES),
        stale_text=stale_text,
        published_pct="",
        low_volume=quote.volume is not None and quote.volume < low_volume,
        summary=summary + (f"; {stale_text}" if stale_text else ""),
        history=quote.history,
        end_date=quote.end_date,
        as_of=quote.as_of,
        low_volume_limit=money(low_volume),
        history_text=charts[1],
        spark=charts[0],
        spark_text=charts[1],
        source=quote.source,
        past_end=past_end,
        end_text=end_text,
        change=quote.change_24h if quote.status == "open" else None,
        both_text=_both(quote.kind, outcomes),
    )


def widget_view(written: str, ref: MarketRef, quote: Quote | None, *, now: datetime, stale_after_s: int,
                low_volume: float, published: datetime | None = None, tz: tzinfo | None = None) -> WidgetView:
    """Everything a widget shows for `quote` at `now`, in an article published at `published`
    (its price then, and where that falls on the chart): `market_view`, then `at_publication`."""
    view = market_view(written, ref, quote, now=now, stale_after_s=stale_after_s, low_volume=low_volume, tz=tz)
    return at_publication(view, quote, published)


def at_publication(view: WidgetView, quote: Quote | None, published: datetime | None) -> WidgetView:
    """A market's view (`market_view`) as an article published at `published` shows it: with
    the price when it was published and the chart's mark there. The rest is the market's alone,
    the same on every page."""
    if quote is None or published is None:
        return view
    price = quote.price_at(published)
    shown = pct(price) if price is not None and quote.status == "open" else ""
    mark = mark_at(view.spark, published)
    return with_published(view, shown, mark) if shown or mark is not None else view


def with_published(view: WidgetView, published_pct: str, mark: float | None) -> WidgetView:
    """`view` (a market's, without a publication) with the price at publication `published_pct`
    and the chart's `mark`. The summary names that price before a stale quote's time."""
    summary = view.summary
    if published_pct:
        stale = f"; {view.stale_text}" if view.stale_text else ""
        head = summary[: len(summary) - len(stale)]
        summary = f"{head} ({published_pct} when this was published){stale}"
    return _copied(view, published_pct=published_pct, mark=mark, summary=summary)


def _copied(view: WidgetView, **changes: Any) -> WidgetView:
    """`view` with `changes`, equal to what `dataclasses.replace` makes, in a fraction of its
    time (1.9 µs against 6.9-11.5 µs here): a WidgetView checks nothing when it is made (no
    `__post_init__`), so its fields are copied rather than passed through `__init__` again.
    Every article's every widget with a price at publication is one (30,000 at 10,000 articles)."""
    copy = object.__new__(WidgetView)
    copy.__dict__.update(vars(view), **changes)
    return copy


def _both(kind: str, outcomes: tuple[OutcomeView, ...]) -> str:
    """"Up 5% · Down 95%" for a two-outcome market not named Yes and No."""
    if kind != "market" or len(outcomes) != 2 or {o.label.lower() for o in outcomes} == {"yes", "no"}:
        return ""
    return " · ".join(f"{o.label} {o.pct}" for o in outcomes)



# --- where and when the odds came from -----------------------------------------------------

SOURCE_NAMES = {"polymarket": "Polymarket", "example": "the example snapshot (not live odds)",
                "file": "a snapshot file"}


def source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source)


def odds_statement(snapshot: Snapshot, tz: tzinfo) -> str:
    """Where and when the odds on the site were taken, true of every quote shown: one clause
    per source, with the time of its quotes ("at ..." or "between ... and ...")."""
    groups: dict[str, list[datetime]] = {}
    for q in snapshot.quotes.values():
        groups.setdefault(q.source, []).append(q.as_of)
    if not groups:
        return "No odds are shown on this site yet."
    clauses = []
    for source, times in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        first, last = datetime_long(min(times), tz), datetime_long(max(times), tz)
        when = f"at {first}" if first == last else f"between {first} and {last}"
        count = f"{len(times)} market{'s' if len(times) != 1 else ''} " if len(groups) > 1 else ""
        clauses.append(f"{count}from {source_name(source)}, taken {when}")
    if len(clauses) == 1:
        return f"Odds on this site are {clauses[0]}."
    return f"Odds on this site: {'; '.join(clauses)}."


def odds_note(views: Sequence[WidgetView]) -> str:
    """A feed entry's line on its odds, true of the widgets it introduces: "current" only when
    every quote is from Polymarket and none is stale (the site's one rule); else each stale one
    says when it was taken, and non-live sources are named."""
    shown = [v for v in views if v.state != "unavailable" and v.source]
    if not shown:
        return ""
    sources = sorted({v.source for v in shown}, key=lambda s: (s != "polymarket", s))
    names = " and ".join(source_name(s) for s in sources)
    if sources == ["polymarket"] and not any(v.stale_text for v in shown):
        return "Odds from Polymarket, current when this feed was built; the article page has the latest."
    return f"Odds from {names}; where a market says \u201codds as of\u201d, that is when they were taken."

"""Price series -> inline SVG: a sparkline for odds widgets, a larger chart for market pages. No I/O.

No JavaScript and no files: the SVG is markup inside the page. Every number is
formatted here and the few text labels are escaped, so nothing from the API reaches
the page raw. The drawings are hidden from screen readers; `describe()` is their text
alternative, which templates show beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from markupsafe import Markup, escape

from marketnews.markets.model import Point

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pct(p: float | None) -> str:
    """0.0455 -> "5%"; extremes as "<1%" and ">99%" so a live market never reads 0% or 100%."""
    if p is None:
        return "–"
    if 0 < p < 0.005:
        return "<1%"
    if 0.995 < p < 1:
        return ">99%"
    return f"{int(p * 100 + 0.5)}%"


def _day(ts: int) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d.day} {_MONTHS[d.month - 1]}"


def _path(points: Sequence[Point], x0: float, y0: float, w: float, h: float, lo: float, hi: float) -> str:
    t0, t1 = points[0][0], points[-1][0]
    span_t = max(1, t1 - t0)
    span_p = max(1e-9, hi - lo)
    coords = (
        (x0 + (t - t0) / span_t * w, y0 + h - (min(hi, max(lo, p)) - lo) / span_p * h) for t, p in points
    )
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)


def describe(points: Sequence[Point]) -> str:
    """The text alternative: "Past 7 days: from 22% to 20%, between 18% and 24%".
    """
    if len(points) < 2:
        return ""
    prices = [min(1.0, max(0.0, p)) for _, p in points]
    return (
        f"{period(points)}: from {pct(prices[0])} to {pct(prices[-1])}, "
        f"between {pct(min(prices))} and {pct(max(prices))}"
    )


CHART_STEP_S = 6 * 3600  # the charts' buckets: fixed 6-hour UTC blocks
CHART_WINDOW_S = 7 * 24 * 3600
CHART_QUANTUM = 0.002  # prices drawn to the nearest 0.2 points
CHART_MIN_BUCKETS = 8  # below two days of 6-hour blocks, every point is drawn


def _steps(p: float) -> int:
    """A price in whole steps of CHART_QUANTUM."""
    return round(p / CHART_QUANTUM)


def _price(steps: int) -> float:
    return round(steps * CHART_QUANTUM, 6)


def _quantised(p: float) -> float:
    return _price(_steps(p))


def chart_series(points: Sequence[Point]) -> tuple[Point, ...]:
    """The one series that every chart of a market draws and every sentence about it describes.

    The 7 days up to the series' last point, in fixed 6-hour UTC blocks: the first price,
    then each block's lowest and highest price at their own times (so that no chart hides a
    move the hourly history holds), then the latest price at the end of the current block.
    Prices are drawn to the nearest 0.2 points, and a tie keeps the earlier point. Drawn
    this way, a chart stays byte-identical from one hourly build to the next unless the
    price moved visibly or a block ended, so an hourly rebuild does not rewrite every page
    with a widget just because every history gained a point. A history of under two days
    of blocks is drawn point by point instead: there is too little of it to bucket.
    `points` are in time order, as a Quote's history is.
    """
    if len(points) < 2:
        return tuple((t, _quantised(p)) for t, p in points)
    last_t, last_p = points[-1]
    block = last_t - last_t % CHART_STEP_S
    start = block - CHART_WINDOW_S + CHART_STEP_S  # the first whole block inside the window
    # Worked in whole steps (`_steps`, written out here: it runs for every point), made prices at the end.
    window = [(t, round(p / CHART_QUANTUM)) for t, p in points if t >= start]
    # The latest price stands at the end of the current block, and for the block's points
    # at that same price; its other points are bucketed like the rest. So a new hour at the
    # same price changes nothing, and one at another price adds a point only as an extreme.
    latest = _steps(last_p)
    out = {window[0]} if window[0] != window[-1] else set()
    # One pass: a history is in time order, so each block's points are one run of it.
    blocks, current = 0, None
    low = high = None
    for point in window:
        t, q = point
        if t - t % CHART_STEP_S != current:
            if low is not None and high is not None:
                out.update((low, high))
            current, blocks, low, high = t - t % CHART_STEP_S, blocks + 1, None, None
        if current == block and q == latest:
            continue
        if low is None or high is None:
            low = high = point
        elif q < low[1]:  # strictly: of equal prices, the earlier point
            low = point
        elif q > high[1]:
            high = point
    if blocks < CHART_MIN_BUCKETS:  # a young market: its few days are drawn point by point
        return tuple((t, _quantised(p)) for t, p in points if t > last_t - CHART_WINDOW_S)
    if low is not None and high is not None:
        out.update((low, high))
    return (*((t, _price(q)) for t, q in sorted(out)), (block + CHART_STEP_S, _price(latest)))


# --- drawing ---------------------------------------------------------------------------
# A chart is an SVG of the line and its gridlines, stretched to its box
# (preserveAspectRatio="none", strokes that do not scale), with every word and number in
# HTML around it: labels stay at the page's own type size however wide the box is, so
# they never shrink to 5 px on a phone. The scale starts at 0% and ends at a round
# figure above the highest price (labelled), so a wobble of a point never looks like a
# rise from 9% to 27%. No inline styles (the CSP forbids them): positions are SVG
# attributes.

CEILINGS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def ceiling(prices: Sequence[float]) -> float:
    """The top of a chart's scale: the first of CEILINGS at or above the highest price."""
    top = max(prices, default=0.0)
    return next((c for c in CEILINGS if top <= c + 1e-9), 1.0)


def mark_at(points: Sequence[Point], when: datetime | None) -> float | None:
    """Where `when` (an article's publication) falls along the series, 0..1; None outside it."""
    if when is None or len(points) < 2:
        return None
    t0, t1, ts = points[0][0], points[-1][0], when.timestamp()
    if not t0 <= ts <= t1:
        return None
    return round((ts - t0) / max(1, t1 - t0), 3)


def _svg(points: Sequence[Point], w: int, h: int, top: float, gridlines: int, mark: float | None,
         cls: str) -> str:
    head, tail = _svg_parts(points, w, h, top, gridlines, cls)
    return f"{head}{_mark_line(mark, w, h)}{tail}"


def _svg_parts(points: Sequence[Point], w: int, h: int, top: float, gridlines: int, cls: str) -> tuple[str, str]:
    """A chart's SVG before and after the place of its publication mark (`_mark_line`)."""
    prices = [(t, min(1.0, max(0.0, p))) for t, p in points]
    line = _path(prices, 0, 1, w, h - 2, 0.0, top)
    grid = "".join(
        f'<line class="chart__grid" x1="0" x2="{w}" y1="{y:.1f}" y2="{y:.1f}" vector-effect="non-scaling-stroke"/>'
        for y in (1 + (h - 2) * i / gridlines for i in range(gridlines + 1))
    )
    return (
        f'<svg class="{cls}" aria-hidden="true" focusable="false" viewBox="0 0 {w} {h}" '
        f'preserveAspectRatio="none" width="{w}" height="{h}">{grid}',
        f'<polyline class="chart__line" fill="none" points="{line}" vector-effect="non-scaling-stroke"/></svg>',
    )


def _mark_line(mark: float | None, w: int, h: int) -> str:
    if mark is None:
        return ""
    x = mark * w
    return f'<line class="chart__mark" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{h}" vector-effect="non-scaling-stroke"/>'


def sparkline(points: Sequence[Point], mark: float | None = None, label: str = "") -> Markup:
    """A card's small chart: the line on a 0%-to-ceiling scale labelled at both ends, its
    period, and a dashed mark at `mark` (the article's publication, see `mark_at`).
    `label` names what the line is the price of, when it is not plain (an event's leader).

    A market's line is drawn once (`_spark`) for every story that shows it: each story
    marks its own publication on it."""
    series = tuple(points)
    if len(series) < 2:
        return Markup("")
    head, tail, end = _spark(series, label)
    return Markup(f"{head}{_mark_line(mark, *SPARK_BOX)}{tail}"
                  + ('<span class="chart__key">published</span>' if mark is not None else "") + end)


SPARK_BOX = (300, 48)  # a sparkline's SVG box, width and height


@lru_cache(maxsize=4096)  # asked for by each widget and each story that shows a market: drawn once
def _spark(series: tuple[Point, ...], label: str) -> tuple[str, str, str]:
    """A sparkline before its mark, after it up to the key of the mark, and after that."""
    top = ceiling([p for _, p in series])
    head, tail = _svg_parts(series, *SPARK_BOX, top, 1, "chart__svg")
    return (
        f'<span class="chart chart--spark">{head}',
        f'{tail}<span class="chart__y" aria-hidden="true"><span>{escape(pct(top))}</span><span>0%</span></span>'
        f'<span class="chart__x" aria-hidden="true"><span>{escape(_named(label, period(series)))}</span>',
        "</span></span>",
    )


def price_chart(points: Sequence[Point], mark: float | None = None, label: str = "") -> Markup:
    """A market page's chart: the same scale with a middle gridline, and the first and last
    day under it."""
    return _price_chart(tuple(points), mark, label)


@lru_cache(maxsize=1024)
def _price_chart(series: tuple[Point, ...], mark: float | None, label: str) -> Markup:
    if len(series) < 2:
        return Markup("")
    top = ceiling([p for _, p in series])
    return Markup(
        f'<span class="chart chart--full">{_svg(series, 600, 200, top, 2, mark, "chart__svg")}'
        f'<span class="chart__y" aria-hidden="true"><span>{escape(pct(top))}</span>'
        f'<span>{escape(pct(top / 2))}</span><span>0%</span></span>'
        f'<span class="chart__x" aria-hidden="true"><span>{escape(_day(series[0][0]))}</span>'
        + (f'<span class="chart__name">{escape(label)}</span>' if label else "")
        + f'<span>{escape(_day(series[-1][0]))}</span></span></span>'
    )


def _named(label: str, text: str) -> str:
    return f"{label}, {text[0].lower()}{text[1:]}" if label else text


def period(points: Sequence[Point]) -> str:
    """How long a series runs, as its caption says it: "Past 7 days", "Past 3 hours"."""
    hours = max(1, round((points[-1][0] - points[0][0]) / 3600))
    days = round(hours / 24)
    if hours < 24:
        return "Past hour" if hours == 1 else f"Past {hours} hours"
    return "Past day" if days == 1 else f"Past {days} days"

"""Price series -> inline SVG: a sparkline for odds widgets, a larger chart for market pages. No I/O.

No JavaScript and no files: the SVG is markup inside the page. Every number is
formatted here and the few text labels are escaped, so nothing from the API reaches
the page raw. The drawings are hidden from screen readers; `describe()` is their text
alternative, which templates show beside them.
"""

from __future__ import annotations

import math
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
    hours = max(1, round((points[-1][0] - points[0][0]) / 3600))
    days = round(hours / 24)
    if hours < 24:
        period = "Past hour" if hours == 1 else f"Past {hours} hours"
    else:
        period = "Past day" if days == 1 else f"Past {days} days"
    return (
        f"{period}: from {pct(prices[0])} to {pct(prices[-1])}, "
        f"between {pct(min(prices))} and {pct(max(prices))}"
    )


CHART_STEP_S = 6 * 3600  # the charts' buckets: fixed 6-hour UTC blocks
CHART_WINDOW_S = 7 * 24 * 3600
CHART_QUANTUM = 0.002  # prices drawn to the nearest 0.2 points
CHART_MIN_BUCKETS = 8  # below two days of 6-hour blocks, every point is drawn


def _quantised(p: float) -> float:
    return round(round(p / CHART_QUANTUM) * CHART_QUANTUM, 6)


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
    """
    if len(points) < 2:
        return tuple((t, _quantised(p)) for t, p in points)
    last_t, last_p = points[-1]
    block = last_t - last_t % CHART_STEP_S
    start = block - CHART_WINDOW_S + CHART_STEP_S  # the first whole block inside the window
    window = [(t, _quantised(p)) for t, p in points if t >= start]
    buckets: dict[int, list[Point]] = {}
    for t, p in window:
        buckets.setdefault(t - t % CHART_STEP_S, []).append((t, p))
    if len(buckets) < CHART_MIN_BUCKETS:  # a young market: its few days are drawn point by point
        return tuple((t, _quantised(p)) for t, p in points if t > last_t - CHART_WINDOW_S)
    # The latest price stands at the end of the current block, and for the block's points
    # at that same price; its other points are bucketed like the rest. So a new hour at the
    # same price changes nothing, and one at another price adds a point only as an extreme.
    latest = _quantised(last_p)
    out = {window[0]} if window[0] != window[-1] else set()
    buckets[block] = [pt for pt in buckets.get(block, []) if pt[1] != latest]
    for inside in buckets.values():
        if inside:
            out.add(min(inside, key=lambda pt: (pt[1], pt[0])))
            out.add(max(inside, key=lambda pt: (pt[1], -pt[0])))
    return (*sorted(out), (block + CHART_STEP_S, _quantised(last_p)))


def sparkline(points: Sequence[Point], width: int = 120, height: int = 28) -> Markup:
    """A small line of the series, scaled to its own range (at least 4 points tall)."""
    return _sparkline(tuple(points), width, height)


@lru_cache(maxsize=4096)  # a market's series is drawn for each kind of widget that shows it
def _sparkline(series: tuple[Point, ...], width: int, height: int) -> Markup:
    if len(series) < 2:
        return Markup("")
    points = [(t, min(1.0, max(0.0, p))) for t, p in series]
    prices = [p for _, p in points]
    mid, half = (min(prices) + max(prices)) / 2, max(0.02, (max(prices) - min(prices)) / 2)
    lo, hi = mid - half, mid + half
    line = _path(points, 1, 2, width - 4, height - 4, lo, hi)
    last = line.rsplit(" ", 1)[-1].split(",")
    return Markup(
        f'<svg class="spark" aria-hidden="true" focusable="false" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><polyline fill="none" stroke="currentColor" stroke-width="1.5" '
        f'points="{line}"/><circle cx="{last[0]}" cy="{last[1]}" r="2" fill="currentColor"/></svg>'
    )


def price_chart(points: Sequence[Point], width: int = 640, height: int = 220) -> Markup:
    """A larger chart with percentage gridlines and the first and last day labelled."""
    return _price_chart(tuple(points), width, height)


@lru_cache(maxsize=1024)
def _price_chart(series: tuple[Point, ...], width: int, height: int) -> Markup:
    if len(series) < 2:
        return Markup("")
    points = [(t, min(1.0, max(0.0, p))) for t, p in series]
    prices = [p for _, p in points]
    lo = max(0.0, math.floor(min(prices) * 10) / 10)
    hi = min(1.0, math.ceil(max(prices) * 10) / 10)
    if hi - lo < 0.1:
        lo, hi = (lo, lo + 0.1) if lo + 0.1 <= 1 else (hi - 0.1, hi)
    left, top, right, bottom = 44, 10, 8, 24
    w, h = width - left - right, height - top - bottom
    steps = round((hi - lo) * 10)
    stride = 1 if steps <= 5 else 2
    grid = []
    for i in range(0, steps + 1, stride):
        level = lo + i / 10
        y = top + h - (level - lo) / (hi - lo) * h
        grid.append(
            f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" '
            f'stroke-opacity=".15"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(pct(level))}</text>"
        )
    line = _path(points, left, top, w, h, lo, hi)
    labels = (
        f'<text x="{left}" y="{height - 6}">{escape(_day(points[0][0]))}</text>'
        f'<text x="{left + w}" y="{height - 6}" text-anchor="end">{escape(_day(points[-1][0]))}</text>'
    )
    return Markup(
        f'<svg class="chart" aria-hidden="true" focusable="false" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-size="11" font-family="system-ui, sans-serif" '
        f'fill="currentColor">{"".join(grid)}<polyline fill="none" stroke="currentColor" stroke-width="2" '
        f'points="{line}"/>{labels}</svg>'
    )

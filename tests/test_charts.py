"""Inline SVG sparklines and charts: drawn inside their box, described in words, nothing raw."""

from __future__ import annotations

import re

from marketnews.charts import describe, price_chart, sparkline

WEEK = [(1_763_000_000 + h * 3600, 0.2 + 0.001 * (h % 40)) for h in range(169)]


def coords(svg: str) -> list[tuple[float, float]]:
    points = re.search(r'points="([^"]+)"', svg)
    assert points
    return [(float(x), float(y)) for x, y in (p.split(",") for p in points.group(1).split())]


def test_too_short_a_series_draws_nothing() -> None:
    assert sparkline([]) == "" and sparkline([(1, 0.5)]) == "" and price_chart([(1, 0.5)]) == ""
    assert describe([(1, 0.5)]) == ""


def test_sparkline_stays_inside_its_box_and_is_hidden_from_screen_readers() -> None:
    svg = str(sparkline(WEEK, width=120, height=28))
    assert svg.startswith('<svg class="spark" aria-hidden="true"') and "<script" not in svg
    xy = coords(svg)
    assert len(xy) == len(WEEK)
    assert all(0 <= x <= 120 and 0 <= y <= 28 for x, y in xy)
    assert xy[0][0] < xy[-1][0]


def test_chart_has_gridlines_labels_and_the_whole_series() -> None:
    svg = str(price_chart(WEEK))
    assert svg.startswith('<svg class="chart" aria-hidden="true"')
    assert ">20%</text>" in svg and ">30%</text>" in svg
    assert len(coords(svg)) == len(WEEK)
    assert re.findall(r">(\d+ \w{3})</text>", svg) == ["13 Nov", "20 Nov"]


def test_describe_is_the_text_alternative() -> None:
    assert describe(WEEK) == "Past 7 days: from 20% to 21%, between 20% and 24%"
    assert describe([(0, 0.1), (3 * 3600, 0.4)]) == "Past 3 hours: from 10% to 40%, between 10% and 40%"


def test_out_of_range_prices_are_clamped() -> None:
    series = [(0, 1.0), (3600, 1.05), (7200, -0.2)]
    assert describe(series) == "Past 2 hours: from 100% to 0%, between 0% and 100%"
    assert all(0 <= y <= 28 for _, y in coords(str(sparkline(series))))

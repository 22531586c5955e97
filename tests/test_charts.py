"""Charts: an SVG line inside its box on a scale from 0% to a round ceiling, the words around
it in HTML, described in words, nothing raw."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from marketnews.charts import ceiling, describe, mark_at, price_chart, sparkline

WEEK = [(1_763_000_000 + h * 3600, 0.2 + 0.001 * (h % 40)) for h in range(169)]


def coords(svg: str) -> list[tuple[float, float]]:
    points = re.search(r'points="([^"]+)"', svg)
    assert points
    return [(float(x), float(y)) for x, y in (p.split(",") for p in points.group(1).split())]


def box(svg: str) -> tuple[float, float]:
    found = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert found
    return float(found.group(1)), float(found.group(2))


def test_too_short_a_series_draws_nothing() -> None:
    assert sparkline([]) == "" and sparkline([(1, 0.5)]) == "" and price_chart([(1, 0.5)]) == ""
    assert describe([(1, 0.5)]) == ""


def test_sparkline_stays_inside_its_box_and_is_hidden_from_screen_readers() -> None:
    html = str(sparkline(WEEK))
    assert html.startswith('<span class="chart chart--spark"><svg class="chart__svg" aria-hidden="true"')
    assert "<script" not in html and " style=" not in html
    xy = coords(html)
    w, h = box(html)
    assert len(xy) == len(WEEK)
    assert all(0 <= x <= w and 0 <= y <= h for x, y in xy)
    assert xy[0][0] < xy[-1][0]
    # The words are HTML beside the drawing, hidden from screen readers too (the sentence says it).
    assert '<span class="chart__y" aria-hidden="true"><span>30%</span><span>0%</span></span>' in html
    assert ">Past 7 days</span>" in html


def test_the_scale_starts_at_zero_and_ends_at_a_round_ceiling() -> None:
    assert [ceiling(p) for p in ([0.031, 0.045], [0.09, 0.27], [0.5, 0.61], [0.2, 1.0], [])] == [
        0.1, 0.3, 0.8, 1.0, 0.1]
    # A wobble between 3% and 4% uses a tenth of a 0-30% box: it does not look like a trend.
    wobble = [(t, 0.03 + 0.01 * (i % 2)) for i, (t, _) in enumerate(WEEK)]
    ys = [y for _, y in coords(str(sparkline(wobble)))]
    _, h = box(str(sparkline(wobble)))
    assert max(ys) - min(ys) < h * 0.11
    rise = [(t, 0.09 + 0.18 * i / len(WEEK)) for i, (t, _) in enumerate(WEEK)]
    ys = [y for _, y in coords(str(sparkline(rise)))]
    assert max(ys) - min(ys) > h * 0.55


def test_the_publication_is_marked_where_it_falls() -> None:
    start, end = WEEK[0][0], WEEK[-1][0]
    when = datetime.fromtimestamp(start + (end - start) * 3 // 4, UTC)
    assert mark_at(WEEK, when) == 0.75
    assert mark_at(WEEK, datetime.fromtimestamp(start - 3600, UTC)) is None  # before the chart's period
    html = str(sparkline(WEEK, 0.75))
    w, _ = box(html)
    assert f'<line class="chart__mark" x1="{0.75 * w:.1f}"' in html and ">published</span>" in html
    assert "chart__mark" not in str(sparkline(WEEK))


def test_chart_has_gridlines_labels_and_the_whole_series() -> None:
    html = str(price_chart(WEEK, label="25 bps cut"))
    assert html.startswith('<span class="chart chart--full"><svg class="chart__svg" aria-hidden="true"')
    assert html.count('class="chart__grid"') == 3  # 0%, half and the ceiling
    assert "<span>30%</span><span>15%</span><span>0%</span>" in html
    assert len(coords(html)) == len(WEEK)
    assert re.findall(r"<span>(\d+ \w{3})</span>", html) == ["13 Nov", "20 Nov"]
    assert '<span class="chart__name">25 bps cut</span>' in html  # an event's line is named


def test_describe_is_the_text_alternative() -> None:
    assert describe(WEEK) == "Past 7 days: from 20% to 21%, between 20% and 24%"
    assert describe([(0, 0.1), (3 * 3600, 0.4)]) == "Past 3 hours: from 10% to 40%, between 10% and 40%"


def test_out_of_range_prices_are_clamped() -> None:
    series = [(0, 1.0), (3600, 1.05), (7200, -0.2)]
    assert describe(series) == "Past 2 hours: from 100% to 0%, between 0% and 100%"
    html = str(sparkline(series))
    _, h = box(html)
    assert all(0 <= y <= h for _, y in coords(html))


def test_labels_are_escaped() -> None:
    assert "&lt;b&gt;" in str(price_chart(WEEK, label="<b>"))


def _series_as_the_rule_says(points: list[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """chart_series's rule, written plainly: each block's points gathered, then its lowest
    and highest (the earlier of equal prices), the first point, the latest at the end."""
    step, quantum = 6 * 3600, 0.002
    if len(points) < 2:
        return tuple((t, round(round(p / quantum) * quantum, 6)) for t, p in points)
    last_t, last_p = points[-1]
    block = last_t - last_t % step
    window = [(t, round(p / quantum)) for t, p in points if t >= block - 7 * 86400 + step]
    buckets: dict[int, list[tuple[int, int]]] = {}
    for t, q in window:
        buckets.setdefault(t - t % step, []).append((t, q))
    if len(buckets) < 8:
        return tuple((t, round(round(p / quantum) * quantum, 6)) for t, p in points if t > last_t - 7 * 86400)
    latest = round(last_p / quantum)
    buckets[block] = [pt for pt in buckets.get(block, []) if pt[1] != latest]
    out = {window[0]} if window[0] != window[-1] else set()
    for inside in (b for b in buckets.values() if b):
        out |= {min(inside, key=lambda pt: (pt[1], pt[0])), max(inside, key=lambda pt: (pt[1], -pt[0]))}
    return (*((t, round(q * quantum, 6)) for t, q in sorted(out)), (block + step, round(latest * quantum, 6)))


def test_the_chart_series_in_one_pass_is_the_rule_for_any_history() -> None:
    import random

    from marketnews.charts import chart_series

    rng = random.Random(7)
    prices = (lambda: round(rng.random(), 3), lambda: rng.choice((0.2, 0.2005, 0.199, 0.21)), rng.random)
    tried = 0
    for _ in range(2000):
        n = rng.choice((1, 2, 3, 10, 30, 100, 168, 300))
        start = 1_790_000_000 + rng.randrange(10**6)
        times = sorted({start + rng.randrange(n * rng.choice((600, 3600, 7200))) for _ in range(n)})
        price = rng.choice(prices)
        history = [(t, price()) for t in times]
        assert chart_series(history) == _series_as_the_rule_says(history), history
        last = history[-1][0] - history[-1][0] % (6 * 3600)
        blocks = {t - t % (6 * 3600) for t, _ in history if t >= last - 7 * 86400 + 6 * 3600}
        tried += len(blocks) >= 8  # long enough to be bucketed, not drawn point by point
    assert tried > 300

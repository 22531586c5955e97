"""Every widget state, as data (WidgetView) and as HTML from the project's own partial."""

from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from marketnews.markets.model import Outcome, Quote
from marketnews.markets.refs import parse_ref
from marketnews.templating import make_environment, pct
from marketnews.widgets import WidgetView, widget_view, with_published
from tests.conftest import REPO, article, quote

NOW = datetime(2026, 11, 21, 17, tzinfo=UTC)


def q(**kw):  # type: ignore[no-untyped-def]
    base = dict(key="m", question="Will it happen?", url="https://polymarket.com/event/e/m", as_of=NOW,
                probability=0.07, headline_outcome="Yes",
                outcomes=(Outcome("Yes", 0.07), Outcome("No", 0.93)), change_24h=0.018, volume=1_250_000.0)
    base.update(kw)
    return Quote(**base)  # type: ignore[arg-type]


def view(quote, written="m", **kw):  # type: ignore[no-untyped-def]
    return widget_view(written, parse_ref(written), quote, now=NOW, stale_after_s=7200, low_volume=10_000, **kw)


def html(v, variant="related") -> str:  # type: ignore[no-untyped-def]
    env = make_environment(REPO / "layouts", ZoneInfo("UTC"))
    return env.get_template("partials/widget.html").render(w=v, variant=variant)


class Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.roots: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if "odds" in (dict(attrs).get("class") or "").split():  # the widget's root
            self.roots.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def parsed(v, variant="related") -> Text:  # type: ignore[no-untyped-def]
    t = Text()
    t.feed(html(v, variant))
    return t


def test_open_market_reads_as_a_sentence() -> None:
    v = view(q())
    assert (v.state, v.pct, v.change_text, v.direction, v.arrow) == ("open", "7%", "+1.8", "up", "▲")
    assert v.summary == "Yes 7%, up 1.8 points in 24 hours"
    t = parsed(v)
    assert t.roots[0]["data-market"] == "m" and t.roots[0]["data-probability"] == "0.0700"
    assert t.roots[0]["role"] == "group" and t.roots[0]["aria-label"] == "Will it happen?"
    assert "7%" in t.text() and "up 1.8 points in 24 hours" in t.text() and "$1.2M traded" in t.text()


def test_down_and_flat_moves_have_words_and_arrows() -> None:
    assert (view(q(change_24h=-0.025)).arrow, view(q(change_24h=-0.025)).change_sentence) == (
        "▼", "down 2.5 points in 24 hours")
    assert view(q(change_24h=0.0)).change_sentence == "unchanged in 24 hours"
    assert view(q(change_24h=None)).direction == "none"


def test_closed_market_says_closed() -> None:
    t = parsed(view(q(status="closed")))
    assert "Closed" in t.text() and "points in 24 hours" not in t.text()


def test_resolved_market_shows_the_winner_not_a_probability() -> None:
    v = view(q(status="resolved", winner="No", probability=4e-7))
    assert v.summary == "Resolved: No"
    text = parsed(v).text()
    assert "Resolved No" in text and "%" not in text


def test_event_shows_ranked_leading_outcomes() -> None:
    ranked = [("B", 0.2), ("A", 0.5), ("C", 0.1), ("D", 0.1), ("E", 0.05), ("F", 0.05)]
    outcomes = tuple(Outcome(n, p) for n, p in ranked)
    v = view(q(kind="event", outcomes=outcomes, headline_outcome="A", probability=0.5),
             written="https://polymarket.com/event/e")
    assert [o.label for o in v.outcomes] == ["A", "B", "C", "D"] and v.more_outcomes == 2
    text = parsed(v).text()
    assert text.index("A 50%") < text.index("B 20%") and "and 2 more outcomes" in text


def test_missing_market_shows_its_link_and_odds_unavailable() -> None:
    v = view(None, written="https://polymarket.com/event/e/gone")
    t = parsed(v)
    assert v.state == "unavailable" and "odds unavailable" in t.text().lower()
    assert v.url == "https://polymarket.com/event/e/gone"  # the market page links it
    assert 'href="/markets/gone/"' in html(v)
    assert view(None, written="plain").url == "https://polymarket.com/market/plain"
    assert t.roots[0]["data-probability"] == ""


def test_stale_quote_says_when_it_was_taken() -> None:
    # A time, not an age: it stays true in caches and the page does not change hour by hour.
    v = view(q(as_of=NOW - timedelta(hours=3, minutes=20)))
    assert v.stale_text == "odds as of 21 November 2026, 13:40 UTC"
    # A card on its own (in the text, on a market page) says when; in the panel after a story,
    # the strip under the headline has said it once for all, and the card says "Not current".
    assert "odds as of 21 November 2026, 13:40 UTC" in parsed(v, "inline").text()
    assert "odds as of 21 November 2026, 13:40 UTC" in parsed(v, "market").text()
    related = parsed(v).text()
    assert "Not current" in related and "13:40" not in related
    assert v.summary == "Yes 7%, up 1.8 points in 24 hours; odds as of 21 November 2026, 13:40 UTC"
    assert view(q(as_of=NOW - timedelta(minutes=50))).stale_text == ""
    later = widget_view("m", parse_ref("m"), q(as_of=NOW - timedelta(hours=3, minutes=20)),
                        now=NOW + timedelta(hours=6), stale_after_s=7200, low_volume=10_000)
    assert (later.stale_text, later.summary) == (v.stale_text, v.summary)  # the same words hours later
    in_new_york = view(q(as_of=NOW - timedelta(hours=3, minutes=20)), tz=ZoneInfo("America/New_York"))
    assert in_new_york.stale_text == "odds as of 21 November 2026, 08:40 EST"  # in the site's zone
    # A result does not go out of date: however old the quote, a resolved market just says it.
    resolved = view(q(status="resolved", winner="No", as_of=NOW - timedelta(days=3)))
    assert (resolved.stale_text, resolved.summary) == ("", "Resolved: No")
    assert "odds as of" not in parsed(resolved).text()


def test_low_volume_caveat() -> None:
    assert "thinly traded" in parsed(view(q(volume=900.0))).text().lower()
    assert "under $10K has changed hands" in parsed(view(q(volume=900.0))).text()
    assert "thinly traded" not in parsed(view(q())).text().lower()


def test_price_when_published() -> None:
    published = NOW - timedelta(days=2)
    v = view(q(history=((int(published.timestamp()), 0.1),)), published=published)
    assert v.published_pct == "10%"
    assert "10% when this was published, 7% now" in parsed(v).text()


def test_a_view_with_its_price_at_publication_is_what_replace_would_make() -> None:
    # with_published copies a view's fields rather than making it through __init__ again
    # (a fraction of the time, once for every article's every widget): the copy must be the
    # very view dataclasses.replace makes, and stay so; it holds only while a WidgetView
    # checks nothing when it is made.
    published = NOW - timedelta(days=2)
    market = view(q(history=((int(published.timestamp()), 0.1), (int(NOW.timestamp()), 0.07))))
    shown = with_published(market, "10%", 0.5)
    made = replace(market, published_pct="10%", mark=0.5, summary=shown.summary)
    assert shown == made and hash(shown) == hash(made) and vars(shown) == vars(made)
    assert type(shown) is WidgetView and vars(market)["published_pct"] == ""  # the market's own is untouched
    assert "__post_init__" not in vars(WidgetView)
    with pytest.raises(FrozenInstanceError):
        shown.mark = 0.1  # type: ignore[misc]


def test_api_text_is_escaped() -> None:
    out = html(view(q(question='<script>alert("x")</script>', headline_outcome="<b>Yes</b>")))
    assert "<script>" not in out and "&lt;script&gt;" in out and "<b>Yes" not in out


def test_percent_rounding_never_shows_0_or_100_for_a_live_price() -> None:
    assert [pct(p) for p in (0.001, 0.0049, 0.005, 0.0455, 0.5, 0.996, 1.0, 0.0)] == [
        "<1%", "<1%", "1%", "5%", "50%", ">99%", "100%", "0%"]


def test_text_form_carries_the_low_liquidity_caveat() -> None:
    env = make_environment(REPO / "layouts", ZoneInfo("UTC"))
    thin = env.get_template("partials/widget_text.html").render(w=view(q(volume=900.0)))
    assert "Yes 7%, up 1.8 points in 24 hours; $900 traded; thinly traded (under $10K)" in thin
    assert "thinly traded" not in env.get_template("partials/widget_text.html").render(w=view(q()))


def test_times_with_an_offset_are_shown_in_utc() -> None:
    from marketnews.markets.model import parse_time

    v = view(q(as_of=parse_time("2026-11-21T13:30:00-02:00"), end_date=parse_time("2026-12-31T23:00:00-05:00")))
    utc = make_environment(REPO / "layouts", ZoneInfo("UTC"))
    as_of = utc.from_string("{{ w.as_of | rfc3339 }}").render(w=v)  # the stale note's datetime
    closes = utc.from_string("{{ (w.end_date | iso)[:10] }} {{ w.end_date | date_long }}").render(w=v)  # market.html
    assert (as_of, closes) == ("2026-11-21T15:30:00Z", "2027-01-01 1 January 2027")
    # The market page's machine-readable closing date is the same day as the one it shows.
    new_york = make_environment(REPO / "layouts", ZoneInfo("America/New_York"))
    closes = new_york.from_string("{{ (w.end_date | iso)[:10] }} {{ w.end_date | date_long }}").render(w=v)
    assert closes == "2026-12-31 31 December 2026"


def _stories_priced_at_publication(site: Any, n: int = 4) -> None:
    """`n` stories citing one market, each published when it had another price (anchors)."""
    days = [f"2026-11-{d:02d}T09:00:00Z" for d in range(1, 2 * n + 1, 2)]
    anchors = [[int(datetime.fromisoformat(d).timestamp()), 0.1 + i / 10] for i, d in enumerate(days)]
    site.snapshot({"m-one": quote("Will one happen?", 0.55, anchors=anchors)})
    for i, day in enumerate(days):
        site.write(f"content/story-{i}.md", article(f"Story {i}", date=day, markets=["m-one"],
                                                  body=f"Text {i}.\n\n```market\nm-one\n```\n"))


@pytest.mark.parametrize("layout", ["as shipped", "summary printed"])
def test_a_market_widget_is_rendered_once_and_each_article_fills_in_its_price_then(
        site: Any, cli: Any, renders: list[str], tmp_path: Any, monkeypatch: Any, layout: str) -> None:
    if layout != "as shipped":  # the summary names the price at publication too: the same slot
        widget = site.root / "layouts/partials/widget.html"
        widget.write_text(widget.read_text().replace('<p class="odds__question">',
                                                     '<p class="sum">{{ w.summary }}</p><p class="odds__question">'))
    counts = []
    for n in (2, 4):
        _stories_priced_at_publication(site, n)
        monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / f"cache-{n}"))  # the odds of this snapshot alone
        renders.clear()
        assert cli("build", "--root", site.root, "--out", tmp_path / f"out-{n}").code == 0
        counts.append(renders.count("partials/widget.html"))
        for i in range(n):
            page = (tmp_path / f"out-{n}/2026/11/story-{i}/index.html").read_text()
            assert f"{10 + i * 10}% when this was published, 55% now" in page and "\x00" not in page
            if layout != "as shipped":
                assert page.count("when this was published)") == page.count('<p class="sum">') > 0
                assert f"Yes 55%, up 1.8 points in 24 hours ({10 + i * 10}% when this was published)" in page
    # As many renderings of the widget (one a variant shown, and a check) for four stories as for two.
    assert counts[0] == counts[1] > 0


def test_a_widget_template_that_filters_the_price_at_publication_is_rendered_article_by_article(
        site: Any, cli: Any) -> None:
    _stories_priced_at_publication(site)
    widget = site.root / "layouts/partials/widget.html"
    widget.write_text(widget.read_text().replace(
        "{{ w.published_pct }} when this was published", '{{ w.published_pct | replace("%", " per cent") }} then'))
    assert cli("build", "--root", site.root).code == 0
    for i in range(4):
        page = site.page(f"2026/11/story-{i}/index.html")
        assert f"{10 + i * 10} per cent then, 55% now" in page and "\x00" not in page


@pytest.mark.parametrize("item", ["as shipped", "odds lines included directly"])
def test_list_items_come_from_the_article_frames_and_show_this_builds_odds(
        site: Any, cli: Any, renders: list[str], item: str) -> None:
    _stories_priced_at_publication(site, 3)
    if item != "as shipped":  # a list item that reads the odds itself rather than through widget(): rendered whole
        layout = site.root / "layouts/partials/article_item.html"
        layout.write_text(layout.read_text().replace('{{ widget(w, "strip") | safe }}',
                                                     '{% include "partials/odds_line.html" %}'))
    odds = ("--snapshot", site.root / "snapshot.json")
    assert cli("build", "--root", site.root, *odds).code == 0
    site.snapshot({"m-one": quote("Will one happen?", 0.61)})
    renders.clear()
    assert cli("build", "--root", site.root, *odds).code == 0
    market = site.page("markets/m-one/index.html")
    assert market.count('<span class="visually-hidden">Yes </span>61%</span>') == 3  # each story's odds line
    assert "\x00" not in market and "55%" not in market
    # As shipped, the hourly build renders one list item, the check that frames fit; the
    # others come from their articles' frames. Else each story's item is rendered.
    assert renders.count("partials/article_item.html") == (1 if item == "as shipped" else 1 + 3)


def test_the_shipped_as_of_line_is_the_one_known_to_say_nothing_of_current_odds() -> None:
    import hashlib

    from marketnews.site import QUIET_ASOF, template_code

    def quiet(text: str) -> bool:
        return hashlib.sha256(template_code(text).encode()).hexdigest() in QUIET_ASOF

    text = (REPO / "layouts/partials/odds_asof.html").read_text(encoding="utf-8")
    assert quiet(text)  # edited: check it, then update the digest
    assert text.count("{% if stale %}") == 1
    # A site made with an earlier version has that version's leading comment: still the same.
    code = template_code(text)
    assert code != text and code.startswith("\n{% set stale")
    assert quiet("{# The one line that says when a group of odds was taken. #}" + code)
    assert quiet(("{# A comment\n   on two lines. #}" + code).replace("\n", "\r\n"))
    assert not quiet(code.replace("</p>", "</p>{# a comment elsewhere #}"))
    assert not quiet(code.replace("Not current:", "Not current"))


@pytest.mark.parametrize("note", ["as shipped", "says something of current odds", "says something of one group"])
def test_the_line_for_current_odds_is_not_rendered_with_the_shipped_template_and_is_with_another(
        site: Any, cli: Any, renders: list[str], note: str) -> None:
    site.snapshot({"m-one": quote("Will one happen?", 0.55), "m-two": quote("Will two happen?", 0.3),
                   "m-old": quote("Will old happen?", 0.2, as_of="2026-11-21T10:00:00Z")})
    groups = (["m-one"], ["m-two"], ["m-one", "m-two"])
    for i, markets in enumerate(groups):
        site.write(f"content/story-{i}.md", article(f"Story {i}", date=f"2026-11-0{i + 1}T09:00:00Z", markets=markets))
    if note != "as shipped":  # a site's own template: rendered for every group, whatever the first gave
        shown = '<p class="odds-count">{{ items | length }} quoted</p>'
        if note == "says something of one group":
            shown = "{% if items | map(attribute='key') | list == ['m-two'] %}" + shown + "{% endif %}"
        layout = site.root / "layouts/partials/odds_asof.html"
        layout.write_text(shown + "\n" + layout.read_text())
    assert cli("build", "--root", site.root).code == 0  # one process: a small site
    pages = [site.page(f"2026/11/story-{i}/index.html") for i in range(len(groups))]
    said = [p.count(f'<p class="odds-count">{len(g)} quoted</p>') for p, g in zip(pages, groups, strict=True)]
    if note == "as shipped":
        # The stories' strips, the front page's and the topic's odds keys, the market
        # pages: every group's odds are current, and the line is not rendered at all.
        assert renders.count("partials/odds_asof.html") == 0
        assert not any("odds-note" in p for p in pages)
    elif note == "says something of current odds":
        assert renders.count("partials/odds_asof.html") > len(groups)
        assert said == [1, 1, 1]
    else:  # silent for the first group rendered (the newest story's two), not for story 1's
        assert said == [0, 1, 0] and "odds-count" not in pages[0] + pages[2]
    # A story citing a market whose odds are not current says so; the others still do not.
    site.write("content/story-3.md", article("Story 3", date="2026-11-04T09:00:00Z", markets=["m-one", "m-old"]))
    site.write("content/story-4.md", article("Story 4", date="2026-11-05T09:00:00Z", markets=["m-two", "m-old"]))
    renders.clear()
    assert cli("build", "--root", site.root).code == 0
    pages = [site.page(f"2026/11/story-{i}/index.html") for i in range(5)]
    assert [p.count("Not current:") for p in pages] == [0, 0, 0, 1, 1]
    line = "Not current:</strong> Will old happen?: <time"
    assert line in pages[3] and line in pages[4]
    market = site.page("markets/m-old/index.html")
    assert "Not current:</strong> <time" in market  # all of its group: no question named
    if note == "as shipped":  # rendered once for the two stories' groups, once for the market's own
        assert renders.count("partials/odds_asof.html") == 2


def test_a_views_digest_tells_apart_views_that_differ_in_any_field_or_point() -> None:
    from dataclasses import fields, replace

    from marketnews.widgets import view_digest

    start = int(NOW.timestamp()) - 7 * 86400
    history = tuple((start + i * 3600, 0.05 + (i % 7) / 100) for i in range(168))
    base = view(q(history=history))
    assert base.history and base.spark
    # The same view made again, from equal but distinct values, has the same digest.
    assert view_digest(view(q(history=tuple((t, p) for t, p in history)))) == view_digest(base)
    others = {
        "one price": replace(base, history=(*base.history[:-1], (base.history[-1][0], base.history[-1][1] + 1e-9))),
        "one time": replace(base, history=((base.history[0][0] + 1, base.history[0][1]), *base.history[1:])),
        "a point fewer": replace(base, history=base.history[1:]),
        "a point moved between the series": replace(base, history=base.history[:-1],
                                                    spark=(base.history[-1], *base.spark)),
        "the chart": replace(base, spark=base.spark[:-1]),
    }
    for f in fields(base):
        value = getattr(base, f.name)
        if isinstance(value, str):
            others[f.name] = replace(base, **{f.name: value + "x"})
        elif isinstance(value, bool):
            others[f.name] = replace(base, **{f.name: not value})
        elif f.name in ("end_date", "as_of"):
            others[f.name] = replace(base, **{f.name: NOW + timedelta(seconds=1)})
        elif f.name in ("more_outcomes", "change", "mark"):
            others[f.name] = replace(base, **{f.name: (value or 0) + 1})
        elif f.name == "outcomes":
            others[f.name] = replace(base, outcomes=value[:1])
    assert len(others) > 30
    digests = {name: view_digest(v) for name, v in others.items()}
    assert view_digest(base) not in digests.values()
    assert len(set(digests.values())) == len(digests)

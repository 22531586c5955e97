"""The built site in a real browser: what readers see, on a phone and a desktop, light and dark.

Each page is checked for console errors and failed requests, horizontal overflow, one h1 and
the landmarks, visible widgets, and axe-core's serious or critical violations; a full-page
screenshot of each goes to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_page_weight import SCRIPT

pytestmark = pytest.mark.browser

PAGES = {
    # name: (site, path, expected HTTP status)
    "front": ("example", "/", 200),
    "article-every-state": ("states", "/2026/11/every-state/", 200),
    "article-example": ("example", "/2026/11/nato-2027-conventional-defence-deadline/", 200),
    "article-four": ("states", "/2026/11/four-markets/", 200),
    "market": ("example", "/markets/russian-strike-on-a-nato-member-by-december-31/", 200),
    "event": ("example", "/events/fed-decision-in-december-2026/", 200),
    "markets": ("example", "/markets/", 200),
    "page": ("example", "/how-we-show-odds/", 200),
    "not-found": ("example", "/no-such-page/", 404),
}
WITH_ODDS = ("front", "article-every-state", "article-example", "article-four", "market", "event", "markets")
DISCLAIMER = "Market odds are traders' collective bets"  # both sites' site.yaml start so

OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .map(e => e.tagName.toLowerCase() + (typeof e.className === 'string' && e.className
      ? '.' + e.className.split(' ').join('.') : ''));
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
}"""

WIDGETS_JS = """() => [...document.querySelectorAll('.odds')].map(e => {
  const r = e.getBoundingClientRect();
  return {market: e.dataset.market, name: e.getAttribute('aria-label'), left: r.left, right: r.right,
          width: r.width, height: r.height, text: e.innerText.trim()};
})"""


def serious(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at " + ", ".join(str(n["target"]) for n in v["nodes"][:4])
        for v in violations if v.get("impact") in ("serious", "critical")
    ]


def check_page(v: Any, expected_status: int, *, allow_missing_document: bool = False) -> None:
    """What every page must do, whatever it shows."""
    assert v.status == expected_status
    assert not SCRIPT.search(v.html), "production pages carry no JavaScript (JSON-LD data blocks aside)"
    assert " style=" not in v.html, "no inline styles: the CSP forbids them"
    errors = v.console_errors
    if allow_missing_document:  # the browser logs the 404 page's own status as an error
        errors = [e for e in errors if "status of 404" not in e]
    assert errors == [], "console errors"
    assert v.failed_requests == [], "failed requests"

    overflow = v.page.evaluate(OVERFLOW_JS)
    assert overflow["scrollWidth"] <= overflow["width"], f"horizontal overflow: {overflow}"

    page = v.page
    assert page.locator("h1").count() == 1, "exactly one h1"
    assert page.locator("body > header.masthead").count() == 1
    assert page.locator("header.masthead nav").count() == 1
    assert page.locator("main#main").count() == 1
    assert page.locator("body > footer").count() == 1
    skip = page.locator("a.skip-link")
    assert skip.get_attribute("href") == "#main"
    for img in page.locator("img").all():
        assert img.get_attribute("alt") is not None, "every image has alt text"
    for img in page.locator(".article__image img, img.lead__image").all():
        assert img.get_attribute("width") and img.get_attribute("height"), "images give their size"

    widgets = page.evaluate(WIDGETS_JS)
    width = page.viewport_size["width"]
    for w in widgets:
        assert w["width"] > 100 and w["height"] > 40, f"widget not visible: {w}"
        assert w["left"] >= 0 and w["right"] <= width + 0.5, f"widget off screen: {w}"
        assert w["name"], f"widget without an accessible name: {w}"
        assert w["text"], f"widget without text: {w}"

    problems = serious(v.axe())
    assert problems == [], "axe-core: serious or critical violations:\n" + "\n".join(problems)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize("name", list(PAGES))
def test_page(visit: Any, name: str, viewport: str, scheme: str) -> None:
    site, path, status = PAGES[name]
    v = visit(site, path, viewport, scheme)
    v.screenshot(f"{name}-{viewport}-{scheme}")
    check_page(v, status, allow_missing_document=status == 404)
    if name == "not-found":
        assert v.page.locator("h1").inner_text() == "Page not found"
    if name in WITH_ODDS:
        assert v.page.locator(".odds, .odds-line").count() >= 1
        assert DISCLAIMER in v.page.locator("main").inner_text(), "the disclaimer comes with the odds"
    # Said once a page: beside the odds where there are odds, else in the footer.
    assert v.page.locator("body").inner_text().count(DISCLAIMER) == 1, "the disclaimer, once"


def test_every_page_of_the_example_site(visit: Any, example_site: Path) -> None:
    """Tag pages, the markets index, older pages...: all pass the same checks on a phone."""
    paths = sorted(
        "/" + p.relative_to(example_site).as_posix().removesuffix("index.html")
        for p in example_site.rglob("*.html")
    )
    assert len(paths) > 20
    for path in paths:
        v = visit("example", path, "phone", "dark" if len(path) % 2 else "light")
        check_page(v, 200)
        v.page.context.close()


# --- the widgets, read as text --------------------------------------------------------------

def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# data-market -> what a screen reader must hear, in order, inside that widget
EXPECTED: dict[str, list[str]] = {
    "open-market": ["Will the open market stay open through December?", "Yes 8%",
                    "up 1.2 points in 24 hours", "$1.2M traded"],
    "thin-market": ["Will a thinly traded market resolve Yes?", "Yes 41%", "down 3.5 points in 24 hours",
                    "$2.5K traded", "Thinly traded: under $10K has changed hands"],
    "stale-market": ["Will this quote be refreshed in time?", "Not current", "Yes 27%", "unchanged in 24 hours"],
    "closed-market": ["Did trading close before the announcement?", "Closed Yes 40%", "Trading has ended"],
    "resolved-market": ["Did the Knicks cover the spread on November 19?", "Resolved Yes"],
    "https://polymarket.com/event/big-event": [
        "Which candidate wins the Ledger Prize in 2026?", "Ana Ortega-Villanueva de la Fuente 52%",
        "Bo Chen 21%", "Chidi Okafor 14%", "Dana Smith 8%", "and 2 more outcomes",
        "Ana Ortega-Villanueva de la Fuente down 1.8 points in 24 hours"],
    "missing-market": ["missing-market", "Odds unavailable"],
}


ROLE_LINE = re.compile(r'^(?P<role>[a-z]+)(?: "(?P<name>(?:[^"\\]|\\.)*)")?(?: \[[^\]]*\])*:?\s*(?P<text>.*)$')


def spoken(snapshot: str) -> str:
    """Playwright's ARIA snapshot (YAML) -> the words a screen reader reads, in order."""
    words: list[str] = []
    for line in snapshot.splitlines():
        line = line.strip().removeprefix("- ")
        if line.startswith("/url:"):
            continue
        m = ROLE_LINE.match(line)
        if not m:
            words.append(line)
            continue
        name, text = m.group("name"), m.group("text").strip().strip('"')
        if name and m.group("role") not in ("group", "list"):
            words.append(name)
        if text:
            words.append(text)
    return flat(" ".join(words))


def in_order(text: str, parts: list[str]) -> bool:
    at = 0
    for part in parts:
        found = text.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


def test_every_widget_state_reads_correctly(visit: Any) -> None:
    v = visit("states", "/2026/11/every-state/")
    panel = v.page.locator(".odds-panel .odds")
    assert panel.count() == len(EXPECTED)
    names = []
    for i in range(panel.count()):
        widget = panel.nth(i)
        market = widget.get_attribute("data-market")
        name = widget.get_attribute("aria-label")
        names.append(name)
        expected = EXPECTED[market]
        assert name == expected[0], "a widget is named by its question"
        assert widget.get_attribute("role") == "group"
        heard = spoken(widget.aria_snapshot())
        assert in_order(heard, expected), f"{market}: screen reader hears {heard!r}"
        assert "▲" not in heard and "▼" not in heard and "▬" not in heard, "arrows are for the eye only"
        seen = flat(widget.inner_text()).lower()  # what copy-and-paste gets (labels are upper-cased)
        for part in expected[1:]:
            assert part.split(":")[0].lower() in seen, f"{market}: text reads {seen!r}"
    assert len(set(names)) == len(names), "several widgets, each with its own name"

    # Data attributes stay on the widget root.
    open_widget = v.page.locator(".odds-panel .odds[data-market='open-market']")
    assert open_widget.get_attribute("data-probability") == "0.0830"
    assert v.page.locator(".odds-panel .odds[data-market='missing-market']").get_attribute("data-probability") == ""

    # The move carries a sign and an arrow as well as a colour.
    move = flat(v.page.locator(".odds-panel .odds[data-market='thin-market'] .odds__move").inner_text())
    assert move == "▼ −3.5 pts"
    assert "odds__change--down" in (v.page.locator(
        ".odds-panel .odds[data-market='thin-market'] .odds__change").get_attribute("class") or "")

    # States say what they are in words, not only in colour.
    for market, word in (("closed-market", "Closed"), ("resolved-market", "Resolved"),
                         ("missing-market", "Odds unavailable")):
        badge = v.page.locator(f".odds-panel .odds[data-market='{market}'] .odds__badge")
        assert badge.is_visible() and flat(badge.inner_text()).lower() == word.lower()

    # The low-liquidity caveat shows on the thin market only.
    caveats = v.page.locator(".odds-panel .odds__caveat")
    assert caveats.count() == 1 and caveats.first.is_visible()
    assert v.page.locator(".odds-panel .odds[data-market='thin-market'] .odds__caveat").count() == 1

    # Event outcomes are ranked, with a bar each drawn as SVG attributes.
    event = v.page.locator(".odds-panel .odds--event")
    labels = [flat(t) for t in event.locator(".odds__label").all_inner_texts()]
    assert labels == ["Ana Ortega-Villanueva de la Fuente", "Bo Chen", "Chidi Okafor", "Dana Smith"]
    bars = event.locator("svg.odds__bar rect:not(.odds__track)")
    assert [bars.nth(i).get_attribute("width") for i in range(bars.count())] == ["52.0", "21.0", "14.0", "8.0"]

    # The disclaimer sits with the cards, visibly, and nowhere else on the page.
    disclaimer = v.page.locator(".odds-panel .disclaimer")
    assert disclaimer.is_visible() and disclaimer.inner_text().startswith(DISCLAIMER)
    assert v.page.locator("body").inner_text().count(DISCLAIMER) == 1

    # When odds were taken is said once, under the headline, for the one stale market; its
    # card in the panel says "Not current" without repeating the time.
    note = v.page.locator(".odds-strip .odds-note")
    assert flat(note.inner_text()) == ("Not current: Will this quote be refreshed in time?: "
                                       "odds as of 21 November 2026, 11:00 UTC.")
    assert v.page.locator("main").inner_text().count("odds as of") == 1

    # The strip under the headline: a line for each market, in the frontmatter's order.
    strip = v.page.locator(".odds-strip .odds-line")
    assert [strip.nth(i).get_attribute("data-market") for i in range(strip.count())] == list(EXPECTED)

    # Widgets in the text: markets the strip shows come back as one line each.
    inline = v.page.locator(".article__body .odds")
    assert [inline.nth(i).get_attribute("data-market") for i in range(inline.count())] == [
        "open-market", "https://polymarket.com/event/big-event", "closed-market", "missing-market"]
    assert inline.nth(0).locator(".odds-line").count() == 1 and inline.nth(0).locator("svg").count() == 0


def test_a_widget_alone_in_the_text_brings_the_disclaimer(visit: Any) -> None:
    v = visit("states", "/2026/11/inline-only/", "phone")
    widget = v.page.locator(".article__body .odds")
    assert widget.count() == 1
    assert in_order(spoken(widget.aria_snapshot()),
                    ["Will the flat market move at all this week?", "Yes 50%", "unchanged in 24 hours"])
    assert widget.locator(".odds__spark").count() == 1, "a market not under the headline gets its full card"
    note = v.page.locator("main .disclaimer")
    assert note.count() == 1 and note.is_visible() and note.inner_text().startswith(DISCLAIMER)
    assert v.page.locator("body").inner_text().count(DISCLAIMER) == 1


def test_front_page_leads_with_a_story_its_odds_and_the_biggest_moves(visit: Any) -> None:
    v = visit("example", "/", "desktop")
    lead = v.page.locator("article.lead")
    assert lead.locator("h2").count() == 1
    assert lead.locator(".odds-line").count() == 3
    story, rail = lead.bounding_box(), v.page.locator(".moves").bounding_box()
    assert rail["x"] > story["x"] + story["width"] - 1, "on a desktop the biggest moves sit beside the lead"
    image = lead.locator("img.lead__image").bounding_box()
    headline = lead.locator("h2").bounding_box()
    assert image["y"] < headline["y"], "the lead image sits above its headline"
    assert v.page.locator(".stories article.story").count() == 5
    # Biggest moves: largest first, not the lead's own markets, each with its newest story.
    moves = v.page.locator(".moves .odds-line")
    changes = [float(flat(moves.nth(i).locator(".odds-line__move [aria-hidden]").inner_text())[1:])
               for i in range(moves.count())]
    assert changes and changes == sorted(changes, reverse=True)
    lead_markets = {m.get_attribute("data-market") for m in lead.locator(".odds-line").all()}
    assert not lead_markets & {m.get_attribute("data-market") for m in moves.all()}
    assert all(m.locator(".odds-line__story a").count() == 1 for m in moves.all())
    # Times, and what the figures mean said once, not in every line.
    assert re.search(r"\d{2}:\d{2} UTC", lead.locator(".story__meta").inner_text())
    # What the moves mean is said once where it is seen (the odds key); each line says it
    # again only to a screen reader ("down 2.0 points in 24 hours", visually hidden).
    seen = v.page.evaluate("""() => {
        const main = document.querySelector("main").cloneNode(true);
        main.querySelectorAll(".visually-hidden").forEach(e => e.remove());
        document.body.appendChild(main);  // laid out, so that innerText is the text as shown
        const text = main.innerText;
        main.remove();
        return text;
    }""")
    assert seen.count("in 24 hours") == 1 and v.page.locator(".odds-key").count() == 1
    assert "3% ▲0.3" in flat(seen)


def test_article_column_is_readable(visit: Any) -> None:
    """About 65-75 characters a line on a desktop (60-80 allows for the fonts a system has)."""
    v = visit("example", "/2026/11/nato-2027-conventional-defence-deadline/", "desktop")
    per_line = v.page.evaluate("""() => {
      const rates = [];
      for (const p of document.querySelectorAll('.article__body > p')) {
        const range = document.createRange(); range.selectNodeContents(p);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        if (lines >= 3) rates.push(p.textContent.length / lines);
      }
      return rates.reduce((a, b) => a + b, 0) / rates.length;
    }""")
    assert 60 <= per_line <= 80, per_line


@pytest.mark.parametrize("path", ["/", "/2026/11/nato-2027-conventional-defence-deadline/"])
def test_no_layout_shift_when_images_arrive_late(visit: Any, path: str) -> None:
    v = visit("example", path, "phone")
    shift = v.page.evaluate("""() => new Promise(resolve => {
      let total = 0;
      new PerformanceObserver(list => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value;
      }).observe({type: 'layout-shift', buffered: true});
      setTimeout(() => resolve(total), 200);
    })""")
    assert shift < 0.01, f"cumulative layout shift {shift}"
    assert v.page.locator("img").first.evaluate("i => i.complete && i.naturalWidth > 0")


def test_focus_is_visible_and_the_skip_link_works(visit: Any) -> None:
    v = visit("example", "/2026/11/nato-2027-conventional-defence-deadline/", "phone", "dark")
    page = v.page
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => {
      const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
      return {cls: e.className, outline: s.outlineStyle, width: parseFloat(s.outlineWidth), top: r.top};
    }""")
    assert focused["cls"] == "skip-link" and focused["top"] >= 0, focused
    assert focused["outline"] != "none" and focused["width"] >= 2, focused
    v.screenshot("focus-skip-link-phone-dark")
    page.keyboard.press("Enter")
    # Following a same-page link lands a moment after the key press: wait for it
    # (a timeout fails the test) rather than reading the address at once.
    page.wait_for_function("() => location.hash === '#main'", timeout=5000)
    assert page.url.endswith("#main")
    # Every later stop shows an outline too.
    for _ in range(6):
        page.keyboard.press("Tab")
        style = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert style != "none"


def test_print_layout(visit: Any) -> None:
    v = visit("example", "/2026/11/nato-2027-conventional-defence-deadline/", "desktop", "dark", media="print")
    v.screenshot("article-print")
    page = v.page
    assert not page.locator(".masthead__nav").is_visible()
    assert page.locator(".odds-strip").is_visible(), "the related markets print, a line each"
    assert page.locator(".odds").first.is_visible()
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(255, 255, 255)", "print is black on white, whatever the screen's theme"
    assert not page.locator(".article__image").is_visible(), "no dark illustration printed"
    address = page.locator(".article__address")
    assert address.is_visible() and "https://market-ledger.netlify.app/2026/11/nato-" in address.inner_text()
    assert page.locator("body").inner_text().count(DISCLAIMER) == 1
    cards = [c.bounding_box() for c in page.locator(".odds-panel .odds").all()]
    assert len(cards) == 3 and cards[0]["y"] == cards[1]["y"] and cards[2]["y"] > cards[0]["y"], "two abreast"


def test_print_gives_a_lone_wide_widget_the_whole_column(visit: Any) -> None:
    """The four-outcome Fed card, alone in its panel, is as wide as the story when printed."""
    v = visit("example", "/2026/11/fed-december-decision-odds/", "desktop", "light", media="print")
    v.screenshot("article-one-card-print")
    card = v.page.locator(".odds-panel .odds").bounding_box()
    body = v.page.locator(".article__body").bounding_box()
    assert card["width"] > body["width"] * 0.95, (card, body)


# --- the story on the first screen ------------------------------------------------------------

FIRST_SCREENS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
STORIES = [("states", "/2026/11/four-markets/"), ("example", "/2026/11/nato-2027-conventional-defence-deadline/"),
           ("example", "/2026/11/bitcoin-november-slide/")]


@pytest.mark.parametrize("screen", list(FIRST_SCREENS))
@pytest.mark.parametrize("site,path", STORIES)
def test_the_story_starts_on_the_first_screen(browser: Any, sites: dict[str, str], screen: str, site: str,
                                              path: str) -> None:
    """Four markets (one resolved, one an event) and an image under a headline, and the first
    paragraph's first line is still on the first screen: markets a line each, the image after it."""
    size = FIRST_SCREENS[screen]
    context = browser.new_context(viewport=size)
    try:
        page = context.new_page()
        page.goto(sites[site] + path, wait_until="load")
        first = page.locator(".article__body > p").first
        box = first.bounding_box()
        line = float(page.evaluate("p => parseFloat(getComputedStyle(p).lineHeight)", first.element_handle()))
        assert box["y"] + line <= size["height"], f"first paragraph starts at {box['y']:.0f} px"
        lines = page.locator(".odds-strip .odds-line")
        assert lines.count() >= 3
        for i in range(lines.count()):  # a market a line: question, figure, move (and a detail)
            assert lines.nth(i).bounding_box()["height"] < 80
        image = page.locator(".article__image")
        assert image.count() == 1  # each of STORIES has an image
        assert image.bounding_box()["y"] > box["y"], "the image follows the first paragraph"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = path.strip("/").rsplit("/", 1)[-1]
        page.screenshot(path=str(SCREENSHOTS / f"first-screen-{name}-{screen}.png"))
    finally:
        context.close()


# --- labels, charts, pages ------------------------------------------------------------------

def test_labels_say_what_the_market_calls_its_outcomes(visit: Any) -> None:
    v = visit("example", "/2026/11/bitcoin-november-slide/", "phone")
    line = v.page.locator(".odds-strip .odds-line[data-market='bitcoin-up-or-down-in-november-2026']")
    assert "Up 5% · Down 95%" in flat(line.inner_text())
    card = v.page.locator(".odds-panel .odds[data-market='bitcoin-up-or-down-in-november-2026']")
    assert in_order(flat(card.inner_text()), ["Up", "5%", "Up 5% · Down 95%"])
    nato = visit("example", "/2026/11/nato-2027-conventional-defence-deadline/", "phone")
    assert flat(nato.page.locator(".kicker").inner_text()) == "NATO"  # site.yaml's topics
    assert "Europe" in nato.page.locator(".article__tags").inner_text()  # a readable form of "europe"
    fed = visit("example", "/2026/11/fed-december-decision-odds/", "phone")
    chart = flat(fed.page.locator(".odds-panel .chart__x").inner_text())
    assert chart.startswith("25 bps decrease, past 7 days"), "an event's chart names its outcome"


@pytest.mark.parametrize("path", ["/markets/russian-strike-on-a-nato-member-by-december-31/",
                                  "/2026/11/nato-2027-conventional-defence-deadline/"])
def test_chart_labels_are_readable_on_a_phone(visit: Any, path: str) -> None:
    v = visit("example", path, "phone")
    sizes = v.page.evaluate("""() => [...document.querySelectorAll('.chart__y span, .chart__x span')]
      .map(e => parseFloat(getComputedStyle(e).fontSize))""")
    assert sizes and min(sizes) >= 11, sizes
    assert v.page.locator(".chart__y").first.inner_text().strip().endswith("0%"), "the scale starts at 0%"


def test_the_article_ends_with_more_on_these_markets(visit: Any) -> None:
    v = visit("example", "/2026/11/nato-2027-conventional-defence-deadline/", "phone")
    more = v.page.locator(".more li a")
    titles = [flat(t) for t in more.all_inner_texts()]
    assert titles and titles[0] == "Russia and Ukraine resume indirect talks in Geneva as traders trim ceasefire bets"
    assert "US presses allies" not in " ".join(titles)


def test_the_404_page_lists_the_latest_headlines(visit: Any) -> None:
    v = visit("example", "/no-such-page/", "phone")
    links = v.page.locator("main .more__list a")
    assert links.count() == 6
    assert flat(links.first.inner_text()).startswith("Bitcoin slides towards $85,000")


def test_standalone_pages_are_not_news(visit: Any) -> None:
    v = visit("example", "/about/", "phone")
    assert flat(v.page.locator("h1").inner_text()) == "About The Market Ledger"
    assert v.page.locator("a[href='/how-we-show-odds/']").count() >= 1
    front = visit("example", "/", "desktop")
    assert "About The Market Ledger" not in front.page.locator("main").inner_text()

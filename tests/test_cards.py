"""Share cards (marketnews.cards): what a card shows, its PNG, its name, and text that does not fit."""

from __future__ import annotations

import io
import re
import sqlite3
import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from marketnews import pipeline, site
from marketnews.cache import MEMO_FILE
from marketnews.cards import (
    ELLIPSIS,
    HEIGHT,
    PNG_BAND,
    WIDTH,
    Card,
    CardOdds,
    article_card,
    card_alt,
    card_digest,
    card_file,
    clusters,
    draw,
    font,
    from_memo,
    png_bytes,
    site_card,
    to_memo,
    wrap,
)
from marketnews.config import load_config
from marketnews.errors import ConfigError
from marketnews.markets.model import Outcome, Quote
from marketnews.markets.refs import parse_ref
from marketnews.markets.snapshots import snapshot_from_file
from marketnews.pipeline import BuildOptions, SitePaths, build
from marketnews.widgets import WidgetView, widget_view
from tests.sitebuild import (
    BASE_URL,
    EXAMPLE_SNAPSHOT,
    NOW,
    REPO,
    Page,
    build_example,
    copy_site,
    moved_snapshot,
    tree,
)

HEADLINE = "US presses allies to take over NATO's conventional defence by 2027"


def quote(key: str = "m", **kw: object) -> Quote:
    base: dict[str, object] = dict(
        key=key, question="Will it happen?", url=f"https://polymarket.com/event/e/{key}", as_of=NOW,
        probability=0.07, headline_outcome="Yes", outcomes=(Outcome("Yes", 0.07), Outcome("No", 0.93)),
        change_24h=0.018, volume=1_250_000.0,
    )
    base.update(kw)
    return Quote(**base)  # type: ignore[arg-type]


def view(q: Quote | None, written: str = "", now: datetime = NOW) -> WidgetView:
    written = written or (q.key if q is not None else "gone")
    return widget_view(written, parse_ref(written), q, now=now, stale_after_s=7200, low_volume=10_000)


def card(*views: WidgetView, headline: str = HEADLINE) -> Card:
    made = article_card("Market Ledger", headline, views, UTC)
    assert made is not None
    return made


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kinds.append(data[at + 4:at + 8])
        at += 12 + length
    return kinds


# --- what a card shows ---------------------------------------------------------------------


def test_an_open_market_shows_its_widget_figures_move_and_day() -> None:
    c = card(view(quote()))
    assert c.odds == (CardOdds("Will it happen?", "7%", "Yes", "▲ up 1.8 points in 24 hours", "up"),)
    assert c.when == "Odds on 21 November 2026"
    assert (c.site, c.headline, c.image) == ("Market Ledger", HEADLINE, b"")


def test_stale_odds_say_when_they_were_taken_as_the_page_does() -> None:
    v = view(quote(as_of=NOW - timedelta(hours=5)))
    assert v.stale_text == "odds as of 21 November 2026, 12:00 UTC"
    assert card(v).when == "Odds as of 21 November 2026, 12:00 UTC"


def test_a_resolved_market_shows_its_result_and_a_closed_one_its_last_odds() -> None:
    resolved = card(view(quote(status="resolved", winner="No", probability=0.0)))
    assert resolved.odds == (CardOdds("Will it happen?", "No", "resolved"),)
    assert resolved.when == "Final result"
    assert "Will it happen?: resolved No" in card_alt(resolved)
    closed = card(view(quote(status="closed")))
    assert closed.odds == (CardOdds("Will it happen?", "7%", "Yes", "trading closed"),)
    assert "Will it happen?: Yes 7%, trading closed." in card_alt(closed)


def test_an_event_shows_its_leading_outcome() -> None:
    q = quote("event/e", kind="event", probability=0.41, headline_outcome=None, change_24h=-0.032,
              outcomes=(Outcome("Becerra", 0.41), Outcome("Porter", 0.22)))
    c = card(view(q, "https://polymarket.com/event/e"))
    assert c.odds[0].figure == "41%" and c.odds[0].label == "Becerra"
    assert (c.odds[0].move, c.odds[0].direction) == ("▼ down 3.2 points in 24 hours", "down")


def test_at_most_two_markets_each_once_and_unavailable_ones_left_out() -> None:
    views = [view(None), view(quote("a")), view(quote("a")), view(quote("b", probability=0.5)),
             view(quote("c"))]
    assert [o.figure for o in card(*views).odds] == ["7%", "50%"]


def test_no_markets_gives_headline_and_image_card() -> None:
    image = _png((300, 200), (200, 30, 30))
    c = article_card("Market Ledger", HEADLINE, [view(None)], UTC, image)
    assert c == Card("Market Ledger", HEADLINE, image=image)


def test_the_alt_text_says_what_the_card_says() -> None:
    c = card(view(quote()))
    assert card_alt(c) == (f"Market Ledger. {HEADLINE}. Will it happen?: Yes 7%, up 1.8 points in 24 hours. "
                           "Odds on 21 November 2026.")
    assert card_alt(site_card("Market Ledger", "News with odds")) == "Market Ledger. News with odds."


# --- the digest and the bytes ---------------------------------------------------------------


def test_the_card_changes_when_its_shown_odds_do_and_not_otherwise() -> None:
    base = card(view(quote()))
    # A new hourly quote at the same shown figures: the same card, so the same file.
    later = card(view(quote(as_of=NOW + timedelta(hours=1), probability=0.0702, change_24h=0.0181),
                      now=NOW + timedelta(hours=1)))
    assert later == base and card_digest(later) == card_digest(base)
    assert draw(later) == draw(base)
    for moved in (quote(probability=0.09), quote(change_24h=-0.01), quote(status="resolved", winner="Yes")):
        other = card(view(moved))
        assert other != base and card_digest(other) != card_digest(base)
        assert draw(other) != draw(base)


def test_the_file_name_carries_the_digest() -> None:
    c = card(view(quote()))
    assert card_file("nato-2027", c) == f"cards/nato-2027-{card_digest(c)}.png"
    assert len(card_digest(c)) == 20 and card_digest(c) != card_digest(replace(c, headline="Another"))
    assert card_digest(replace(c, image=b"x")) != card_digest(replace(c, image=b"y"))
    # A slug as long as a file name may be (255 bytes) makes a card name that fits too.
    long = card_file("a" * 255, c)
    assert len(long.split("/")[1].encode()) == 255 and long.startswith("cards/" + "a" * 230 + "-")


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("which", ["one", "two", "headline", "image", "site"])
def test_every_kind_of_card_is_a_1200_by_630_png_without_metadata(which: str) -> None:
    c = {
        "one": card(view(quote())),
        "two": card(view(quote("a")), view(quote("b", status="resolved", winner="Yes"))),
        "headline": Card("Market Ledger", HEADLINE),
        "image": Card("Market Ledger", HEADLINE, image=_png((800, 800), (200, 30, 30))),
        "site": site_card("Market Ledger", "News with the odds of the markets it covers"),
    }[which]
    data = draw(c)
    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.size, im.mode) == ("PNG", (WIDTH, HEIGHT), "RGB")
        assert im.info == {} or set(im.info) <= {"dpi"}
    assert png_chunks(data) == [b"IHDR"] + [b"IDAT"] * (len(png_chunks(data)) - 2) + [b"IEND"]
    assert draw(c) == data


@pytest.mark.parametrize("height", [1, PNG_BAND - 1, PNG_BAND, HEIGHT, HEIGHT + 5])
def test_the_png_holds_the_pixels_and_is_one_deflate_stream_of_unfiltered_rows(height: int) -> None:
    # Rows are deflated a band at a time: the stream must be the very one that all rows at
    # once give, so that a card's bytes do not depend on the band's size.
    image = Image.frombytes("RGB", (37, height), bytes((i * 7919) % 251 for i in range(37 * height * 3)))
    data = png_bytes(image)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "RGB" and im.tobytes() == image.tobytes()
    raw = image.tobytes()
    rows = b"".join(b"\x00" + raw[y * 37 * 3 : (y + 1) * 37 * 3] for y in range(height))
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    assert idat == zlib.compress(rows, 3)


def test_the_article_image_is_drawn_on_its_card() -> None:
    red = Card("Market Ledger", HEADLINE, image=_png((400, 300), (200, 30, 30)))
    with Image.open(io.BytesIO(draw(red))) as im:
        assert im.getpixel((WIDTH - 100, HEIGHT // 2)) == (200, 30, 30)
    broken = Card("Market Ledger", HEADLINE, image=b"\x89PNG not really")
    with Image.open(io.BytesIO(draw(broken))) as im:  # drawn without the image
        assert im.getpixel((WIDTH - 100, HEIGHT // 2)) != (200, 30, 30)


# --- text that does not fit, other scripts -----------------------------------------------------


def test_long_text_is_wrapped_then_ended_with_an_ellipsis_within_the_width() -> None:
    f = font(54, True)
    text = " ".join(["Parliament"] * 40)
    lines = wrap(text, f, 1072, 3)
    assert len(lines) == 3 and lines[-1].endswith(ELLIPSIS)
    assert all(f.getlength(line) <= 1072 for line in lines)
    assert " ".join(lines).replace(ELLIPSIS, "").split() == ["Parliament"] * len(" ".join(lines).split())
    assert wrap("Short one", f, 1072, 3) == ["Short one"]


def test_a_word_longer_than_a_line_is_broken_between_characters_never_inside_one() -> None:
    f = font(54, True)
    word = "e\u0301" * 200  # é as a letter and a combining accent
    lines = wrap(word, f, 500, 2)
    assert len(lines) == 2 and lines[-1].endswith(ELLIPSIS)
    for line in lines:
        assert f.getlength(line) <= 500
        assert not line.replace(ELLIPSIS, "").startswith("\u0301") and not line.rstrip(ELLIPSIS).endswith("e")
    assert clusters("a\u0301b\U0001f44d\U0001f3fdc") == ["a\u0301", "b", "\U0001f44d\U0001f3fd", "c"]
    assert clusters("\U0001f468\u200d\U0001f469") == ["\U0001f468\u200d\U0001f469"]


def _ink_columns(data: bytes, top: int, bottom: int) -> tuple[int, int]:
    """The leftmost and rightmost columns with dark ink between rows top and bottom."""
    with Image.open(io.BytesIO(data)) as im:
        band = im.crop((0, top, WIDTH, bottom)).convert("L").point(lambda v: 255 if v < 100 else 0)
        box = band.getbbox()
    assert box is not None
    return box[0], box[2]


@pytest.mark.parametrize("headline", [
    "מה הסיכוי לבחירות מוקדמות בישראל השנה " * 6,  # Hebrew
    "ما هي احتمالات إجراء انتخابات مبكرة هذا العام " * 6,  # Arabic
    "Ökonomen erwarten: Zinsen fallen — Ελλάδα, Україна " * 6,
])
def test_right_to_left_and_other_scripts_stay_inside_the_card(headline: str) -> None:
    c = card(view(quote()), headline=headline)
    assert c.headline == " ".join(headline.split())
    data = draw(c)
    left, right = _ink_columns(data, 100, 300)
    assert left >= 60 and right <= WIDTH - 60


def test_text_the_font_cannot_draw_is_left_off_not_drawn_as_boxes() -> None:
    cjk = "日本銀行は12月に利上げするのか"
    c = card(view(quote(question="日銀は12月に利上げする?")), headline=cjk)
    assert c.headline == "" and c.odds[0].question == "" and c.odds[0].figure == "7%"
    assert cjk not in card_alt(c)
    assert draw(c)[:8] == b"\x89PNG\r\n\x1a\n"
    assert article_card("Market Ledger", cjk, [], UTC) is None  # nothing to show: the site card stands in


def test_control_characters_and_lone_surrogates_do_not_reach_the_drawing() -> None:
    c = card(view(quote()), headline="Bad\x00text\ud800 here\u2028too")
    assert c.headline == "Bad text? here too"
    assert png_chunks(draw(c))[0] == b"IHDR"


# --- in the built site ---------------------------------------------------------------------------

ARTICLE_PAGE = re.compile(r"\d{4}/\d{2}/[^/]+/index\.html")
MOVED = "xi-jinping-out-before-2027"  # shown by one article of the example site


def test_article_pages_name_their_card_in_open_graph_and_twitter_tags(built_example: dict[str, bytes]) -> None:
    articles = {p: Page(d.decode()) for p, d in built_example.items() if ARTICLE_PAGE.fullmatch(p)}
    assert len(articles) == 6
    for path, page in articles.items():
        image = page.one("og:image")
        name = image.removeprefix(BASE_URL + "/")
        slug = path.split("/")[2]
        assert re.fullmatch(rf"cards/{re.escape(slug)}-[0-9a-f]{{20}}\.png", name), image
        assert page.one("twitter:image") == image and page.one("twitter:card") == "summary_large_image"
        assert (page.one("og:image:width"), page.one("og:image:height")) == ("1200", "630")
        alt = page.one("og:image:alt")
        assert page.one("twitter:image:alt") == alt
        assert alt.startswith(f"The Market Ledger. {page.one('og:title')}. ")
        with Image.open(io.BytesIO(built_example[name])) as im:
            assert (im.format, im.size) == ("PNG", (WIDTH, HEIGHT))
    xi = articles["2026/11/xi-military-reshuffle-succession-odds/index.html"]
    assert "Xi Jinping out before 2027?: Yes " in xi.one("og:image:alt")
    # The JSON-LD keeps naming an image that does not move with the odds.
    assert "/cards/" not in next(t for a, t in xi.scripts if a.get("type") == "application/ld+json")
    # Other pages keep the site's own image.
    assert Page(built_example["index.html"].decode()).one("og:image") == BASE_URL + "/images/card.png"
    cards = sorted(p for p in built_example if p.startswith("cards/"))
    assert len(cards) == 6


def test_the_hourly_build_draws_only_the_cards_whose_shown_odds_moved(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[Card] = []

    def counting(card: Card) -> bytes:
        drawn.append(card)
        return draw(card)

    monkeypatch.setattr(site, "draw", counting)
    out, cache = tmp_path / "public", tmp_path / "cache"
    build_example(out, cache)
    assert len(drawn) == 6
    before = {p for p in tree(out) if p.startswith("cards/")}
    drawn.clear()
    # An hour on, the same snapshot: no card is drawn, none changes.
    build_example(out, cache, now=NOW + timedelta(hours=1))
    assert drawn == [] and {p for p in tree(out) if p.startswith("cards/")} == before
    # One market moved: its article's card alone is drawn, under a new name.
    build_example(out, cache, snapshot=moved_snapshot(tmp_path / "moved.json", MOVED, 0.09))
    assert len(drawn) == 1 and drawn[0].odds[0].figure == "9%"
    after = {p for p in tree(out) if p.startswith("cards/")}
    (gone,) = before - after
    (new,) = after - before
    assert gone.startswith("cards/xi-military-reshuffle-succession-odds-") and new.startswith(
        "cards/xi-military-reshuffle-succession-odds-")


def _site_with(tmp_path: Path, settings: str) -> Path:
    root = copy_site(tmp_path / "site")
    config = root / "site.yaml"
    config.write_text("\n".join(line for line in config.read_text().splitlines()
                                if not line.startswith(("image:", "image_alt:"))) + "\n" + settings)
    return root


def test_older_articles_and_other_pages_get_the_site_card(tmp_path: Path) -> None:
    root = _site_with(tmp_path, "card_days: 3\n")
    build_example(tmp_path / "out", tmp_path / "cache", root=root)
    built = tree(tmp_path / "out")
    (site_png,) = [p for p in built if p.startswith("cards/site-")]
    site_url = f"{BASE_URL}/{site_png}"
    pages = {p: Page(d.decode()) for p, d in built.items() if p.endswith(".html") and p != "404.html"}
    recent = {p for p, page in pages.items() if "/cards/site-" not in page.one("og:image")}
    # Only articles of the last three days (NOW is 21 November, 17:00) have cards of their own.
    assert recent and all(ARTICLE_PAGE.fullmatch(p) for p in recent)
    for path, page in pages.items():
        if path not in recent:
            assert page.one("og:image") == site_url and page.one("twitter:image") == site_url
            assert page.one("og:image:alt") == "The Market Ledger. All the Polymarket News That's Fit to Trade."
    dates = {p: datetime.fromisoformat(pages[p].one("article:published_time")) for p in pages
             if ARTICLE_PAGE.fullmatch(p)}
    assert recent == {p for p, d in dates.items() if d >= NOW - timedelta(days=3)}
    assert len([p for p in built if p.startswith("cards/")]) == len(recent) + 1


def test_card_days_zero_makes_no_article_card(tmp_path: Path) -> None:
    root = copy_site(tmp_path / "site")
    (root / "site.yaml").write_text((root / "site.yaml").read_text() + "card_days: 0\n")
    build_example(tmp_path / "out", tmp_path / "cache", root=root)
    built = tree(tmp_path / "out")
    assert not [p for p in built if p.startswith("cards/")]
    page = Page(built["2026/11/xi-military-reshuffle-succession-odds/index.html"].decode())
    assert page.one("og:image") == BASE_URL + "/images/card.png"


def test_a_negative_card_days_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("title: T\nbase_url: https://example.org\ncard_days: -1\n")
    with pytest.raises(ConfigError, match=r"site.yaml:3: card_days"):
        load_config(tmp_path / "site.yaml")


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_memo_keeps_cards_for_a_build_into_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               jobs: int) -> None:
    log = tmp_path / "drawn.txt"  # worker processes draw too: each card drawn is a line here

    def counting(card: Card) -> bytes:
        with log.open("a") as f:
            f.write(card.headline + "\n")
        return draw(card)

    def drawn() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    monkeypatch.setattr(site, "draw", counting)
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)  # workers even for six articles when jobs is 2
    cache = tmp_path / "cache"

    def build_into(out: Path) -> dict[str, bytes]:
        paths = SitePaths(root=REPO, content=REPO / "content", out=out, cache=cache)
        build(paths, BuildOptions(jobs=jobs), NOW, snapshot_from_file(EXAMPLE_SNAPSHOT))
        return {p: d for p, d in tree(out).items() if p.startswith("cards/")}

    first = build_into(tmp_path / "one")
    assert len(first) == 6 and len(drawn()) == 6
    # Kept as drawn (base64 JSON), not deflated again: a PNG is deflated already.
    with sqlite3.connect(cache / MEMO_FILE) as db:
        kept = sorted(png for (value,) in db.execute("SELECT value FROM entries") if (png := from_memo(value)))
    assert kept == sorted(first.values())
    log.unlink()
    assert build_into(tmp_path / "two") == first  # from the memo: the same bytes, none drawn
    assert drawn() == []
    # A build into the first folder keeps its cards; the memo still has them after that.
    build_into(tmp_path / "one")
    assert build_into(tmp_path / "three") == first and drawn() == []


def test_a_memo_value_is_published_only_when_it_is_a_card() -> None:
    png = draw(card(view(quote())))
    assert from_memo(to_memo(png)) == png
    assert to_memo(png)[:1] == b'"'  # JSON text, like every value of the memo
    small = _png((10, 10), (0, 0, 0))
    broken = png[:100] + bytes([png[100] ^ 0xFF]) + png[101:]
    for bad in (None, b'[1, "two", null]', b'"not base64!"', to_memo(small), to_memo(broken), to_memo(b"GIF89a"),
                b"\x89PNG\r\n\x1a\n"):
        assert from_memo(bad) is None, bad

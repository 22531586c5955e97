"""Share cards: the 1200x630 PNG a social network or chat shows when an article is shared.

Two pure steps. `article_card` decides what a card shows (a frozen `Card`: the site's
name, the headline, the leading markets' odds as their widgets state them, the date
or time of those odds; or the headline and the article's image when it has no
markets); `draw` turns a `Card` into PNG bytes. `card_digest` names the file: the
digest covers everything the card shows, this module's drawing version and the fonts,
so a card whose shown odds moved gets a new URL. The bytes are the same for the same
card and `renderer()` (which adds Pillow's version and text layout engine: a new
Pillow may rasterise a glyph a shade differently, which is no reason for a new URL).
`card_alt` says in words what the card shows.

The text is set in DejaVu Sans (shipped in marketnews/fonts, see its LICENSE): Pillow's
own `load_default(size=...)` font is a cut-down Aileron Regular with ASCII and a few
marks only (no accented letters, no ▲ ▼, no em dash). Text that does not fit is
wrapped at spaces, a word longer than a line (CJK has no spaces) at character
boundaries that keep combining marks with their letter, and the last line that fits
ends in an ellipsis. Right-to-left lines are laid out by Pillow's Raqm engine where
Pillow has it, and set flush right. A text with a character DejaVu cannot draw
(CJK, for one) is left off the card rather than drawn as boxes: the page's og:title
still carries it next to the card, and the alt text says only what the card shows.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import tzinfo
from functools import cache
from pathlib import Path

import PIL
from PIL import Image, ImageDraw, ImageFont, ImageOps, features

from marketnews.names import MAX_SEGMENT_BYTES
from marketnews.templating import date_long
from marketnews.widgets import WidgetView

WIDTH, HEIGHT = 1200, 630
CARD_VERSION = 1  # raise with any change to what `draw` makes of a Card
MAX_MARKETS = 2
PNG_BAND = 32  # rows deflated at a time (see png_bytes): 115 KB of a card, under 128 KB
MAX_IMAGE_PIXELS = 40_000_000  # a larger image is left off the card (decoding it costs too much)
FONTS = Path(__file__).with_name("fonts")
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
ELLIPSIS = "…"

INK = (17, 24, 39)
MUTED = (75, 85, 99)
PAPER = (250, 250, 247)
ACCENT = (29, 78, 216)
COLOURS = {"up": (21, 128, 61), "down": (185, 28, 28), "flat": MUTED, "none": MUTED}
MARGIN = 64


@dataclass(frozen=True)
class CardOdds:
    """One market on a card, in the words and figures of its widget."""

    question: str
    figure: str  # "72%", or the result of a resolved market: "Yes"
    label: str  # what the figure is: the outcome ("Yes", "Gavin Newsom"), or "resolved"
    move: str = ""  # "▲ up 1.8 points in 24 hours", "trading closed", "" when the widget shows neither
    direction: str = "none"  # up | down | flat | none: the move's colour


@dataclass(frozen=True)
class Card:
    site: str
    headline: str
    odds: tuple[CardOdds, ...] = ()
    when: str = ""  # "Odds on 2 December 2026", "Odds as of 1 December 2026, 14:00 UTC", "Final result"
    image: bytes = b""  # the article's own image (no markets only), as stored under static/
    tagline: str = ""  # the site's card: its tagline


# --- what a card shows -------------------------------------------------------------------


def clean(text: str) -> str:
    """Text safe to measure and draw: NFC, one line, no control characters or lone surrogates."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(unicodedata.normalize("NFC", text).split())


def shown(text: str, bold: bool = False) -> str:
    """`text` cleaned, or "" when the card's font has no glyph for one of its characters."""
    text = clean(text)
    return text if all(drawable(c, bold) for c in set(text)) else ""


def card_odds(view: WidgetView) -> CardOdds | None:
    """What a card shows of one widget; None when the widget has no odds to show."""
    question = shown(view.question)
    if view.state == "resolved":
        winner = shown(view.winner, True)
        return CardOdds(question, winner or "Resolved", "resolved" if winner else "")
    if view.state == "unavailable" or not view.data_probability:
        return None
    if view.state == "closed":
        return CardOdds(question, view.pct, shown(view.outcome, True), "trading closed")
    move = f"{view.arrow} {view.change_sentence}".strip() if view.change_sentence else ""
    return CardOdds(question, view.pct, shown(view.outcome, True), move, view.direction)


def _when(views: Sequence[WidgetView], tz: tzinfo) -> str:
    """When the shown odds were taken, as the page says it for stale odds, else the day.

    The day, not the hour: a fresh quote is taken again every hour, and a card that
    named the hour would be made anew every hour though its odds stayed the same."""
    live = [v for v in views if v.state != "resolved"]
    if not live:
        return "Final result" if len(views) == 1 else "Final results"
    stale = next((v.stale_text for v in live if v.stale_text), "")
    if stale:
        return stale[0].upper() + stale[1:]
    dates = [v.as_of for v in live if v.as_of is not None]
    return f"Odds on {date_long(min(dates), tz)}" if dates else ""


def article_card(site: str, headline: str, views: Sequence[WidgetView], tz: tzinfo,
                 image: bytes = b"") -> Card | None:
    """The card of an article: its first `MAX_MARKETS` widgets that have odds (each market
    once), else its headline and `image` (the bytes of its own raster image, or b"");
    None when it would show neither odds nor headline (the site's card then stands in)."""
    used: list[WidgetView] = []
    odds: list[CardOdds] = []
    keys: set[str] = set()
    for view in views:
        if len(odds) == MAX_MARKETS:
            break
        item = card_odds(view) if view.key not in keys else None
        if item is not None:
            keys.add(view.key)
            used.append(view)
            odds.append(item)
    if odds:
        return Card(shown(site, True), shown(headline, True), tuple(odds), _when(used, tz))
    title = shown(headline, True)
    return Card(shown(site, True), title, image=image) if title else None


def site_card(site: str, tagline: str) -> Card:
    """The site's own card: its name and tagline (older articles and the other pages)."""
    return Card(shown(site, True), "", tagline=shown(tagline))


def card_alt(card: Card) -> str:
    """The card in words, for og:image:alt and twitter:image:alt."""
    parts = [card.site]
    if card.headline:
        parts.append(card.headline)
    if card.tagline:
        parts.append(card.tagline)
    for o in card.odds:
        if o.label == "resolved":
            parts.append(f"{o.question}: resolved {o.figure}")
        else:
            figure = f"{o.label} {o.figure}" if o.label else o.figure
            parts.append(f"{o.question}: {figure}" + (f", {o.move.lstrip('▲▼▬ ')}" if o.move else ""))
    if card.when:
        parts.append(card.when)
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


@cache
def _font_digest() -> str:
    h = hashlib.blake2b(digest_size=8)
    for name in (REGULAR, BOLD):
        h.update((FONTS / name).read_bytes())
    return h.hexdigest()


def layout_engine() -> ImageFont.Layout:
    return ImageFont.Layout.RAQM if features.check_feature("raqm") else ImageFont.Layout.BASIC


@cache
def renderer() -> str:
    """What, besides a Card, decides its bytes: this module's drawing version, the fonts,
    Pillow's version and the text layout engine (Raqm lays out right-to-left text, the
    basic one does not). The memo keeps drawn cards under it."""
    return (f"card{CARD_VERSION}|fonts {_font_digest()}|pillow {PIL.__version__}|{layout_engine().name}"
            f"|zlib {zlib.ZLIB_RUNTIME_VERSION}")


def card_digest(card: Card) -> str:
    """Digest of what the card shows and of the drawing code's version and fonts: the
    card's file name carries it."""
    fields = asdict(card)
    fields["image"] = hashlib.blake2b(card.image, digest_size=16).hexdigest() if card.image else ""
    text = json.dumps([f"card{CARD_VERSION}|fonts {_font_digest()}", fields], ensure_ascii=False, sort_keys=True)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


# --- fitting text --------------------------------------------------------------------------


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / (BOLD if bold else REGULAR)), size, layout_engine=layout_engine())


@cache
def _missing(bold: bool) -> tuple[tuple[int, int], bytes]:
    """The font's "no such glyph" box, as `drawable` compares against it."""
    mask = font(20, bold).getmask("\U0010fffd")
    return mask.size, bytes(mask)


@cache
def drawable(c: str, bold: bool = False) -> bool:
    """Whether the card's font has a glyph for character `c` (spaces and marks count as drawable)."""
    if c.isspace() or unicodedata.category(c) in ("Mn", "Me", "Cf"):
        return True
    mask = font(20, bold).getmask(c)
    return (mask.size, bytes(mask)) != _missing(bold)


def clusters(text: str) -> list[str]:
    """`text` in pieces that are never split: a character with the combining marks,
    joiners and variation selectors that follow it (and the character after a joiner)."""
    out: list[str] = []
    join = False
    for c in text:
        attach = out and (join or unicodedata.category(c) in ("Mn", "Me", "Mc") or c in "\u200d\u200c"
                          or 0xFE00 <= ord(c) <= 0xFE0F or 0x1F3FB <= ord(c) <= 0x1F3FF)
        if attach:
            out[-1] += c
        else:
            out.append(c)
        join = c == "\u200d"
    return out


def _width(f: ImageFont.FreeTypeFont, text: str) -> float:
    return f.getlength(text)


def _longest_fit(pieces: list[str], f: ImageFont.FreeTypeFont, width: float, suffix: str = "") -> int:
    """How many of `pieces` fit in `width` followed by `suffix` (at least one, so a line is never empty)."""
    lo, hi = 1, len(pieces)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _width(f, "".join(pieces[:mid]).rstrip() + suffix) <= width:
            lo = mid
        else:
            hi = mid - 1
    return lo


def ellipsize(text: str, f: ImageFont.FreeTypeFont, width: float) -> str:
    """`text` ended with an ellipsis, shortened (at a space when one is near the end) to fit."""
    pieces = clusters(text)
    n = _longest_fit(pieces, f, width, ELLIPSIS)
    cut = "".join(pieces[:n])
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:
        cut = cut[:space]
    cut = cut.rstrip(" ,;:—–-")
    if _width(f, cut + ELLIPSIS) > width:  # not even one character and the ellipsis fit
        return ELLIPSIS
    return cut + ELLIPSIS


def wrap(text: str, f: ImageFont.FreeTypeFont, width: float, max_lines: int) -> list[str]:
    """`text` in at most `max_lines` lines no wider than `width`; the last ends in an
    ellipsis when the text goes on. Breaks at spaces, or inside a word too long for a line."""
    lines: list[str] = []
    line = ""
    words = text.split()
    for i, word in enumerate(words):
        trial = f"{line} {word}" if line else word
        if _width(f, trial) <= width:
            line = trial
            continue
        if line:
            lines.append(line)
            line = ""
        pieces = clusters(word)
        while len(lines) <= max_lines and _width(f, "".join(pieces)) > width:
            n = _longest_fit(pieces, f, width)
            lines.append("".join(pieces[:n]))
            pieces = pieces[n:]
        line = "".join(pieces)
        if len(lines) > max_lines:
            line = " ".join([line, *words[i + 1:]])
            break
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1:])
        lines = lines[: max_lines - 1] + [ellipsize(rest, f, width)]
    return lines


def fit_size(text: str, sizes: Sequence[int], width: float, bold: bool = True) -> tuple[ImageFont.FreeTypeFont, str]:
    """The largest of `sizes` at which `text` fits on one line; else the smallest, ellipsized."""
    for size in sizes:
        if _width(font(size, bold), text) <= width:
            return font(size, bold), text
    f = font(sizes[-1], bold)
    return f, ellipsize(text, f, width)


def right_to_left(text: str) -> bool:
    """Whether a line's first letter with a strong direction is right-to-left (Hebrew, Arabic...)."""
    for c in text:
        kind = unicodedata.bidirectional(c)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


# --- drawing ---------------------------------------------------------------------------------


class _Pen:
    def __init__(self, image: Image.Image):
        self.draw = ImageDraw.Draw(image)

    def line(self, x: int, y: int, width: int, text: str, f: ImageFont.FreeTypeFont,
             fill: tuple[int, int, int]) -> None:
        """One line with its top at y, flush left in [x, x + width], or flush right when it is right-to-left."""
        if right_to_left(text):
            self.draw.text((x + width, y), text, font=f, fill=fill, anchor="ra")
        else:
            self.draw.text((x, y), text, font=f, fill=fill, anchor="la")

    def block(self, x: int, y: int, width: int, text: str, f: ImageFont.FreeTypeFont,
              fill: tuple[int, int, int], max_lines: int, leading: float = 1.2) -> int:
        """Wrapped text from y down; returns the y below it."""
        step = round(f.size * leading)
        for line in wrap(text, f, width, max_lines) if text else []:
            self.line(x, y, width, line, f, fill)
            y += step
        return y


def _image(data: bytes, size: tuple[int, int]) -> Image.Image | None:
    """The article's image cropped to fill `size`; None when it cannot be read (or is too big to)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                return None
            im.draft("RGB", size)
            rgba = im.convert("RGBA")
    except (OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError):
        return None
    flat = Image.new("RGBA", rgba.size, PAPER + (255,))
    flat.alpha_composite(rgba)
    return ImageOps.fit(flat.convert("RGB"), size, Image.Resampling.LANCZOS)


def _odds_column(pen: _Pen, x: int, y: int, width: int, o: CardOdds, figure_sizes: Sequence[int],
                 bottom: int, reserve: int) -> None:
    """One market: its question (the height of `reserve` lines at least, so that columns
    side by side line up), the figure, what it is of to its right, the move below."""
    y = max(pen.block(x, y, width, o.question, font(30), INK, 2, 1.25), y + reserve * round(30 * 1.25)) + 8
    big, figure = fit_size(o.figure, figure_sizes, width * 0.62)
    figure_width = round(_width(big, figure))
    pen.line(x, y, figure_width, figure, big, ACCENT)
    label_x = x + figure_width + 24
    label_top = y + round(big.size * 0.22)
    if o.label:
        pen.block(label_x, label_top, x + width - label_x, o.label, font(38, True), INK, 2, 1.15)
    below = y + round(big.size * 1.1)
    if o.move and below + 34 <= bottom:
        pen.line(x, below, width, o.move, font(30), COLOURS.get(o.direction, MUTED))


def draw(card: Card) -> bytes:
    """The card as PNG bytes, the same bytes for the same card and `renderer()`: no time
    stamps or text chunks (see `png_bytes`)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    pen = _Pen(image)
    pen.draw.rectangle((0, 0, WIDTH, 12), fill=ACCENT)
    inner = WIDTH - 2 * MARGIN
    footer = HEIGHT - 52
    if card.odds:
        pen.line(MARGIN, 44, inner, card.site, font(30, True), ACCENT)
        headline = font(54 if len(card.odds) == 1 else 46, True)
        y = pen.block(MARGIN, 100, inner, card.headline, headline, INK, 3 if len(card.odds) == 1 else 2, 1.18)
        y = max(y + 20, 300 if len(card.odds) == 1 else 240)
        n = len(card.odds)
        gap = 48
        column = (inner - gap * (n - 1)) // n
        sizes = (132, 116, 100, 84, 72, 60) if n == 1 else (112, 96, 84, 72, 60, 48)
        for i, o in enumerate(card.odds):
            _odds_column(pen, MARGIN + i * (column + gap), y, column, o, sizes, footer, 0 if n == 1 else 2)
        pen.line(MARGIN, footer, inner, card.when, font(26), MUTED)
    elif not card.headline:  # the site's card
        y = pen.block(MARGIN, 190, inner, card.site, font(88, True), INK, 2, 1.15) + 24
        pen.block(MARGIN, y, inner, card.tagline, font(40), MUTED, 3, 1.3)
    else:
        picture = _image(card.image, (460, HEIGHT - 12)) if card.image else None
        width = inner if picture is None else WIDTH - 460 - MARGIN - 48
        if picture is not None:
            image.paste(picture, (WIDTH - 460, 12))
        pen.line(MARGIN, 44, width, card.site, font(30, True), ACCENT)
        size = 64 if picture is None else 52
        pen.block(MARGIN, 120, width, card.headline, font(size, True), INK, 6 if picture is None else 7, 1.2)
    return png_bytes(image)


def png_bytes(image: Image.Image) -> bytes:
    """An RGB image as PNG: every row unfiltered, deflated at zlib's level 3, no chunk
    but the three a PNG needs. Pillow's encoder weighs every row filter for each row; a
    card is flat colour and text, which unfiltered rows compress as small (58 KB against
    69 KB on the benchmark's cards) in a third of the time.

    The rows go to zlib a band at a time (the same stream as all at once). A whole card's
    pixels (2.3 MB) would be a new block of memory from the system for each card, and
    touching its fresh pages cost about as much as compressing it: a band stays under
    the C library's threshold for that and reuses the memory of the band before."""
    width, height = image.size
    stride = width * 3
    deflate = zlib.compressobj(3)
    data = []
    for top in range(0, height, PNG_BAND):
        raw = image.crop((0, top, width, min(top + PNG_BAND, height))).tobytes()
        data.append(deflate.compress(b"".join(b"\x00" + raw[i : i + stride] for i in range(0, len(raw), stride))))
    data.append(deflate.flush())
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", b"".join(data)) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def to_memo(png: bytes) -> bytes:
    """A drawn card as the memo keeps values: JSON text (a base64 string). It is kept as
    it is, not deflated again (`Memo.put(..., packed=True)`): a PNG is deflated already,
    and deflating its base64 saved a quarter of it for 2 ms a card."""
    return json.dumps(base64.b64encode(png).decode("ascii")).encode("ascii")


def from_memo(value: bytes | None) -> bytes | None:
    """The card a memo value holds, or None when it holds no 1200x630 PNG: the cache
    folder is not to be trusted, so what comes out of it is checked before it is published."""
    if value is None:
        return None
    try:
        text = json.loads(value)
        png = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            return None
        with Image.open(io.BytesIO(png)) as im:
            if (im.format, im.size, im.mode) != ("PNG", (WIDTH, HEIGHT), "RGB"):
                return None
            im.verify()  # every chunk's checksum
    except (ValueError, TypeError, OSError, SyntaxError, RecursionError, Image.DecompressionBombError):
        return None
    return png


def card_file(slug: str, card: Card) -> str:
    """The card's path in the output folder: the article's slug (as much as fits a file
    name with the digest after it: slugs are ASCII) and the card's digest."""
    named = f"-{card_digest(card)}.png"
    return f"cards/{slug[:MAX_SEGMENT_BYTES - len(named)]}{named}"


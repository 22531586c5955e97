"""The snapshot seam: `Quote`, `Outcome`, `Snapshot` and their versioned JSON form. No I/O.

A `Snapshot` is one consistent set of quotes taken at one time. The build renders
every odds widget from exactly one snapshot; where it came from (a live fetch, a
file, the cache, the example file) is recorded in `source`. JSON form, version 1:

    {
      "format": "marketnews-snapshot",
      "version": 1,
      "taken_at": "2026-11-21T16:00:00Z",          # when its newest quote was taken (UTC)
      "source": "polymarket",                      # where its quotes were taken: polymarket | example | file
      "quotes": {                                  # keyed by MarketRef.key, sorted
        "<key>": {
          "kind": "market",                        # market | event
          "question": "Xi Jinping out before 2027?",
          "url": "https://polymarket.com/event/e/m",
          "status": "open",                        # open | closed | resolved
          "probability": 0.0455,                   # headline probability 0..1, or null
          "headline_outcome": "Yes",               # the outcome `probability` is for
          "outcomes": [{"name": "Yes", "probability": 0.0455, "url": null}, ...],
          "change_24h": 0.001,                     # price units: 0.018 = +1.8 points; or null
          "volume": 12071015.22,                   # USD, or null
          "end_date": "2026-12-31T00:00:00Z",      # or null
          "winner": null,                          # the winning outcome once resolved
          "as_of": "2026-11-21T16:00:00Z",         # when this quote was fetched
          "token_id": "3233...",                   # CLOB token of the headline outcome, or null
          "history": {"t": [1795276800, ...],      # hourly price history, oldest first:
                      "p": [0.046, ...]},          #   unix seconds and prices, column by column
          "anchors": {"t": [...], "p": [...]},     # prices at article dates, for "when published"
          "source": "example"                      # only when not the snapshot's own `source`
        }
      }
    }

Every field but `question`/`url` may be absent in a file and takes its default.
`history` and `anchors` are also read as lists of `[t, p]` pairs; they are written
column by column because a site's snapshot holds hundreds of thousands of points, and
two flat lists parse and print several times faster than as many small ones.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import cached_property
from itertools import pairwise
from typing import Any, Literal, cast, overload

from marketnews.errors import SnapshotError

FORMAT = "marketnews-snapshot"
VERSION = 1

QuoteKind = Literal["market", "event"]
Status = Literal["open", "closed", "resolved"]
_STATUSES = ("open", "closed", "resolved")
_KINDS = ("market", "event")

Point = tuple[int, float]


class Series(Sequence[Point]):
    """Points of a price series, (unix seconds, price) each, held as two arrays.

    A sequence of pairs like the tuple it stands for (equal to one with the same points),
    in a seventh of the memory: a week of hourly history is 168 points, 16 bytes each here
    against about 110 as a tuple of pairs of an int and a float. Every process of a build
    holds every market's history (2,000 markets: 5 MB, not 37), and a worker that reads
    a series touches the reference count of no point."""

    __slots__ = ("_times", "_prices", "_hash")

    def __init__(self, points: Iterable[Point] = ()) -> None:
        pairs = tuple(points)
        self._times, self._prices = array("q", [t for t, _ in pairs]), array("d", [p for _, p in pairs])
        self._hash: int | None = None

    @classmethod
    def of(cls, points: Iterable[Point]) -> Series:
        """`points` as a Series (itself when it is one)."""
        return points if type(points) is Series else cls(points)

    @classmethod
    def columns(cls, times: Sequence[int], prices: Sequence[float]) -> Series:
        series = cls()
        series._times, series._prices = array("q", times), array("d", prices)
        return series

    @property
    def times(self) -> Sequence[int]:
        return self._times

    @property
    def prices(self) -> Sequence[float]:
        return self._prices

    def __len__(self) -> int:
        return len(self._times)

    def raw(self) -> bytes:
        """The times as 64-bit integers, then the prices as doubles, as bytes (for digests)."""
        return self._times.tobytes() + self._prices.tobytes()

    @overload
    def __getitem__(self, i: int) -> Point: ...
    @overload
    def __getitem__(self, i: slice) -> Series: ...
    def __getitem__(self, i: int | slice) -> Point | Series:
        if isinstance(i, slice):
            return Series.columns(self._times[i], self._prices[i])
        return self._times[i], self._prices[i]

    def __iter__(self) -> Iterator[Point]:
        return zip(self._times, self._prices, strict=True)

    def __eq__(self, other: object) -> bool:
        if type(other) is Series:
            return self._times == other._times and self._prices == other._prices
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:  # the tuple's, which it equals; worked out once (the arrays are never changed)
        if self._hash is None:
            self._hash = hash(tuple(self))
        return self._hash

    def __repr__(self) -> str:
        return f"Series({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return Series.columns, (self._times, self._prices)
# How far from a date a price may be taken and still be "the price when this was published".
PRICE_AT_TOLERANCE_S = 3 * 3600


@dataclass(frozen=True)
class Outcome:
    name: str
    probability: float | None
    url: str | None = None


@dataclass(frozen=True)
class Quote:
    key: str
    question: str
    url: str
    as_of: datetime
    kind: QuoteKind = "market"
    status: Status = "open"
    probability: float | None = None
    headline_outcome: str | None = None
    outcomes: tuple[Outcome, ...] = ()
    change_24h: float | None = None
    volume: float | None = None
    end_date: datetime | None = None
    winner: str | None = None
    token_id: str | None = None
    history: Sequence[Point] = Series()  # any sequence of points given is kept as a Series
    anchors: Sequence[Point] = Series()
    # Where the quote was taken: a provider ("polymarket"), or "example" for the example
    # snapshot's made-up odds; what pages say about where odds came from is read from it.
    source: str = "polymarket"

    def __post_init__(self) -> None:
        object.__setattr__(self, "history", Series.of(self.history))
        object.__setattr__(self, "anchors", Series.of(self.anchors))

    @cached_property
    def _series(self) -> tuple[Sequence[int], Sequence[float]]:
        history = cast(Series, self.history)  # made one by __post_init__
        times = history.times
        if not self.anchors and all(a < b for a, b in pairwise(times)):  # the history alone, as it is
            return times, history.prices
        points = sorted(set(self.history) | set(self.anchors))
        return [t for t, _ in points], [p for _, p in points]

    def price_at(self, when: datetime, tolerance_s: int = PRICE_AT_TOLERANCE_S) -> float | None:
        """The headline price closest to `when` (within `tolerance_s`), from history and anchors."""
        times, prices = self._series
        ts = int(when.timestamp())
        i = bisect.bisect_left(times, ts)  # times[i - 1] < ts <= times[i]
        if i < len(times) and (i == 0 or times[i] - ts < ts - times[i - 1]):
            best = i
        elif i > 0:
            best = i - 1  # the earlier one on a tie
        else:
            return None
        if abs(times[best] - ts) > tolerance_s:
            return None
        return prices[best]

    def age_s(self, now: datetime) -> int:
        """Seconds since the quote was taken (never negative)."""
        return max(0, int((now - self.as_of).total_seconds()))

    def is_stale(self, now: datetime, after_s: int) -> bool:
        """The site's one rule for "stale": taken more than `after_s` ago and not resolved.

        A result does not go out of date, so a resolved quote is never stale. Widgets,
        the build's summary and --max-stale all ask this.
        """
        return self.status != "resolved" and self.age_s(now) > after_s

    def past_end(self, now: datetime) -> bool:
        """Still trading as far as Polymarket says, but past its end date: awaiting the result."""
        return self.status == "open" and self.end_date is not None and self.end_date <= now


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    quotes: Mapping[str, Quote] = field(default_factory=dict)
    source: str = "file"

    def get(self, key: str) -> Quote | None:
        return self.quotes.get(key)

    def with_quotes(self, quotes: Mapping[str, Quote]) -> Snapshot:
        return replace(self, quotes=dict(sorted(quotes.items())))

    @classmethod
    def of(cls, quotes: Mapping[str, Quote], when_empty: datetime) -> Snapshot:
        """A snapshot of `quotes`, stamped with its newest quote's time and, as its source, the
        one most of them share (ties by name): facts about the quotes, not about the build
        that assembled them, so the same quotes always make the same bytes."""
        counts: dict[str, int] = {}
        for q in quotes.values():
            counts[q.source] = counts.get(q.source, 0) + 1
        source = min(counts, key=lambda k: (-counts[k], k)) if counts else "none"
        taken_at = max((q.as_of for q in quotes.values()), default=when_empty)
        return cls(taken_at=taken_at, quotes=dict(sorted(quotes.items())), source=source)


# --- JSON form -------------------------------------------------------------------------


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse ISO 8601 (a trailing Z, or an offset; naive means UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _num(value: float | None, digits: int = 6) -> float | None:
    if value is None:
        return None
    rounded = round(float(value), digits)
    return 0.0 if rounded == 0 else rounded


def quote_to_json(q: Quote, source: str = "") -> dict[str, Any]:
    """`source` is the snapshot's: a quote's own is written only when it differs."""
    doc = {
        "kind": q.kind,
        "question": q.question,
        "url": q.url,
        "status": q.status,
        "probability": _num(q.probability),
        "headline_outcome": q.headline_outcome,
        "outcomes": [
            {"name": o.name, "probability": _num(o.probability), "url": o.url} for o in q.outcomes
        ],
        "change_24h": _num(q.change_24h),
        "volume": _num(q.volume, 2),
        "end_date": format_time(q.end_date) if q.end_date else None,
        "winner": q.winner,
        "as_of": format_time(q.as_of),
        "token_id": q.token_id,
        "history": _columns(q.history),
        "anchors": _columns(sorted(q.anchors)),
    }
    if q.source != source:
        doc["source"] = q.source
    return doc


def _columns(points: Iterable[Point]) -> dict[str, list[Any]]:
    """A series as the snapshot writes it: its times, and its prices rounded to 6 places.
    (float(f"{p:.6f}") is round(p, 6), digit for digit: both are CPython's correctly
    rounded conversion to 6 decimals, and the text is read back to the nearest float. It
    takes two thirds of the time, and a snapshot has hundreds of thousands of prices.)"""
    series = Series.of(points)  # its columns as they are held: no pair made of each point
    return {"t": list(series.times), "p": [float(f"{p:.6f}") for p in series.prices]}


_SERIES_FIELDS = ("history", "anchors")


def snapshot_digest(snapshot: Snapshot) -> str:
    """A digest of everything `snapshot` holds, in quote key order: each quote's fields by
    their reprs, and its two series by their numbers' bytes (exact). Whenever the
    snapshot's JSON (`snapshot_to_json`) differs, so does this, at a tenth of the cost
    (it rounds nothing, and so may differ where the JSON does not)."""
    h = hashlib.blake2b(repr((FORMAT, VERSION, snapshot.taken_at, snapshot.source)).encode(), digest_size=16)
    names = [f.name for f in fields(Quote) if f.name not in _SERIES_FIELDS]
    for key in sorted(snapshot.quotes):
        quote = snapshot.quotes[key]
        h.update(repr((key, [getattr(quote, name) for name in names])).encode())
        for name in _SERIES_FIELDS:
            raw = cast(Series, getattr(quote, name)).raw()  # (a Series: see Quote.__post_init__)
            h.update(len(raw).to_bytes(8, "big") + raw)
    return h.hexdigest()


def snapshot_to_json(snapshot: Snapshot, pretty: bool = False) -> str:
    """Deterministic text: sorted keys, rounded numbers, a trailing newline.

    `pretty` indents for files people read and diff (about 10x slower to write: the
    indenting encoder is pure Python); the site's /snapshot.json and the cache are compact.
    """
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "taken_at": format_time(snapshot.taken_at),
        "source": snapshot.source,
        "quotes": {k: quote_to_json(q, snapshot.source) for k, q in sorted(snapshot.quotes.items())},
    }
    if pretty:
        return json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=1) + "\n"
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


# Times outside these are data errors, not dates a market can have (and could overflow
# datetime arithmetic far from the epoch).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
EARLIEST_TS, LATEST_TS = int(EARLIEST.timestamp()), int(LATEST.timestamp())
# How far past the time of its quote a price may be stamped (clocks differ a little); a
# point later than that would end a chart in the future, and the chart shows 7 days up to it.
FUTURE_SKEW_S = 3600
# Control characters XML cannot hold are removed; a lone UTF-16 surrogate (JSON's "\ud800"
# decodes to one) cannot be encoded as UTF-8 at all and becomes U+FFFD, the replacement character.
_CONTROL: dict[int, int | None] = {c: None for c in range(32) if c not in (9, 10, 13)}
_CONTROL.update((c, 0xFFFD) for c in (*range(0xD800, 0xE000), 0xFFFE, 0xFFFF))  # nor can XML hold these two
# The largest amount of money (USD) taken as real; Polymarket's biggest markets trade a few billion.
MAX_AMOUNT = 1e12


def clean_text(text: str) -> str:
    """Text from outside made safe to write: no control characters XML cannot hold, no lone
    surrogates, no U+FFFE or U+FFFF (the last three become U+FFFD)."""
    return text.translate(_CONTROL) if not text.isprintable() else text


def amount(value: float | None) -> float | None:
    """A sum of money that makes sense (finite, 0 to MAX_AMOUNT), else None: shown as unavailable."""
    if value is None or not math.isfinite(value) or not 0.0 <= value <= MAX_AMOUNT:
        return None
    return value


class _Reader:
    """Reads one quote, collecting problems as `quotes.<key>.<field>: ...`."""

    def __init__(self, key: str, data: Mapping[str, Any], problems: list[str]):
        self.key, self.data, self.problems = key, data, problems

    def bad(self, name: str, expected: str) -> None:
        got = self.data.get(name)
        self.problems.append(f"quotes.{self.key}.{name}: expected {expected}, got {got!r}")

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            self.bad(name, "a string")
            return None
        return clean_text(value)

    def url(self, name: str, required: bool = False) -> str | None:
        value = self.text(name, required)
        if value is not None and not value.startswith("https://"):
            self.bad(name, "an https:// URL")
            return None
        return value

    def prob(self, value: Any, name: str, low: float = 0.0) -> float | None:
        """A number from `low` (0, or -1 for a change) to 1."""
        expected = f"a number from {low:g} to 1"
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.bad(name, expected)
            return None
        if not low <= value <= 1.0:  # (NaN too; compared before anything makes a float of a huge int)
            self.bad(name, expected)
            return None
        return float(value)

    def amount(self, name: str) -> float | None:
        value = self.data.get(name)
        if value is None:
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and -1 < value <= MAX_AMOUNT
        if not ok or amount(float(value)) is None:  # the comparison first: float() of a huge int overflows
            self.bad(name, f"a number from 0 to {MAX_AMOUNT:g}")
            return None
        return float(value)

    def time(self, name: str) -> datetime | None:
        value = self.data.get(name)
        if value is None:
            return None
        try:
            when = parse_time(str(value))
            when.astimezone(UTC)  # an offset that pushes the time out of range fails here
        except (ValueError, OverflowError):
            self.bad(name, "an ISO 8601 time")
            return None
        if not EARLIEST <= when <= LATEST:
            self.bad(name, "a time between 2000 and 2200")
            return None
        return when

    def points(self, name: str) -> Series:
        value = self.data.get(name) or []
        times: list[Any] | None
        prices: list[Any] | None
        if isinstance(value, dict):  # the written form: {"t": [...], "p": [...]}
            times, prices = value.get("t"), value.get("p")
            if not (isinstance(times, list) and isinstance(prices, list) and len(times) == len(prices)):
                times = prices = None
        elif isinstance(value, list) and all(isinstance(v, list) and len(v) == 2 for v in value):  # also [[t, p]]
            times, prices = [v[0] for v in value], [v[1] for v in value]
        else:
            times = prices = None
        # Checked a column at a time (a site's cache holds hundreds of thousands of points):
        # types, then the bounds, then the sum (NaN makes it non-finite).
        if times is not None and prices is not None and times and not (
            set(map(type, times)) == {int} and set(map(type, prices)) <= {int, float}
            and min(prices) >= 0 and max(prices) <= 1 and math.isfinite(sum(prices))  # (bounds first: a huge int)
            and min(times) >= EARLIEST_TS and max(times) <= LATEST_TS
        ):
            times = None
        if times is None or prices is None:
            self.bad(name, '{"t": [unix seconds, ...], "p": [prices from 0 to 1, ...]}')
            return Series()
        if len(set(times)) == len(times) and times == sorted(times):
            return Series.columns(times, prices)
        return Series(sorted(dict(zip(times, map(float, prices), strict=True)).items()))


def quote_from_json(key: str, data: Any, problems: list[str], default_as_of: datetime,
                    default_source: str = "file") -> Quote | None:
    if not isinstance(data, dict):
        problems.append(f"quotes.{key}: expected an object, got {type(data).__name__}")
        return None
    r = _Reader(key, data, problems)
    question = r.text("question", required=True)
    url = r.url("url", required=True)
    kind = data.get("kind", "market")
    if kind not in _KINDS:
        r.bad("kind", " or ".join(_KINDS))
        kind = "market"
    status = data.get("status", "open")
    if status not in _STATUSES:
        r.bad("status", ", ".join(_STATUSES))
        status = "open"
    outcomes: list[Outcome] = []
    raw_outcomes = data.get("outcomes") or []
    if not isinstance(raw_outcomes, list):
        r.bad("outcomes", "a list")
        raw_outcomes = []
    for o in raw_outcomes:
        if isinstance(o, dict) and isinstance(o.get("name"), str):
            url_o = o.get("url")
            if url_o is not None and not (isinstance(url_o, str) and url_o.startswith("https://")):
                r.bad("outcomes", "outcome URLs that start with https://")
                url_o = None
            outcomes.append(Outcome(clean_text(o["name"]), r.prob(o.get("probability"), "outcomes"), url_o))
        else:
            r.bad("outcomes", "objects with a name")
    if question is None or url is None:
        return None
    as_of = r.time("as_of") or default_as_of
    history, anchors = r.points("history"), r.points("anchors")
    for name, series in (("history", history), ("anchors", anchors)):
        if series and series.times[-1] > default_as_of.timestamp() + FUTURE_SKEW_S:  # a chart would end there
            late = datetime.fromtimestamp(series.times[-1], UTC)
            problems.append(f"quotes.{key}.{name}: a price stamped {format_time(late)}, more than an hour "
                            f"after the snapshot's taken_at ({format_time(default_as_of)})")
    return Quote(
        key=key,
        question=question,
        url=url,
        as_of=as_of,
        kind=kind,
        status=status,
        probability=r.prob(data.get("probability"), "probability"),
        headline_outcome=r.text("headline_outcome"),
        outcomes=tuple(outcomes),
        change_24h=r.prob(data.get("change_24h"), "change_24h", low=-1.0),
        volume=r.amount("volume"),
        end_date=r.time("end_date"),
        winner=r.text("winner"),
        token_id=r.text("token_id"),
        history=history,
        anchors=anchors,
        source=r.text("source") or default_source,
    )


def snapshot_from_json(text: str | bytes, origin: str = "snapshot") -> Snapshot:
    """Parse and validate a snapshot; raise SnapshotError listing every problem."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{origin}: not valid JSON: {exc}") from None
    except RecursionError:
        raise SnapshotError(f"{origin}: not a snapshot: arrays or objects nested too deep to read") from None
    return snapshot_from_doc(doc, origin)


def snapshot_from_doc(doc: Any, origin: str = "snapshot") -> Snapshot:
    """Validate an already decoded snapshot (as `snapshot_from_json`, without the parsing)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnapshotError(f"{origin}: format: expected {FORMAT!r}, this is not a marketnews snapshot")
    if doc.get("version") != VERSION:
        raise SnapshotError(
            f"{origin}: version: expected {VERSION}, got {doc.get('version')!r}"
        )
    try:
        taken_at = parse_time(str(doc.get("taken_at")))
        taken_at.astimezone(UTC)  # an offset that pushes the time out of range fails here
    except (ValueError, OverflowError):
        raise SnapshotError(
            f"{origin}: taken_at: expected an ISO 8601 time, got {doc.get('taken_at')!r}"
        ) from None
    if not EARLIEST <= taken_at <= LATEST:
        raise SnapshotError(f"{origin}: taken_at: expected a time between 2000 and 2200, got {doc.get('taken_at')!r}")
    raw = doc.get("quotes")
    if not isinstance(raw, dict):
        raise SnapshotError(f"{origin}: quotes: expected an object keyed by market reference")
    problems: list[str] = []
    quotes: dict[str, Quote] = {}
    source = doc.get("source")
    source = clean_text(source) if isinstance(source, str) and source else "file"
    for raw_key, data in sorted(raw.items()):
        key = clean_text(raw_key)  # messages name it: a lone surrogate would not print
        q = quote_from_json(key, data, problems, taken_at, source)
        if q is not None:
            quotes[key] = q
    if problems:
        raise SnapshotError(f"{origin}: " + f"\n{origin}: ".join(problems))
    return Snapshot(taken_at=taken_at, quotes=quotes, source=source)

"""The build's one snapshot, and every snapshot file: where odds come from. Network and disk I/O.

A build asks a `SnapshotSource` for the odds of what its site shows (`Wanted`): one
file (`snapshot_from_file`, `--snapshot`), or live odds (`live_snapshot_source`), where
for every referenced market the first of these wins:
  1. a fresh quote from Polymarket (`markets.polymarket.fetch_live`), unless offline;
  2. its last good quote in the odds cache (`<cache>/snapshot.json`);
  3. its quote in the live site's own `<base_url>/snapshot.json` (one request, only
     when something is still missing, never offline);
  4. its quote in the example snapshot named in site.yaml;
else its widget says "odds unavailable". A quote keeps its own `as_of`, so pages mark
what is not fresh ("odds as of 3 hours ago"). Network goes through the injected httpx
client; the cache folder is read here and written by `save_cache` after a good build.
`restrict` makes the snapshot the site publishes as /snapshot.json (`snapshot_to_json`).

The cache folder holds `snapshot.json` (newest quote per market, histories and anchors
included; the same format as the site's /snapshot.json) and `anchors-missing.json`
(the (market, article date) pairs that have no price, so they are not asked again).
A second venue would add its fetch beside Polymarket's in `assemble_odds`; what the
rest of the build sees is one `Snapshot` of `Quote`s either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from marketnews.errors import MarketnewsError, SnapshotError
from marketnews.markets.clob import AnchorKey, AnchorWanted
from marketnews.markets.httpjson import CallFailed, Fetcher, HttpPolicy
from marketnews.markets.model import Quote, Snapshot, snapshot_from_doc, snapshot_from_json, snapshot_to_json
from marketnews.markets.polymarket import PolymarketSettings, fetch_live
from marketnews.markets.refs import MarketRef
from marketnews.writer import file_bytes, write_atomic

if TYPE_CHECKING:  # the network stack is imported by the code that uses it, not by every build
    import httpx

EXAMPLE = "example"  # the source of the example snapshot's quotes
CACHE_SNAPSHOT = "snapshot.json"
CACHE_MISSING = "anchors-missing.json"
SITE_POLICY = HttpPolicy(attempts=2, budget_s=10.0, read_timeout_s=8.0)


@dataclass(frozen=True)
class OddsSources:
    """Where odds may come from, built by the CLI from site.yaml, environment and flags."""

    polymarket: PolymarketSettings | None  # None: offline, no network at all
    live_site_snapshot: str | None = None  # "<base_url>/snapshot.json"
    example: Path | None = None
    example_label: str = ""


@dataclass(frozen=True)
class CachedOdds:
    quotes: Mapping[str, Quote] = field(default_factory=dict)
    anchors_missing: frozenset[AnchorKey] = frozenset()
    source: str = "cache"  # where the cached odds came from in the first place


@dataclass(frozen=True)
class Odds:
    """The snapshot a build uses, a one-line note on where it came from, and what was learnt."""

    snapshot: Snapshot
    note: str
    unknown: frozenset[str] = frozenset()  # keys Polymarket says do not exist
    anchors_missing: frozenset[AnchorKey] = frozenset()
    requests: int = 0
    cached: CachedOdds | None = field(default=None, compare=False)  # the cache as read, to update


def stale_quotes(snapshot: Snapshot, keys: Iterable[str], now: datetime, after_s: int) -> list[tuple[int, str]]:
    """(age in seconds, key) of each of `keys` whose quote is stale (`Quote.is_stale`), oldest last.

    The one count of stale quotes: the build's summary and --max-stale use it, and a
    widget says "odds as of" exactly when its quote is in it.
    """
    quotes = ((k, snapshot.get(k)) for k in set(keys))
    return sorted((q.age_s(now), k) for k, q in quotes if q is not None and q.is_stale(now, after_s))


# --- the cache folder ------------------------------------------------------------------


def load_cache(folder: Path | None) -> CachedOdds:
    """The cached odds; a missing or unreadable cache is an empty one (it only costs requests)."""
    if folder is None:
        return CachedOdds()
    try:
        snapshot = snapshot_from_json(file_bytes(folder / CACHE_SNAPSHOT, MAX_CACHE_FILE), CACHE_SNAPSHOT)
    except (OSError, SnapshotError):
        snapshot = None
    if snapshot is None:
        return CachedOdds(anchors_missing=_missing(folder))
    return CachedOdds(snapshot.quotes, _missing(folder), snapshot.source)


def _missing(folder: Path) -> frozenset[AnchorKey]:
    """The (market, article date) pairs the cache says have no price."""
    missing: set[AnchorKey] = set()
    try:
        for item in json.loads(file_bytes(folder / CACHE_MISSING, MAX_CACHE_FILE).decode("utf-8")):
            if isinstance(item, list) and len(item) == 2 and isinstance(item[1], int):
                missing.add((str(item[0]), item[1]))
    except (OSError, ValueError, TypeError, RecursionError):  # (JSON nested too deep to read)
        pass
    return frozenset(missing)


def newest(*sources: Mapping[str, Quote], latest: datetime | None = None) -> dict[str, Quote]:
    """Per key, the quote with the latest `as_of` among the sources; a quote stamped after
    `latest` (a clock that was ahead, or bad data) is left out, or it would never age."""
    out: dict[str, Quote] = {}
    for quotes in sources:
        for key, q in quotes.items():
            if latest is not None and q.as_of > latest:
                continue
            if key not in out or q.as_of > out[key].as_of:
                out[key] = q
    return out


def save_cache(
    folder: Path | None,
    snapshot: Snapshot,
    keys: Iterable[str],
    anchors_missing: frozenset[AnchorKey],
    previous: CachedOdds | None = None,
    published: str | None = None,
    now: datetime | None = None,
) -> None:
    """Keep, for each of the site's keys, the newest quote known (this build's or the cache's),
    none stamped after `now` (the build's time; by default the snapshot's).

    `published` is `snapshot` as JSON text, already made for /snapshot.json: when the cache
    is to hold exactly that snapshot (the usual case), it is written as it is.
    """
    if folder is None:
        return
    if previous is None and published is not None and _holds(folder / CACHE_SNAPSHOT, published):
        # The cache holds this very snapshot (a build again from the same file): nothing in it
        # is newer, so it stays as it is, and only the pairs without a price may be new.
        old_missing = _missing(folder)
        missing = sorted(m for m in old_missing | anchors_missing if m[0] in set(keys))
        if set(missing) != old_missing:
            write_atomic(folder / CACHE_MISSING, json.dumps([list(m) for m in missing]) + "\n")
        return
    old = previous if previous is not None else load_cache(folder)
    wanted = set(keys)
    latest = now or snapshot.taken_at
    # This build's quote first: of two taken at the same time, the cache keeps the one the site shows.
    quotes = {k: q for k, q in newest(snapshot.quotes, old.quotes, latest=latest).items() if k in wanted}
    missing = sorted(m for m in old.anchors_missing | anchors_missing if m[0] in wanted)
    folder.mkdir(parents=True, exist_ok=True)
    if published is not None and quotes == dict(snapshot.quotes):
        write_atomic(folder / CACHE_SNAPSHOT, published)
    else:
        # Each quote keeps its own source and time, so that a build from the cache alone
        # publishes the same /snapshot.json as the build that filled it.
        write_atomic(folder / CACHE_SNAPSHOT, snapshot_to_json(Snapshot.of(quotes, snapshot.taken_at)))
    write_atomic(folder / CACHE_MISSING, json.dumps([list(m) for m in missing]) + "\n")


def _holds(path: Path, text: str) -> bool:
    try:
        return file_bytes(path, MAX_CACHE_FILE) == text.encode("utf-8")
    except OSError:
        return False


# --- assembling the snapshot -----------------------------------------------------------


def _site_snapshot(
    url: str, client: httpx.Client, sleep: Callable[[float], None], monotonic: Callable[[], float]
) -> tuple[Mapping[str, Quote], int]:
    """The live site's own snapshot (quotes, requests made); nothing when it can't be had."""
    fetcher = Fetcher(client, SITE_POLICY, sleep=sleep, monotonic=monotonic)
    try:
        return snapshot_from_doc(fetcher.get_json(url), url).quotes, fetcher.requests
    except (CallFailed, SnapshotError):
        return {}, fetcher.requests


def read_snapshot(path: Path, label: str) -> Snapshot:
    """A snapshot file, validated; a file that cannot be read is an error naming `label`."""
    return snapshot_from_json(_read(path, label), label)


def _read(path: Path, label: str) -> bytes:
    try:
        return path.read_bytes()  # a file or a pipe (--snapshot /dev/stdin): the user named it
    except OSError as exc:
        raise MarketnewsError(f"{label}: cannot read snapshot: {exc.strerror}") from None


MAX_CACHE_FILE = 512 * 2**20  # an odds cache file larger than this is not one this code wrote


def cache_state(folder: Path | None) -> tuple[int, int]:
    """The odds cache's snapshot file as it stands: (size, modification time in ns), or
    (-1, 0) when there is none. A build that finds it as the last one left it knows the
    cache already holds what that build saved."""
    if folder is None:
        return (-1, 0)
    try:
        st = (folder / CACHE_SNAPSHOT).stat()
    except OSError:
        return (-1, 0)
    return (st.st_size, st.st_mtime_ns)


def _example(sources: OddsSources) -> Mapping[str, Quote]:
    """The example snapshot's quotes, marked as such whatever the file says: they are not live odds."""
    if sources.example is None:
        return {}
    quotes = read_snapshot(sources.example, sources.example_label).quotes
    return {k: replace(q, source=EXAMPLE) for k, q in quotes.items()}


def _note(counts: Mapping[str, int], sources: OddsSources, unavailable: int, trouble: str) -> str:
    labels = {
        "polymarket": "fresh from Polymarket",
        "resolved": "resolved (final, from the cache)",
        "cache": "from the cache",
        "site": f"from {sources.live_site_snapshot}",
        "example": f"from the example snapshot {sources.example_label}",
    }
    shown = {k: n for k, n in counts.items() if n and k in labels}
    example_only = list(shown) == ["example"]
    parts = [] if example_only else [f"{n} {labels[k]}" for k, n in shown.items()]
    cached_example = counts.get("cache-example", 0)
    if cached_example and "cache" in shown:  # the cache may hold the example's odds: say so
        of = "all" if cached_example == shown["cache"] else str(cached_example)
        parts[list(shown).index("cache")] += f" ({of} of them the example's, not live odds)"
    if unavailable:
        parts.append(f"{unavailable} unavailable")
    if example_only:
        line = ", ".join([f"odds from the example snapshot {sources.example_label} (no live odds)", *parts])
    else:
        line = "odds: " + (", ".join(parts) or "no markets referenced")
    if sources.polymarket is None:
        line += " [offline]"
    elif trouble:
        line += f" [Polymarket: {trouble}]"
    return line


def assemble_odds(
    refs: Iterable[MarketRef],
    now: datetime,
    *,
    client: httpx.Client | None,
    sources: OddsSources,
    cache: CachedOdds,
    anchors_wanted: Iterable[AnchorWanted] = (),
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Odds:
    """One snapshot for `refs` at `now` (see the module doc for the order of sources)."""
    refs = sorted(set(refs))
    keys = sorted({r.key for r in refs})
    quotes: dict[str, Quote] = {}
    unknown: frozenset[str] = frozenset()
    missing = cache.anchors_missing
    requests = 0
    trouble = ""
    final: frozenset[str] = frozenset()  # resolved in the cache: passed on by the fetch, not asked for
    if sources.polymarket is not None and client is not None and refs:
        live = fetch_live(
            refs,
            client,
            now=now,
            settings=sources.polymarket,
            previous=cache.quotes,
            anchors_wanted=anchors_wanted,
            anchors_missing=missing,
            sleep=sleep,
            monotonic=monotonic,
        )
        quotes.update(live.quotes)
        unknown, missing, requests, final = live.unknown, live.anchors_missing, live.requests, live.final
        troubles = []
        for why, what in ((live.failed, "failed"), (live.history_failed, "price histories failed")):
            if why:
                reasons = sorted(set(why.values()))
                troubles.append(f"{len(why)} {what} ({reasons[0]}{', ...' if len(reasons) > 1 else ''})")
        trouble = "; ".join(troubles)
    counts = {"polymarket": len(quotes) - len(final), "resolved": len(final)}

    def fill(origin: str, found: Mapping[str, Quote]) -> None:
        added = {k: found[k] for k in keys if k not in quotes and k in found}
        quotes.update(added)
        counts[origin] = len(added)
        if origin == "cache":
            counts["cache-example"] = sum(1 for q in added.values() if q.source == EXAMPLE)

    fill("cache", cache.quotes)
    # Polymarket's "unknown" is an answer; only what failed is worth the live site's snapshot.
    failed = [k for k in keys if k not in quotes and k not in unknown]
    if failed and sources.polymarket is not None and sources.live_site_snapshot and client is not None:
        found, asked = _site_snapshot(sources.live_site_snapshot, client, sleep, monotonic)
        requests += asked
        fill("site", found)
    if len(quotes) < len(keys):
        fill("example", _example(sources))
    # Stamped and labelled by its quotes (see Snapshot.of): the same quotes, the same bytes.
    snapshot = Snapshot.of(quotes, now)
    note = _note(counts, sources, len(keys) - len(quotes), trouble)
    return Odds(snapshot, note, unknown, missing, requests, cache)


# --- what a build asks for, and where it gets it ---------------------------------------


@dataclass(frozen=True)
class Wanted:
    """What a site asks of the snapshot: each market it shows with the date of each
    article showing it (`places`, worked out only when a source asks: a snapshot taken
    once and kept, as the dev server's, never does), and its settings' odds addresses."""

    places: Callable[[], Iterable[tuple[MarketRef, datetime]]]
    gamma_url: str = ""
    clob_url: str = ""
    base_url: str = ""  # the live site, whose /snapshot.json is a fallback
    example: str | None = None  # site.yaml's example_snapshot, relative to the site folder

    @cached_property
    def _places(self) -> tuple[tuple[MarketRef, datetime], ...]:
        return tuple(self.places())

    @property
    def refs(self) -> frozenset[MarketRef]:
        """The site's market references."""
        return frozenset(ref for ref, _ in self._places)

    @property
    def anchors(self) -> tuple[AnchorWanted, ...]:
        """The (market key, article date) pairs whose price at publication the site shows."""
        return tuple(sorted({(ref.key, date) for ref, date in self._places}))


SnapshotSource = Callable[[Wanted, datetime], Odds]


class SiteFolders(Protocol):
    """Where a site is (`root`: the example snapshot is relative to it) and its cache folder."""

    @property
    def root(self) -> Path: ...

    @property
    def cache(self) -> Path | None: ...


def snapshot_from_file(path: Path, label: str | None = None) -> SnapshotSource:
    """A snapshot source that reads one file: no network at all."""

    def load(wanted: Wanted, now: datetime) -> Odds:
        text = _read(path, str(path))
        return Odds(snapshot_from_json(text, str(path)), label or f"snapshot from {path}")

    return load


@dataclass(frozen=True)
class LiveOptions:
    """How the build gets live odds; the overrides come from the environment."""

    offline: bool = False
    gamma_url: str | None = None
    clob_url: str | None = None
    polymarket: PolymarketSettings = PolymarketSettings()  # policies; its URLs are replaced


def live_snapshot_source(
    site: SiteFolders,
    client: httpx.Client | None,
    live: LiveOptions = LiveOptions(),
    sleep: Callable[[float], None] = time.sleep,
) -> SnapshotSource:
    """Live odds from Polymarket, each market falling back to the cache, the live site's
    /snapshot.json and the example snapshot. No network when offline."""

    def load(wanted: Wanted, now: datetime) -> Odds:
        settings = None
        if not live.offline and client is not None:
            settings = replace(live.polymarket, gamma_url=live.gamma_url or wanted.gamma_url,
                               clob_url=live.clob_url or wanted.clob_url)
        sources = OddsSources(
            polymarket=settings,
            live_site_snapshot=f"{wanted.base_url}/snapshot.json",
            example=site.root / wanted.example if wanted.example else None,
            example_label=wanted.example or "",
        )
        return assemble_odds(wanted.refs, now, client=client, sources=sources, cache=load_cache(site.cache),
                             anchors_wanted=wanted.anchors, sleep=sleep)

    return load


def restrict(snapshot: Snapshot, keys: Iterable[str]) -> Snapshot:
    """The snapshot limited to the site's own references (what /snapshot.json publishes)."""
    wanted = set(keys)
    return snapshot.with_quotes({k: q for k, q in snapshot.quotes.items() if k in wanted})


def check_max_stale(snapshot: Snapshot, shown: Iterable[str], now: datetime, max_stale_s: int) -> None:
    """Raise when a market the site shows (keys `shown`) has a quote older than `max_stale_s`.

    Markets with no quote at all are not counted: they are warnings (errors with --strict).
    Resolved quotes are not stale (see `Quote.is_stale`).
    """
    old = stale_quotes(snapshot, shown, now, max_stale_s)
    if old:
        raise MarketnewsError(
            f"--max-stale {duration_text(max_stale_s)}: {len(old)} quote{'s' if len(old) != 1 else ''} older "
            f"than that, the oldest ({old[-1][1]}) as of {age_text(old[-1][0])}; is Polymarket reachable?"
        )


def age_text(seconds: int) -> str:
    hours = seconds // 3600
    if hours < 1:
        return "less than an hour ago"
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = hours // 24
    return f"{days} days ago"


def duration_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

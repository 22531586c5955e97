"""What a page shows of other stories and markets: "More on these markets" at an article's
end, "Biggest moves" on the front page and /markets/. Pure functions; no I/O.

Both take plain values (positions, keys, changes), not views, so that they are cheap to
test and do not depend on how pages are rendered.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MORE_STORIES = 4  # stories at the end of an article
BIGGEST_MOVES = 5  # markets in a "Biggest moves" list
MIN_MOVE = 0.005  # a move under half a point is noise, not news


@dataclass(frozen=True)
class Story:
    """What `more_stories` needs of a story: when it was published (unix seconds), the
    markets it cites and its topics (any keys that compare equal when shared)."""

    when: float
    markets: frozenset[str]
    tags: frozenset[str]


def more_stories(stories: Sequence[Story], limit: int = MORE_STORIES) -> list[tuple[int, ...]]:
    """For each story, the positions of up to `limit` others to read next: first those that
    cite one of its markets, then those that share one of its topics; in each group the
    nearest in publication time first (the newer on a tie).

    Nearest in time, not newest: a new story then joins the lists of the few stories
    published around it, not of every story on its topic, so it does not rewrite the
    whole archive's pages. Each story looks only at its `limit` neighbours on either side
    in each of its markets' and topics' lists, so the work grows with the number of
    stories, not with its square.
    """
    by_market: dict[str, list[int]] = {}
    by_tag: dict[str, list[int]] = {}
    for i, s in enumerate(stories):
        for m in s.markets:
            by_market.setdefault(m, []).append(i)
        for t in s.tags:
            by_tag.setdefault(t, []).append(i)
    def in_time(groups: dict[str, list[int]]) -> dict[str, tuple[list[int], list[float]]]:
        timed = {key: sorted(at, key=lambda i: (stories[i].when, -i)) for key, at in groups.items()}
        return {key: (at, [stories[i].when for i in at]) for key, at in timed.items()}

    order, tag_order = in_time(by_market), in_time(by_tag)

    def near(i: int, keys: frozenset[str], lists: Mapping[str, tuple[list[int], list[float]]],
             skip: set[int]) -> list[int]:
        me = stories[i].when
        found: set[int] = set()
        for key in keys:
            at, whens = lists[key]
            k = bisect.bisect_left(whens, me)
            found.update(at[max(0, k - limit - 1): k + limit + 1])
        found -= skip
        return sorted(found, key=lambda j: (abs(stories[j].when - me), -stories[j].when, j))

    out: list[tuple[int, ...]] = []
    for i, s in enumerate(stories):
        chosen = near(i, s.markets, order, {i})[:limit]
        if len(chosen) < limit:
            chosen += near(i, s.tags, tag_order, {i, *chosen})[: limit - len(chosen)]
        out.append(tuple(chosen))
    return out


@dataclass(frozen=True)
class Move:
    """A market's 24-hour move, as `biggest_moves` ranks it."""

    key: str
    question: str
    change: float | None  # price units: 0.018 = +1.8 points; None when unknown
    current: bool  # open and not stale: its 24-hour move is today's


def biggest_moves(moves: Sequence[Move], limit: int = BIGGEST_MOVES) -> list[int]:
    """Positions of the markets that moved most in 24 hours (at least MIN_MOVE either
    way), largest move first, then by question."""
    ranked = sorted(
        (i for i, m in enumerate(moves) if m.current and m.change is not None and abs(m.change) >= MIN_MOVE),
        key=lambda i: (-abs(moves[i].change or 0.0), moves[i].question.lower(), moves[i].key),
    )
    return ranked[:limit]

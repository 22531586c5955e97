"""More on these markets, Biggest moves and topic names: the pure functions behind them."""

from __future__ import annotations

from marketnews.related import Move, Story, biggest_moves, more_stories
from marketnews.topics import readable, topic_name

HOUR = 3600.0


def story(hours: float, markets: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> Story:
    return Story(hours * HOUR, frozenset(markets), frozenset(tags))


def test_stories_sharing_a_market_come_first_then_a_topic_nearest_in_time_first() -> None:
    stories = [  # newest first, as the site lists them
        story(50, ("fed",), ("economy",)),
        story(40, (), ("economy",)),
        story(30, ("fed",), ("economy",)),
        story(20, ("btc",), ("economy",)),
        story(10, ("fed", "btc"), ()),
    ]
    more = more_stories(stories, limit=3)
    assert more[2] == (0, 4, 1)  # the two on "fed" (equally near: the newer first), then a topic's
    assert more[1] == (0, 2, 3)  # topic only: nearest in time first, the newer on a tie
    assert all(i not in chosen for i, chosen in enumerate(more))


def test_a_story_sharing_nothing_gets_nothing() -> None:
    assert more_stories([story(1, ("a",)), story(2, ("b",))]) == [(), ()]


def test_a_new_story_joins_only_its_neighbours_lists() -> None:
    old = [story(float(i), ("m",)) for i in range(100, 0, -1)]  # 100 stories on one market
    before = more_stories(old, limit=4)
    after = more_stories([story(101, ("m",)), *old], limit=4)
    changed = [i for i, (a, b) in enumerate(zip(before, after[1:], strict=True))
               if [j - 1 for j in b] != list(a)]
    assert len(changed) <= 4  # not every story on the market: the archive's pages stay as they were


def test_biggest_moves_are_current_and_large_largest_first() -> None:
    moves = [Move("a", "A?", 0.02, True), Move("b", "B?", -0.06, True), Move("c", "C?", 0.004, True),
             Move("d", "D?", 0.5, False), Move("e", "E?", None, True), Move("f", "F?", 0.02, True)]
    assert biggest_moves(moves) == [1, 0, 5]
    assert biggest_moves(moves, limit=1) == [1]


def test_topic_names() -> None:
    topics = (("nato", "NATO"), ("us-politics", "U.S. Politics"))
    assert topic_name("nato", topics) == "NATO" and topic_name("NATO", topics) == "NATO"
    assert topic_name("us-politics", topics) == "U.S. Politics"
    assert topic_name("xi-jinping", topics) == "Xi Jinping"
    assert readable("central_banks") == "Central Banks" and readable("iPhone sales") == "iPhone sales"

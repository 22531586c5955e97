"""Gamma objects -> Quote, on every recorded fixture and on broken variants of them."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from marketnews.markets.normalise import (
    event_quote,
    json_list,
    market_quote,
    number,
    probability,
)
from tests.markets.conftest import NOW
from tests.standin import FIXTURES, fixture, squad_event

MARKET_FIXTURES = [
    "market-binary-open",
    "market-binary-open-updown-15m",
    "market-negrisk-member-open",
    "market-closed-resolved",
]
NBA = (
    "nba-will-the-mavericks-beat-the-grizzlies-by-more-than-5pt5-points-in-their-december-4-matchup"
)


def test_every_shared_fixture_is_covered() -> None:
    names = {p.stem for p in FIXTURES.glob("*.json")}
    assert names == {*MARKET_FIXTURES, "event-single-market-closed"}


def test_open_binary_market_uses_the_bid_ask_midpoint() -> None:
    q = market_quote(fixture("market-binary-open"), "xi", NOW)
    assert q.probability == pytest.approx(0.0455)  # (0.045 + 0.046) / 2
    assert q.headline_outcome == "Yes"
    assert [(o.name, round(o.probability or 0, 4)) for o in q.outcomes] == [
        ("Yes", 0.0455),
        ("No", 0.9545),
    ]
    assert q.status == "open" and q.winner is None
    assert q.change_24h == pytest.approx(0.001)
    assert q.volume == pytest.approx(12071015.216477996)
    assert q.end_date == datetime(2026, 12, 31, tzinfo=UTC)
    assert q.url == "https://polymarket.com/market/xi-jinping-out-before-2027"
    assert q.token_id and q.token_id.startswith("32338220190071351435")
    assert q.question == "Xi Jinping out before 2027?"
    assert q.as_of == NOW and q.kind == "market" and q.key == "xi"


def test_up_down_market_headlines_its_first_outcome() -> None:
    q = market_quote(fixture("market-binary-open-updown-15m"), "btc", NOW)
    assert q.headline_outcome == "Up"
    assert q.probability == pytest.approx(0.585)
    assert [o.name for o in q.outcomes] == ["Up", "Down"]
    assert q.outcomes[1].probability == pytest.approx(0.415)
    assert q.change_24h is None  # no oneDayPriceChange key at all
    assert q.token_id and q.token_id.startswith("8851848546")


def test_negrisk_member_without_book_falls_back_to_outcome_prices() -> None:
    q = market_quote(fixture("market-negrisk-member-open"), "squad", NOW)
    assert q.probability == pytest.approx(0.275)
    assert q.url == (
        "https://polymarket.com/event/how-many-members-of-the-squad-will-lose-their-primaries/"
        "will-one-member-of-the-squad-lose-their-primary"
    )
    assert q.volume == pytest.approx(22275.12)


def test_resolved_market_has_its_winner() -> None:
    q = market_quote(fixture("market-closed-resolved"), NBA, NOW)
    assert q.status == "resolved"
    assert q.winner == "No"
    assert q.probability is not None and q.probability < 0.001  # outcomePrices, not the book
    assert q.end_date == datetime(2021, 12, 4, tzinfo=UTC)


def test_market_ref_event_slug_gives_the_url_when_the_market_names_no_event() -> None:
    q = market_quote(fixture("market-binary-open"), "xi", NOW, event_slug="xi-event")
    assert q.url == "https://polymarket.com/event/xi-event/xi-jinping-out-before-2027"


def test_wide_spread_uses_last_trade() -> None:
    raw = fixture("market-binary-open")
    raw.update(bestBid=0.30, bestAsk=0.45, lastTradePrice=0.41)
    assert market_quote(raw, "k", NOW).probability == pytest.approx(0.41)
    raw.update(bestBid=0.30, bestAsk=0.40)  # exactly 0.10: still the midpoint
    assert market_quote(raw, "k", NOW).probability == pytest.approx(0.35)


def test_wide_spread_without_last_trade_falls_back_to_outcome_prices() -> None:
    raw = fixture("market-binary-open")
    raw.update(bestBid=0.10, bestAsk=0.90)
    del raw["lastTradePrice"]
    assert market_quote(raw, "k", NOW).probability == pytest.approx(0.0455)


def test_yes_at_second_index_is_still_the_headline() -> None:
    raw = fixture("market-binary-open")
    raw["outcomes"] = '["No", "Yes"]'
    raw["clobTokenIds"] = '["tok-no", "tok-yes"]'
    q = market_quote(raw, "k", NOW)
    assert q.headline_outcome == "Yes"
    assert q.probability == pytest.approx(1 - 0.0455)
    assert q.token_id == "tok-yes"
    assert q.change_24h == pytest.approx(-0.001)


# The market fields normalise reads: each may be missing or hold anything.
FIELDS = ("outcomes", "outcomePrices", "clobTokenIds", "bestBid", "bestAsk", "lastTradePrice", "volumeNum", "volume",
          "endDate", "question", "slug", "closed", "events", "oneDayPriceChange", "umaResolutionStatuses")


@pytest.mark.parametrize("name", MARKET_FIXTURES)
@pytest.mark.parametrize("field", FIELDS)
def test_a_missing_field_defaults(name: str, field: str) -> None:
    raw = fixture(name)
    raw.pop(field, None)
    q = market_quote(raw, "key", NOW)
    assert q.key == "key" and q.question and q.url.startswith("https://polymarket.com/")
    assert q.probability is None or 0 <= q.probability <= 1
    assert len(q.outcomes) >= 1


GARBAGE: list[Any] = [
    None,
    "",
    "not json",
    '["a"',
    "{}",
    17,
    [],
    ["x", None],
    True,
    "NaN",
    {"a": 1},
]


@pytest.mark.parametrize("name", MARKET_FIXTURES)
@pytest.mark.parametrize("junk", GARBAGE)
def test_garbage_values_never_crash(name: str, junk: Any) -> None:
    raw = fixture(name)
    for field in FIELDS:
        raw[field] = copy.deepcopy(junk)
    q = market_quote(raw, "key", NOW)
    assert q.probability is None or 0 <= q.probability <= 1
    assert q.volume is None or isinstance(q.volume, float)
    assert q.end_date is None or q.end_date.tzinfo is not None


def test_empty_object_is_a_quote_with_defaults() -> None:
    q = market_quote({}, "lonely", NOW)
    assert q.question == "lonely"
    assert q.url == "https://polymarket.com/market/lonely"
    assert q.probability is None and q.status == "open"
    assert [o.name for o in q.outcomes] == ["Yes", "No"]


def test_everything_missing_but_last_trade() -> None:
    raw = {"slug": "m", "lastTradePrice": 0.33}
    assert market_quote(raw, "m", NOW).probability == pytest.approx(0.33)


def test_out_of_range_prices_are_ignored() -> None:
    raw = fixture("market-binary-open")
    raw.update(bestBid=-3, bestAsk=7, outcomePrices='["1.7", "-0.7"]', lastTradePrice=2)
    q = market_quote(raw, "k", NOW)
    assert q.probability is None


def test_closed_without_a_clear_winner_is_closed() -> None:
    raw = fixture("market-binary-open")
    raw["closed"] = True
    q = market_quote(raw, "k", NOW)
    assert q.status == "closed" and q.winner is None
    assert q.probability == pytest.approx(0.0455)  # outcomePrices once closed


def test_uma_resolved_flag_resolves_even_with_lagging_closed_flag() -> None:
    raw = fixture("market-binary-open")
    raw.update(umaResolutionStatus="resolved", outcomePrices='["1", "0"]')
    q = market_quote(raw, "k", NOW)
    assert q.status == "resolved" and q.winner == "Yes"


def test_open_market_at_999_is_still_open() -> None:
    raw = fixture("market-binary-open")
    raw.update(outcomePrices='["0.999", "0.001"]', bestBid=0.998, bestAsk=0.999)
    q = market_quote(raw, "k", NOW)
    assert q.status == "open" and q.winner is None


def test_single_market_event_is_that_markets_quote_under_the_event_key() -> None:
    q = event_quote(fixture("event-single-market-closed"), f"event/{NBA}", NOW)
    assert q.key == f"event/{NBA}"
    assert q.kind == "market"
    assert q.status == "resolved" and q.winner == "No"
    assert q.url == f"https://polymarket.com/event/{NBA}"


def test_multi_outcome_event_ranks_its_members() -> None:
    q = event_quote(squad_event(), "event/squad", NOW)
    assert q.kind == "event"
    assert [o.name for o in q.outcomes] == ["2", "1", "3+", "0"]
    assert [o.probability for o in q.outcomes] == pytest.approx([0.40, 0.275, 0.175, 0.15])
    assert q.headline_outcome == "2" and q.probability == pytest.approx(0.40)
    assert q.volume == pytest.approx(128577.712003)  # the event's, not a member's
    assert q.outcomes[0].url == (
        "https://polymarket.com/event/how-many-members-of-the-squad-will-lose-their-primaries/"
        "squad-primaries-2"
    )
    assert q.url == (
        "https://polymarket.com/event/how-many-members-of-the-squad-will-lose-their-primaries"
    )
    assert q.question == 'How many "Squad" members will lose their primaries?'
    assert q.token_id == "92001" and q.status == "open"


def test_event_ties_are_broken_by_threshold() -> None:
    raw = squad_event()
    for m in raw["markets"]:
        m["outcomePrices"] = '["0.25", "0.75"]'
    raw["markets"].reverse()
    q = event_quote(raw, "event/squad", NOW)
    assert [o.name for o in q.outcomes] == ["0", "1", "2", "3+"]


def test_event_member_without_group_title_uses_its_question() -> None:
    raw = squad_event()
    del raw["markets"][2]["groupItemTitle"]
    q = event_quote(raw, "event/squad", NOW)
    assert q.outcomes[0].name == "Will 2 members of The Squad lose their primary?"


def test_resolved_event_has_the_winning_member() -> None:
    q = event_quote(squad_event(winner=1), "event/squad", NOW)
    assert q.status == "resolved"
    assert q.winner == "1" and q.headline_outcome == "1"
    assert q.probability == pytest.approx(1.0)


def test_event_with_garbage_markets_does_not_crash() -> None:
    raw = squad_event()
    raw["markets"] = ["junk", None, {"slug": 5}, *raw["markets"][:2]]
    q = event_quote(raw, "event/squad", NOW)
    assert q.kind == "event"
    assert len(q.outcomes) == 3
    raw["markets"] = "nope"
    assert event_quote(raw, "event/squad", NOW).outcomes == ()


def test_field_readers() -> None:
    assert json_list('["a", "b"]') == ["a", "b"]
    assert json_list('{"a": 1}') == [] and json_list(None) == [] and json_list("[") == []
    assert number("12.5") == 12.5 and number(True) is None and number("inf") is None
    assert probability("0.9999999") == pytest.approx(0.9999999)
    assert probability(1.0000001) == 1.0 and probability(1.2) is None


def test_fixture_is_the_real_wire_shape() -> None:
    # JSON arrays inside strings, prices as strings inside: the trap the readers exist for.
    raw = json.loads((FIXTURES / "market-binary-open.json").read_text())
    assert isinstance(raw["outcomePrices"], str)
    assert isinstance(json.loads(raw["outcomePrices"])[0], str)

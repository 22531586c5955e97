import bisect
import json
import pickle
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from marketnews.errors import SnapshotError
from marketnews.markets.model import (
    Outcome,
    Quote,
    Series,
    Snapshot,
    snapshot_digest,
    snapshot_from_json,
    snapshot_to_json,
)
from tests.conftest import quote, snapshot_doc

T0 = datetime(2026, 11, 21, 16, tzinfo=UTC)
T1, T2 = int(T0.timestamp()) - 3600, int(T0.timestamp())


def test_round_trip_is_exact_and_deterministic() -> None:
    q = Quote(key="m", question="Q?", url="https://polymarket.com/event/e/m", as_of=T0, probability=0.0455,
              headline_outcome="Yes", outcomes=(Outcome("Yes", 0.0455), Outcome("No", 0.9545)), change_24h=-0.0123,
              volume=1234.57, end_date=T0, history=((T1, 0.5), (T2, 0.25)), anchors=((T2 + 1, 0.1),))
    snap = Snapshot(taken_at=T0, quotes={"m": q}, source="test")
    text = snapshot_to_json(snap)
    assert snapshot_to_json(snapshot_from_json(text)) == text
    assert snapshot_from_json(text).quotes["m"] == q
    assert snapshot_to_json(snap, pretty=True) != text
    assert json.loads(snapshot_to_json(snap, pretty=True)) == json.loads(text)


def test_missing_optional_fields_default() -> None:
    doc = snapshot_doc({"m": {"question": "Q?", "url": "https://polymarket.com/event/m"}})
    q = snapshot_from_json(json.dumps(doc)).quotes["m"]
    assert (q.status, q.probability, q.outcomes, q.history, q.as_of) == ("open", None, (), (), T0)


def test_every_problem_is_listed() -> None:
    doc = snapshot_doc({
        "a": quote("A", probability=3.5),
        "b": quote("B", status="sleeping"),
        "c": {"url": "u"},
        "d": quote("D", history=[[1, "x"]]),
    })
    with pytest.raises(SnapshotError) as err:
        snapshot_from_json(json.dumps(doc), "snap.json")
    text = str(err.value)
    for fragment in ("quotes.a.probability", "quotes.b.status", "quotes.c.question", "quotes.d.history"):
        assert f"snap.json: {fragment}" in text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("{", "not valid JSON"), ('{"format": "other"}', "format"),
     ('{"format": "marketnews-snapshot", "version": 9}', "version: expected 1"),
     ('{"format": "marketnews-snapshot", "version": 1, "taken_at": "soon", "quotes": {}}', "taken_at"),
     ("[" * 100_000 + "]" * 100_000, "nested too deep to read"),
     ('{"format": "marketnews-snapshot", "version": 1, "taken_at": "0001-01-01T00:00:00Z", "quotes": {}}',
      "taken_at: expected a time between 2000 and 2200"),
     ('{"format": "marketnews-snapshot", "version": 1, "taken_at": "9999-12-31T23:59:59-23:59", "quotes": {}}',
      "taken_at: expected an ISO 8601 time")],
)
def test_not_a_snapshot(text: str, fragment: str) -> None:
    with pytest.raises(SnapshotError, match=fragment):
        snapshot_from_json(text)


def test_price_at_uses_nearest_point_within_tolerance() -> None:
    q = Quote(key="m", question="Q", url="u", as_of=T0, history=((1000, 0.1), (4600, 0.2)), anchors=((20000, 0.9),))
    assert q.price_at(datetime.fromtimestamp(1100, UTC)) == 0.1
    assert q.price_at(datetime.fromtimestamp(4000, UTC)) == 0.2
    assert q.price_at(datetime.fromtimestamp(19000, UTC)) == 0.9
    assert q.price_at(datetime.fromtimestamp(100000, UTC)) is None


def test_history_is_written_in_columns_and_read_in_either_form() -> None:
    pairs = snapshot_doc({"m": quote("Q", history=[[T2, 0.25], [T1, 0.5]])})
    snap = snapshot_from_json(json.dumps(pairs))
    assert snap.quotes["m"].history == ((T1, 0.5), (T2, 0.25))
    written = json.loads(snapshot_to_json(snap))["quotes"]["m"]["history"]
    assert written == {"t": [T1, T2], "p": [0.5, 0.25]}
    assert snapshot_from_json(snapshot_to_json(snap)).quotes["m"].history == ((T1, 0.5), (T2, 0.25))
    for bad in ({"t": [1, 2], "p": [0.5]}, {"t": ["1"], "p": [0.5]}, {"t": [1], "p": ["x"]}, "nope"):
        with pytest.raises(SnapshotError, match="quotes.m.history"):
            snapshot_from_json(json.dumps(snapshot_doc({"m": quote("Q", history=bad)})))


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("history", {"t": [T1], "p": [float("nan")]}, "quotes.m.history"),
        ("history", {"t": [T1], "p": [1.5]}, "quotes.m.history"),
        ("history", {"t": [10**15], "p": [0.5]}, "quotes.m.history"),
        ("history", {"t": [-(10**15)], "p": [0.5]}, "quotes.m.history"),
        # A price stamped after the snapshot was taken would end the market's chart there.
        ("history", {"t": [T1, 7258000000], "p": [0.5, 0.9]},
         "quotes.m.history: a price stamped 2199-12-30T15:06:40Z, more than an hour after the snapshot's taken_at "
         "(2026-11-21T16:00:00Z)"),
        ("anchors", {"t": [T2 + 3601], "p": [0.9]}, "quotes.m.anchors: a price stamped 2026-11-21T17:00:01Z"),
        ("end_date", "0001-01-01T00:00:00+01:00", "quotes.m.end_date"),
        ("as_of", "9999-12-31T23:59:59Z", "quotes.m.as_of"),
        ("probability", -0.5, "quotes.m.probability: expected a number from 0 to 1"),
        # Numbers too large for a float: refused as out of range, not an OverflowError.
        ("probability", 10**400, "quotes.m.probability: expected a number from 0 to 1"),
        ("change_24h", -(10**400), "quotes.m.change_24h: expected a number from -1 to 1"),
        ("history", {"t": [T1, T2], "p": [0.5, 10**400]}, "quotes.m.history"),
        ("volume", 10**400, "quotes.m.volume"),
        ("url", "javascript:alert(1)", "quotes.m.url: expected an https:// URL"),
        ("outcomes", [{"name": "Yes", "probability": 0.5, "url": "javascript:x"}], "quotes.m.outcomes"),
    ],
)
def test_out_of_range_data_is_refused_not_crashed_on(field: str, value: object, fragment: str) -> None:
    with pytest.raises(SnapshotError, match=re.escape(fragment)):
        snapshot_from_json(json.dumps(snapshot_doc({"m": quote("Q", **{field: value})})))


def test_a_price_stamped_within_the_hour_after_the_snapshot_is_a_clock_that_differs_a_little() -> None:
    doc = snapshot_doc({"m": quote("Q", history={"t": [T1, T2 + 3600], "p": [0.5, 0.6]})})
    snap = snapshot_from_json(json.dumps(doc))
    assert snap.quotes["m"].history[-1] == (T2 + 3600, 0.6)


def test_the_two_characters_xml_cannot_hold_become_the_replacement_character() -> None:
    q = snapshot_from_json(json.dumps(snapshot_doc({"m": quote("Xi out\uffff or \ufffe?")}))).quotes["m"]
    assert q.question == "Xi out\ufffd or \ufffd?"


def test_a_negative_change_is_fine_and_control_characters_are_dropped() -> None:
    doc = snapshot_doc({"m": quote("Q\u0001 and\u001b more", change_24h=-0.25,
                                   outcomes=[{"name": "Y\u0007es", "probability": 0.5, "url": None}])})
    q = snapshot_from_json(json.dumps(doc)).quotes["m"]
    assert (q.question, q.change_24h, q.outcomes[0].name) == ("Q and more", -0.25, "Yes")


def test_price_at_agrees_with_a_plain_search_for_the_nearest_point() -> None:
    import random

    rng = random.Random(3)
    for _ in range(200):
        times = sorted(rng.sample(range(0, 40000, 100), rng.randint(1, 12)))
        points = tuple((t, round(rng.random(), 4)) for t in times)
        q = Quote(key="m", question="Q", url="u", as_of=T0, history=points)
        for ts in rng.sample(range(-5000, 50000, 50), 30):
            nearest = min(points, key=lambda pt: (abs(pt[0] - ts), pt[0]))  # the earlier one on a tie
            expected = nearest[1] if abs(nearest[0] - ts) <= 3 * 3600 else None
            assert q.price_at(datetime.fromtimestamp(ts, UTC)) == expected, (points, ts)


def test_a_series_is_the_sequence_of_points_it_was_made_of() -> None:
    points = ((1000, 0.25), (4600, 0.5), (8200, 0.125))
    series = Series(points)
    assert series == points and tuple(series) == points and list(series) == list(points)
    assert len(series) == 3 and series[1] == (4600, 0.5) and series[-1] == (8200, 0.125)
    assert series[1:] == points[1:] and isinstance(series[1:], Series)
    assert series == Series.columns([1000, 4600, 8200], [0.25, 0.5, 0.125])
    assert hash(series) == hash(Series(points)) == hash(points) and series != Series(points[:2])
    assert {points: 1}[series] == 1  # a key as the tuple it equals
    assert series != points[:2] and series != list(points)  # a tuple of the same points only
    assert pickle.loads(pickle.dumps(series)) == series
    assert bisect.bisect_left(series, (4600, -1.0)) == 1  # searched as the tuple would be
    assert not Series() and Series() == ()


def test_a_quote_keeps_any_history_as_a_series_and_equals_one_made_from_a_tuple() -> None:
    made = Quote(key="m", question="Q", url="u", as_of=T0, history=((1000, 0.1), (4600, 0.2)))
    assert type(made.history) is Series and type(made.anchors) is Series
    assert made == Quote(key="m", question="Q", url="u", as_of=T0, history=Series(((1000, 0.1), (4600, 0.2))))
    assert hash(made) == hash(replace(made))


def test_price_at_sorts_a_history_given_out_of_order() -> None:
    q = Quote(key="m", question="Q", url="u", as_of=T0, history=((4600, 0.2), (1000, 0.1)))
    assert q.price_at(datetime.fromtimestamp(1100, UTC)) == 0.1
    assert q.price_at(datetime.fromtimestamp(4500, UTC)) == 0.2


def test_the_digest_of_a_snapshot_differs_whenever_its_json_does() -> None:
    # A build's site key names a snapshot not read from a file by this digest, not its JSON:
    # any change the JSON shows (and so /snapshot.json and the pages) must change it too.
    q = Quote(key="m", question="Q?", url="https://polymarket.com/event/e/m", as_of=T0, probability=0.25,
              headline_outcome="Yes", outcomes=(Outcome("Yes", 0.25), Outcome("No", 0.75)), change_24h=0.01,
              volume=10.0, end_date=T0, winner=None, token_id="1", history=((T1, 0.5), (T2, 0.25)),
              anchors=((T2 + 1, 0.1),), source="polymarket")
    other = replace(q, key="n", question="Other?")
    snap = Snapshot(taken_at=T0, quotes={"m": q, "n": other}, source="polymarket")
    same = snapshot_from_json(snapshot_to_json(snap))
    assert snapshot_digest(same) == snapshot_digest(snap)  # made again from its own JSON: the same
    assert snapshot_digest(Snapshot(T0, {"n": other, "m": q}, "polymarket")) == snapshot_digest(snap)
    changes = [
        {"question": "Q, again?"}, {"url": "https://polymarket.com/event/e/n"}, {"as_of": T0.replace(minute=5)},
        {"kind": "event"}, {"status": "closed"}, {"probability": 0.26}, {"probability": None},
        {"headline_outcome": "No"}, {"outcomes": (Outcome("Yes", 0.25),)},
        {"outcomes": (Outcome("Yes", 0.3), Outcome("No", 0.7))},
        {"change_24h": -0.01}, {"volume": 11.0}, {"end_date": None}, {"winner": "Yes"}, {"token_id": "2"},
        {"history": ((T1, 0.5), (T2, 0.26))}, {"history": ((T1, 0.5),)}, {"history": ((T1 - 1, 0.5), (T2, 0.25))},
        {"anchors": ()}, {"anchors": ((T2 + 1, 0.2),)}, {"source": "example"},
    ]
    seen = {snapshot_digest(snap)}
    for change in changes:
        changed = Snapshot(T0, {"m": replace(q, **change), "n": other}, "polymarket")
        assert snapshot_to_json(changed) != snapshot_to_json(snap), change  # (each change shows in the JSON)
        seen.add(snapshot_digest(changed))
    wholes = (replace(snap, taken_at=T0.replace(hour=17)), replace(snap, source="file"),
              Snapshot(T0, {"m": q}, "polymarket"), Snapshot(T0, {"m": q, "o": replace(other, key="o")}, "polymarket"))
    for whole in wholes:
        assert snapshot_to_json(whole) != snapshot_to_json(snap)
        seen.add(snapshot_digest(whole))
    assert len(seen) == 1 + len(changes) + 4

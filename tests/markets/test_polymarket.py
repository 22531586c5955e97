"""The provider end to end: refs -> quotes with histories and anchors, then the next build."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx

from marketnews.markets.httpjson import HttpPolicy
from marketnews.markets.polymarket import PolymarketSettings, fetch_live
from marketnews.markets.refs import parse_ref
from tests.markets.conftest import NOW, Sleeps
from tests.standin import StandIn

XI = "xi-jinping-out-before-2027"
NBA = (
    "nba-will-the-mavericks-beat-the-grizzlies-by-more-than-5pt5-points-in-their-december-4-matchup"
)
SQUAD = "how-many-members-of-the-squad-will-lose-their-primaries"


def settings(server: StandIn) -> PolymarketSettings:
    fast = HttpPolicy(read_timeout_s=2, budget_s=10, rate_per_s=0)
    return PolymarketSettings(gamma_url=server.url, clob_url=server.url, gamma=fast, clob=fast)


def test_cold_then_hourly(standin: StandIn, client: httpx.Client, sleeps: Sleeps) -> None:
    refs = [parse_ref(t) for t in (XI, NBA, f"polymarket.com/event/{SQUAD}", "nope")]
    published = NOW - timedelta(days=10)
    cold = fetch_live(
        refs,
        client,
        now=NOW,
        settings=settings(standin),
        sleep=sleeps,
        anchors_wanted=[(XI, published), (f"event/{SQUAD}", published)],
    )
    assert set(cold.quotes) == {XI, NBA, f"event/{SQUAD}"} and cold.unknown == {"nope"}
    assert all(q.history for q in cold.quotes.values())
    assert cold.quotes[XI].price_at(published) is not None
    assert cold.history_requests == 3  # one a market: its history and its price when published at once
    assert cold.quote_requests == 4
    asked = {token: (start, end, fidelity) for token, start, end, fidelity in standin.asked}
    xi_token = cold.quotes[XI].token_id or ""
    assert asked[xi_token] == (int(published.timestamp()) - 3 * 3600, int(NOW.timestamp()), 60)
    nba = cold.quotes[NBA]  # closed: the whole series at 12 hours, the finest the CLOB has for it
    assert nba.status == "resolved" and nba.history and asked[nba.token_id or ""][2] == 720

    later = NOW + timedelta(hours=1)
    previous = {k: replace(q, as_of=NOW) for k, q in cold.quotes.items()}
    standin.log.clear()
    hourly = fetch_live(
        refs,
        client,
        now=later,
        settings=settings(standin),
        sleep=sleeps,
        previous=previous,
        anchors_wanted=[(XI, published), (f"event/{SQUAD}", published)],
        anchors_missing=cold.anchors_missing,
    )
    assert hourly.history_requests == 0  # histories extended, anchors known, resolved reused
    assert hourly.quote_requests == 4 == standin.count()
    assert NBA not in "".join(standin.requests())
    assert hourly.quotes[XI].anchors == cold.quotes[XI].anchors
    assert hourly.quotes[XI].history[-1][0] > cold.quotes[XI].history[-1][0]
    assert hourly.quotes[NBA].winner == "No" and hourly.quotes[NBA].as_of == cold.quotes[NBA].as_of  # kept as taken


def test_history_outage_keeps_the_odds(
    standin: StandIn, client: httpx.Client, sleeps: Sleeps
) -> None:
    standin.fault("503", "/prices-history", times=None)
    result = fetch_live([parse_ref(XI)], client, now=NOW, settings=settings(standin), sleep=sleeps)
    assert result.quotes[XI].probability is not None
    assert result.quotes[XI].history == ()
    assert "HTTP 503" in result.history_failed[XI]


def test_histories_can_be_switched_off(
    standin: StandIn, client: httpx.Client, sleeps: Sleeps
) -> None:
    s = replace(settings(standin), histories=False)
    result = fetch_live([parse_ref(XI)], client, now=NOW, settings=s, sleep=sleeps)
    assert result.requests == 1 and result.quotes[XI].history == ()


def test_histories_and_anchors_share_one_request_and_fetcher(standin: StandIn, client: httpx.Client, sleeps: Sleeps,
                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One fetcher: one CLOB time budget and one rate-limit window; one request for both series."""
    from marketnews.markets import clob, gamma, httpjson, polymarket

    made: list[float] = []

    class Counting(httpjson.Fetcher):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            made.append(self.policy.budget_s)

    for module in (clob, gamma, polymarket):
        monkeypatch.setattr(module, "Fetcher", Counting, raising=False)
    result = fetch_live([parse_ref(XI)], client, now=NOW, settings=settings(standin), sleep=sleeps,
                        anchors_wanted=[(XI, NOW - timedelta(days=10))])
    assert result.history_requests == 1  # a history and an anchor, in one request
    assert len(made) == 2  # Gamma's and the CLOB's


def test_the_clob_budget_is_a_ceiling_and_what_it_cuts_off_is_named() -> None:
    """A slow CLOB (a MockTransport whose every answer costs 1 s of a virtual clock) meets
    the 60 s ceiling: the quotes stay, the histories past it fail with the reason, and the
    build's odds line says so."""
    import json as jsonlib

    from marketnews.markets.snapshots import CachedOdds, OddsSources, assemble_odds
    from tests.standin import synthetic_market

    clock = [0.0]
    markets = [synthetic_market(i) for i in range(80)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/markets":
            wanted = set(request.url.params.get_list("slug"))
            return httpx.Response(200, json=[m for m in markets if m["slug"] in wanted])
        clock[0] += 1.0
        points = [{"t": 1795276800 - 3600 * k, "p": 0.5} for k in (4, 5)]
        return httpx.Response(200, content=jsonlib.dumps({"history": points}).encode())

    policy = HttpPolicy(concurrency=1, rate_per_s=0, budget_s=60.0, attempts=1)
    s = PolymarketSettings(gamma_url="https://gamma.test", clob_url="https://clob.test", clob=policy)
    with httpx.Client(transport=httpx.MockTransport(handler)) as mock:
        odds = assemble_odds([parse_ref(str(m["slug"])) for m in markets], NOW, client=mock,
                             sources=OddsSources(polymarket=s), cache=CachedOdds(),
                             sleep=lambda _: None, monotonic=lambda: clock[0])
    assert len(odds.snapshot.quotes) == 80 and all(q.probability for q in odds.snapshot.quotes.values())
    with_history = sum(1 for q in odds.snapshot.quotes.values() if q.history and len(q.history) > 1)
    assert 55 <= with_history <= 60  # what fitted in 60 s of 1 s answers
    assert f"{80 - with_history} price histories failed (time budget of 60 s exhausted)" in odds.note

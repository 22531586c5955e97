"""Gamma lookups with the real httpx client against the local stand-in, and MockTransport."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from marketnews.markets.gamma import batches, fetch_quotes
from marketnews.markets.httpjson import HttpPolicy
from marketnews.markets.refs import MarketRef, parse_ref
from tests.markets.conftest import NOW, Sleeps
from tests.standin import StandIn, synthetic_market

XI = "xi-jinping-out-before-2027"
BTC = "btc-updown-15m-1767200400"
NBA = (
    "nba-will-the-mavericks-beat-the-grizzlies-by-more-than-5pt5-points-in-their-december-4-matchup"
)
SQUAD = "how-many-members-of-the-squad-will-lose-their-primaries"
FAST = HttpPolicy(read_timeout_s=2.0, connect_timeout_s=2.0, budget_s=10.0, rate_per_s=0)


def refs(*texts: str) -> list[MarketRef]:
    return [parse_ref(t) for t in texts]


def fetch(standin: StandIn, client: httpx.Client, sleeps: Sleeps, rs: list[MarketRef], **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("policy", FAST)
    return fetch_quotes(rs, client, gamma_url=standin.url, now=NOW, sleep=sleeps, **kw)


def test_fetches_markets_events_and_resolved_markets(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    rs = refs(
        XI,
        f"https://polymarket.com/event/btc-up-or-down/{BTC}",
        NBA,  # closed: only found with closed=true
        f"polymarket.com/event/{NBA}",  # the single-market event
        SQUAD,  # a bare slug that is an event
        f"https://polymarket.com/event/{SQUAD}",
        "no-such-market",
    )
    result = fetch(standin, client, sleeps, rs)
    assert set(result.quotes) == {XI, BTC, NBA, f"event/{NBA}", SQUAD, f"event/{SQUAD}"}
    assert result.unknown == {"no-such-market"}
    assert result.failed == {}
    assert result.quotes[XI].probability == pytest.approx(0.0455)
    assert result.quotes[BTC].url == f"https://polymarket.com/event/btc-up-or-down/{BTC}"
    assert result.quotes[NBA].status == "resolved" and result.quotes[NBA].winner == "No"
    assert result.quotes[f"event/{NBA}"].winner == "No"
    assert result.quotes[SQUAD].kind == "event"
    assert [o.name for o in result.quotes[f"event/{SQUAD}"].outcomes] == ["2", "1", "3+", "0"]
    assert all(q.as_of == NOW for q in result.quotes.values())
    # markets open, markets closed, events open, events closed: one request each
    assert result.requests == 4 == standin.count()
    assert sleeps.calls == []


def test_the_closed_trap(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    # Asked plainly, the stand-in (like Gamma) hides the closed market...
    plain = client.get(f"{standin.url}/markets", params={"slug": NBA}).json()
    assert plain == []
    # ...so the provider asks for closed markets explicitly, only for what is missing.
    result = fetch(standin, client, sleeps, refs(NBA, XI))
    assert result.quotes[NBA].winner == "No"
    closed_calls = standin.requests("/markets?closed=true")
    assert len(closed_calls) == 1 and XI not in closed_calls[0] and NBA in closed_calls[0]


def test_duplicate_refs_are_fetched_once(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    rs = refs(XI, XI, f"polymarket.com/event/xi-event/{XI}", XI.upper())
    result = fetch(standin, client, sleeps, rs)
    assert list(result.quotes) == [XI]
    # the /event/E/M form wins: its event slug gives the URL
    assert result.quotes[XI].url == f"https://polymarket.com/event/xi-event/{XI}"
    assert standin.requests("/markets")[0].count("slug=") == 1
    assert result.requests == 1


def test_batches_fit_the_url_limit() -> None:
    slugs = [f"some-market-number-{i}-with-a-longish-slug" for i in range(500)]
    base = "https://gamma-api.polymarket.com/markets"
    groups = batches(base, slugs, [("closed", "false")], 2000)
    assert sum(len(g) for g in groups) == 500 and len(groups) > 5
    for g in groups:
        url = httpx.URL(base, params=[("closed", "false"), *(("slug", s) for s in g)])
        assert len(str(url)) <= 2000
    # each batch is as full as it can be: one more slug would not fit
    first = groups[0] + [groups[1][0]]
    url = httpx.URL(base, params=[("closed", "false"), *(("slug", s) for s in first)])
    assert len(str(url)) > 2000


def test_many_markets_are_batched_by_url_length(client, sleeps) -> None:  # type: ignore[no-untyped-def]
    markets = [synthetic_market(i) for i in range(300)]
    with StandIn(markets) as server:
        rs = [MarketRef(m["slug"], "any", m["slug"]) for m in markets]
        result = fetch(server, client, sleeps, rs, max_url_bytes=4000)
        assert len(result.quotes) == 300 and not result.unknown and not result.failed
        lines = server.requests("/markets")
        assert len(lines) == result.requests >= 300 * 60 // 4000
        assert all(len(server.url) + len(line) <= 4000 for line in lines)


def test_an_over_long_url_answered_414_is_split(client, sleeps) -> None:  # type: ignore[no-untyped-def]
    markets = [synthetic_market(i) for i in range(40)]
    with StandIn(markets, max_url=1200) as server:
        rs = [MarketRef(m["slug"], "any", m["slug"]) for m in markets]
        result = fetch(server, client, sleeps, rs, max_url_bytes=100_000)
        assert len(result.quotes) == 40 and not result.failed
        assert server.count("/markets") > 1
        assert any(len(p) > 1200 for p in server.requests("/markets"))  # the refused one


def test_a_500_is_retried_with_backoff(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("500", "/markets", times=2)
    result = fetch(standin, client, sleeps, refs(XI))
    assert XI in result.quotes and not result.failed
    assert result.requests == 3
    # Each wait is between half and all of its ceiling, which doubles from the policy's backoff.
    base = FAST.backoff_s
    assert len(sleeps.calls) == 2
    assert base / 2 <= sleeps.calls[0] <= base <= sleeps.calls[1] <= 2 * base


def test_persistent_5xx_fails_the_batch_not_the_run(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("503", "/markets", times=None)
    result = fetch(standin, client, sleeps, refs(XI, BTC, f"polymarket.com/event/{SQUAD}"))
    assert result.failed == {XI: "HTTP 503 after 4 attempts", BTC: "HTTP 503 after 4 attempts"}
    assert list(result.quotes) == [f"event/{SQUAD}"]  # events still answer
    assert standin.count("/markets") == 4


def test_429_honours_retry_after(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("429", "/markets", times=1, retry_after="2")
    result = fetch(standin, client, sleeps, refs(XI))
    assert XI in result.quotes
    assert sleeps.calls == [2.0]


def test_retry_after_past_the_budget_fails_at_once(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("429", "/markets", times=None, retry_after="3600")
    result = fetch(standin, client, sleeps, refs(XI))
    assert "would pass the time budget" in result.failed[XI]
    assert sleeps.calls == [] and result.requests == 1


def test_a_hanging_response_times_out_and_fails(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("hang", "/events", times=None, hang_s=5.0)
    policy = replace(FAST, read_timeout_s=1.0, attempts=2)  # the /markets request must not time out
    result = fetch(
        standin, client, sleeps, refs(XI, f"polymarket.com/event/{SQUAD}"), policy=policy
    )
    assert XI in result.quotes
    assert "ReadTimeout" in result.failed[f"event/{SQUAD}"]
    assert standin.count("/events") == 2


def test_the_time_budget_abandons_remaining_work(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("hang", "/markets", times=None, hang_s=5.0)
    # A budget long enough for the first request to start within it on a busy machine: the
    # request's read timeout is cut to the budget's end, and no retry starts past it.
    policy = replace(FAST, read_timeout_s=30.0, budget_s=2.0)
    result = fetch(standin, client, sleeps, refs(XI, BTC), policy=policy)
    assert set(result.failed) == {XI, BTC}
    assert not result.quotes
    assert result.requests == 1  # the one that hung; no retry was started past the budget


@pytest.mark.parametrize("kind", ["html", "garbage", "403"])
def test_a_bad_body_fails_that_batch(standin, client, sleeps, kind: str) -> None:  # type: ignore[no-untyped-def]
    standin.fault(kind, "/markets", times=1)
    result = fetch(standin, client, sleeps, refs(XI, f"polymarket.com/event/{SQUAD}"))
    assert XI in result.failed and XI not in result.quotes
    assert f"event/{SQUAD}" in result.quotes
    assert standin.count("/markets") == 1  # not retried
    assert {"html": "not JSON", "garbage": "expected a JSON array", "403": "HTTP 403"}[kind] in (
        result.failed[XI]
    )


def test_a_dropped_connection_is_retried(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("drop", "/markets", times=1)
    result = fetch(standin, client, sleeps, refs(XI))
    assert XI in result.quotes and result.requests == 2 and len(sleeps.calls) == 1


def test_partial_results_leave_the_rest_fresh(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    standin.fault("partial", "/markets", times=1)
    result = fetch(standin, client, sleeps, refs(XI, BTC))
    assert len(result.quotes) == 1
    assert len(result.unknown) == 1  # what Gamma left out looks like an unknown slug
    assert result.failed == {}


def test_resolved_quotes_in_the_cache_need_no_request(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    first = fetch(standin, client, sleeps, refs(NBA, XI))
    old = {k: replace(q, as_of=NOW.replace(hour=1)) for k, q in first.quotes.items()}
    again = fetch(standin, client, sleeps, refs(NBA, XI), settled=old)
    assert again.quotes[NBA].winner == "No" and again.quotes[NBA].as_of == old[NBA].as_of  # kept as taken
    assert again.requests == 1  # only the open market, and it was found at once
    assert NBA not in standin.requests("/markets")[-1]


def test_market_url_ref_not_found_is_unknown_without_event_lookup(standin, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    result = fetch(standin, client, sleeps, refs("polymarket.com/event/e/gone-market"))
    assert result.unknown == {"gone-market"}
    assert standin.count("/events") == 0


def test_mock_transport_objects_of_the_wrong_shape_are_skipped(sleeps) -> None:  # type: ignore[no-untyped-def]
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("closed") == "false":
            items = ["junk", 3, None, {"slug": XI, "outcomePrices": '["0.5"]'}, {"slug": "other"}]
            return httpx.Response(200, text=json.dumps(items))
        return httpx.Response(200, json=[])

    with httpx.Client(transport=httpx.MockTransport(handler)) as c:
        result = fetch_quotes(
            refs(XI, "b"), c, gamma_url="http://gamma.test", now=NOW, policy=FAST, sleep=sleeps
        )
    assert result.quotes[XI].probability == 0.5
    assert result.unknown == {"b"}


def test_mock_transport_connect_errors_are_retried_then_reported(sleeps) -> None:  # type: ignore[no-untyped-def]
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(handler)) as c:
        result = fetch_quotes(
            refs(XI), c, gamma_url="http://gamma.test", now=NOW, policy=FAST, sleep=sleeps
        )
    assert result.failed[XI] == "ConnectError: connection refused after 4 attempts"
    assert len(calls) == 4 and len(sleeps.calls) == 3
    assert all(0 < s <= FAST.max_backoff_s for s in sleeps.calls)


def test_no_refs_no_requests(client, sleeps) -> None:  # type: ignore[no-untyped-def]
    result = fetch_quotes([], client, gamma_url="http://127.0.0.1:9", now=NOW, sleep=sleeps)
    assert result.requests == 0 and not result.quotes

import pytest

from marketnews.markets.refs import RefError, parse_ref


@pytest.mark.parametrize(
    ("text", "key", "kind", "slug", "event"),
    [
        ("xi-jinping-out-before-2027", "xi-jinping-out-before-2027", "any", "xi-jinping-out-before-2027", None),
        ("  Mixed-Case-Slug ", "mixed-case-slug", "any", "mixed-case-slug", None),
        ("https://polymarket.com/event/fed-dec", "event/fed-dec", "event", "fed-dec", None),
        ("https://polymarket.com/event/fed-dec/", "event/fed-dec", "event", "fed-dec", None),
        ("https://polymarket.com/event/e1/m1", "m1", "market", "m1", "e1"),
        ("https://www.polymarket.com/event/e1/m1?tid=3", "m1", "market", "m1", "e1"),
        ("polymarket.com/event/e1", "event/e1", "event", "e1", None),
    ],
)
def test_accepted_forms(text: str, key: str, kind: str, slug: str, event: str | None) -> None:
    ref = parse_ref(text)
    assert (ref.key, ref.kind, ref.slug, ref.event_slug) == (key, kind, slug, event)


def test_url_and_slug_of_one_market_share_a_key() -> None:
    assert parse_ref("https://polymarket.com/event/e/m").key == parse_ref("m").key


def test_page_paths_keep_events_and_markets_apart() -> None:
    assert parse_ref("same").page_path == "markets/same/"
    assert parse_ref("https://polymarket.com/event/same").page_path == "events/same/"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("has space", "lowercase letters"),
        ("https://example.com/event/x", "polymarket.com URL"),
        ("https://polymarket.com/markets/x", "/event/"),
        ("https://polymarket.com/event/a/b/c", "/event/"),
        ("ftp://polymarket.com/event/x", "polymarket.com URL"),
        ("https://polymarket.com/event/Bad_Slug!", "not a valid slug"),
    ],
)
def test_rejected_forms_say_what_was_expected(text: str, fragment: str) -> None:
    with pytest.raises(RefError, match=fragment):
        parse_ref(text)

"""The Atom feeds, read with feedparser: the site-wide feed and one per topic."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser

from marketnews.config import load_config
from marketnews.feeds import absolute_links, feed_url
from marketnews.topics import topic_name
from tests.sitebuild import BASE_URL, REPO, Page, build_example, copy_site

ATOM = "atom10"
EXAMPLE_TOPICS = load_config(REPO / "site.yaml")[0].topics


def parse(data: bytes) -> feedparser.FeedParserDict:
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == ATOM
    return feed


def article_urls(built_example: dict[str, bytes]) -> list[str]:
    return [f"{BASE_URL}/{p[: -len('index.html')]}" for p in built_example
            if re.fullmatch(r"\d{4}/\d{2}/[^/]+/index\.html", p)]


def test_site_feed_has_every_article_with_full_content_and_odds_as_text(built_example: dict[str, bytes]) -> None:
    feed = parse(built_example["feed.xml"])
    assert feed.feed.title == "The Market Ledger"
    assert feed.feed.link == BASE_URL + "/"
    assert {link.href for link in feed.feed.links if link.rel == "self"} == {BASE_URL + "/feed.xml"}
    assert sorted(e.link for e in feed.entries) == sorted(article_urls(built_example))
    dates = [e.published_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)  # newest first
    xi = next(e for e in feed.entries if "xi-military" in e.link)
    (content,) = xi.content
    assert content.type == "text/html"
    # Full text: the article's closing paragraph is there, not just a summary.
    page = built_example["2026/11/xi-military-reshuffle-succession-odds/index.html"].decode()
    last_para = re.findall(r"<p>([^<]{40,})</p>", page)[-1]
    assert last_para[:40] in content.value
    # Odds as text: the related market's question and its probability in words.
    assert re.search(r"Xi Jinping out before 2027\?</a> — Yes \d+%", content.value)
    assert "<aside" not in content.value and "<svg" not in content.value
    assert {t.term for t in xi.tags} == {"china", "xi-jinping", "taiwan"}
    assert xi.author


def test_feed_content_links_are_absolute(built_example: dict[str, bytes]) -> None:
    for path in [p for p in built_example if p.endswith("feed.xml")]:
        for entry in parse(built_example[path]).entries:
            html = entry.content[0].value
            assert not re.search(r'(?:src|href)="/(?!/)', html), (path, entry.link)


def test_one_feed_per_topic_with_that_topics_articles(built_example: dict[str, bytes]) -> None:
    topic_pages = [p for p in built_example if re.fullmatch(r"tags/[^/]+/index\.html", p)]
    assert len(topic_pages) > 10
    for page_path in topic_pages:
        folder = page_path[: -len("index.html")]
        feed = parse(built_example[folder + "feed.xml"])
        tag = folder.split("/")[1]
        assert feed.feed.title == f"The Market Ledger: {topic_name(tag, EXAMPLE_TOPICS)}"
        page = built_example[page_path].decode()
        listed = {BASE_URL + href for href in re.findall(r'<h2 class="story__title"><a href="([^"]+)"', page)}
        assert {e.link for e in feed.entries} == listed
        assert all(tag in {t.term for t in e.tags} for e in feed.entries)


def test_topic_pages_link_to_their_feed(built_example: dict[str, bytes]) -> None:
    page = Page(built_example["tags/nato/index.html"].decode())
    alternates = {a["href"]: a["title"] for a in page.link("alternate") if a.get("type") == "application/atom+xml"}
    assert alternates == {"/feed.xml": "The Market Ledger", "/tags/nato/feed.xml": "The Market Ledger: NATO"}
    assert any(tag == "a" and a.get("href") == "/tags/nato/feed.xml" for tag, a in page.tags)


def test_feed_is_capped_at_feed_entries(tmp_path: Path) -> None:
    root = copy_site(tmp_path / "site")
    (root / "site.yaml").write_text((root / "site.yaml").read_text().replace("feed_entries: 20", "feed_entries: 2"))
    build_example(tmp_path / "public", tmp_path / "cache", root=root)
    feed = parse((tmp_path / "public/feed.xml").read_bytes())
    assert [e.link.rsplit("/", 2)[-2] for e in feed.entries] == ["bitcoin-november-slide",
                                                                 "nato-2027-conventional-defence-deadline"]
    assert feed.feed.updated == "2026-11-21T09:00:00Z"


def test_feed_helpers() -> None:
    assert feed_url("/tags/nato/") == "/tags/nato/feed.xml" and feed_url("/") == "/feed.xml"
    html = '<a href="/x/">x</a><img src="/a.png"><a href="//cdn/x">c</a><a href="https://o.org/">o</a>'
    assert absolute_links(html, "https://s.org") == (
        '<a href="https://s.org/x/">x</a><img src="https://s.org/a.png"><a href="//cdn/x">c</a>'
        '<a href="https://o.org/">o</a>'
    )


def test_feed_odds_come_with_the_disclaimer(built_example: dict[str, bytes]) -> None:
    checked = 0
    for entry in parse(built_example["feed.xml"]).entries:
        content = entry.content[0].value
        odds = content.find("Market:</strong>")
        if odds >= 0:
            checked += 1
            assert content.find("<em>Market odds are traders' collective bets") > odds, entry.link
    assert checked >= 5

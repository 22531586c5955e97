"""sitemap.xml (and its index when large), the Google News sitemap and robots.txt, read with an XML parser."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from marketnews.sitemaps import NEWS_NS, SITEMAP_NS, NewsEntry, SitemapEntry, news_language, news_sitemap, sitemap_files
from tests.sitebuild import BASE_URL, NOW

NS = {"sm": SITEMAP_NS, "news": NEWS_NS}
ARTICLE = re.compile(r"(\d{4}/\d{2}/[^/]+/)index\.html")


def when(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None
    return value


def test_sitemap_lists_every_indexable_page_with_lastmod(built_example: dict[str, bytes]) -> None:
    root = ET.fromstring(built_example["sitemap.xml"])
    assert root.tag == f"{{{SITEMAP_NS}}}urlset"
    urls = {u.findtext("sm:loc", namespaces=NS): u.findtext("sm:lastmod", namespaces=NS)
            for u in root.findall("sm:url", NS)}
    pages = {BASE_URL + "/" + p[: -len("index.html")] for p in built_example if p.endswith("index.html")}
    pages -= {u for u in pages if "/page/" in u}  # later list pages are reached from the first
    assert set(urls) == pages
    assert all(lastmod is not None for lastmod in urls.values())
    for path in built_example:
        m = ARTICLE.fullmatch(path)
        if m:
            html = built_example[path].decode()
            modified = re.search(r'article:modified_time" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]
            assert when(urls[f"{BASE_URL}/{m.group(1)}"]) == when(modified)
    assert when(urls[BASE_URL + "/"]) == max(when(v) for v in urls.values() if v)


def test_sitemap_splits_under_an_index_past_the_limit() -> None:
    day = datetime(2026, 11, 1, tzinfo=UTC)
    entries = [SitemapEntry(f"/a/{i}/", day + timedelta(days=i) if i != 4 else None) for i in range(7)]
    files = sitemap_files(entries, "https://s.org", max_urls=3)
    assert [f.path for f in files] == ["sitemap.xml", "sitemap-1.xml", "sitemap-2.xml", "sitemap-3.xml"]
    index = ET.fromstring(files[0].data)
    assert index.tag == f"{{{SITEMAP_NS}}}sitemapindex"
    parts = index.findall("sm:sitemap", NS)
    assert [p.findtext("sm:loc", namespaces=NS) for p in parts] == [f"https://s.org/sitemap-{n}.xml" for n in (1, 2, 3)]
    assert [p.findtext("sm:lastmod", namespaces=NS) for p in parts] == [
        "2026-11-03T00:00:00Z", "2026-11-06T00:00:00Z", "2026-11-07T00:00:00Z"]
    locs = [u.findtext("sm:loc", namespaces=NS) for f in files[1:] for u in ET.fromstring(f.data).findall("sm:url", NS)]
    assert locs == [f"https://s.org/a/{i}/" for i in range(7)]
    assert [len(ET.fromstring(f.data)) for f in files[1:]] == [3, 3, 1]
    # At the limit exactly: one plain sitemap.
    assert [f.path for f in sitemap_files(entries[:3], "https://s.org", max_urls=3)] == ["sitemap.xml"]


def test_site_splits_its_sitemap_when_told_to(tmp_path: Path) -> None:
    from marketnews.markets.snapshots import snapshot_from_file
    from marketnews.pipeline import BuildOptions, SitePaths, gather, site_files, wanted
    from marketnews.site import SiteInput
    from tests.sitebuild import EXAMPLE_SNAPSHOT, REPO

    paths = SitePaths(REPO, REPO / "content", tmp_path / "out", None)
    gathered = gather(paths, BuildOptions(jobs=1))
    snapshot = snapshot_from_file(EXAMPLE_SNAPSHOT)(wanted(gathered), NOW).snapshot
    inp = SiteInput(gathered.config, gathered.published(BuildOptions(), NOW), gathered.bodies, snapshot, NOW)
    files = {f.path: f.data for f in site_files(replace(inp, sitemap_max_urls=10), paths.layouts, jobs=1)}
    index = ET.fromstring(files["sitemap.xml"])
    assert index.tag == f"{{{SITEMAP_NS}}}sitemapindex"
    parts = [loc.text.rsplit("/", 1)[1] for loc in index.iter(f"{{{SITEMAP_NS}}}loc")]  # type: ignore[union-attr]
    assert parts and all(p in files for p in parts)
    assert sum(len(ET.fromstring(files[p])) for p in parts) > 10


def test_news_sitemap_has_the_articles_of_the_last_48_hours(built_example: dict[str, bytes]) -> None:
    root = ET.fromstring(built_example["news-sitemap.xml"])
    assert root.tag == f"{{{SITEMAP_NS}}}urlset"
    found = {}
    for url in root.findall("sm:url", NS):
        news = url.find("news:news", NS)
        assert news is not None
        assert news.findtext("news:publication/news:name", namespaces=NS) == "The Market Ledger"
        assert news.findtext("news:publication/news:language", namespaces=NS) == "en"
        found[url.findtext("sm:loc", namespaces=NS)] = (
            when(news.findtext("news:publication_date", namespaces=NS) or ""),
            news.findtext("news:title", namespaces=NS))
    # Articles of 20 and 21 November are within 48 hours of 21 November 17:00; older ones are not.
    assert {u.rsplit("/", 2)[1] for u in found} == {
        "bitcoin-november-slide", "nato-2027-conventional-defence-deadline", "knicks-celtics-spread-resolves"}
    for published, title in found.values():
        assert NOW - timedelta(hours=48) <= published <= NOW and title


def test_news_sitemap_window_moves_with_now() -> None:
    entries = [NewsEntry("/old/", "Old", NOW - timedelta(hours=49)), NewsEntry("/new/", "New & <b>", NOW),
               NewsEntry("/edge/", "Edge", NOW - timedelta(hours=48)), NewsEntry("/future/", "F", NOW + timedelta(1))]
    root = ET.fromstring(news_sitemap(entries, "https://s.org", "S", "en-GB", NOW).data)
    assert [u.findtext("sm:loc", namespaces=NS) for u in root.findall("sm:url", NS)] == [
        "https://s.org/new/", "https://s.org/edge/"]
    assert root.find("sm:url/news:news/news:title", NS).text == "New & <b>"  # type: ignore[union-attr]
    empty = ET.fromstring(news_sitemap(entries, "https://s.org", "S", "en", NOW + timedelta(days=9)).data)
    assert empty.tag == f"{{{SITEMAP_NS}}}urlset" and len(empty) == 0


def test_news_language_codes() -> None:
    codes = [news_language(x) for x in ("en", "en-GB", "fr_FR", "zh-TW", "zh-Hans")]
    assert codes == ["en", "en", "fr", "zh-tw", "zh-cn"]


def test_robots_txt_points_at_both_sitemaps(built_example: dict[str, bytes]) -> None:
    lines = built_example["robots.txt"].decode().splitlines()
    sitemaps = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sitemap:")]
    assert sitemaps == [BASE_URL + "/sitemap.xml", BASE_URL + "/news-sitemap.xml"]
    for url in sitemaps:
        assert url.removeprefix(BASE_URL + "/") in built_example

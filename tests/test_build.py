"""End to end through the command line: pages written, bad input, atomic output, reuse."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from unittest.mock import ANY

import pytest

from marketnews import cache, pipeline, writer
from marketnews import site as site_module
from marketnews.cache import MEMO_FILE, WrongShape, _checksum, decode, encode, pack, unpack
from marketnews.errors import MarketnewsError
from marketnews.markets import refs
from marketnews.output import OutputFile
from marketnews.site import ASOF, CARD_SLOTS, ITEM, NOTE, Shell
from tests.conftest import Site, article, entries, is_list_frame, quote, tree

NATO = article(
    "NATO <deadline> & allies", "2026-11-20T09:30:00Z",
    "Lead paragraph about **2027**.\n\n```market\ndrone-by-dec-31\n```\n\nMore text.\n",
    author=["Jane Roe", "John Doe"], tags=["nato", "russia"],
    markets=["strike-on-nato", "https://polymarket.com/event/fed-decision"],
)
XI = article("Xi stays", "2026-11-19T08:00:00Z", "Beijing text.\n", tags=["china"], markets=["xi-out"])
RESOLVED = article("Spread settled", "2026-11-18T05:00:00Z", "Game text.\n", tags=["nba"], markets=["knicks-spread"])
QUOTES = {
    "strike-on-nato": quote("Russian strike on a NATO member?", 0.031),
    "drone-by-dec-31": quote("NATO downs another drone?", 0.083, change_24h=-0.012),
    "event/fed-decision": quote("Fed decision in December?", 0.63, kind="event", headline_outcome="25 bps cut",
                                outcomes=[{"name": "25 bps cut", "probability": 0.63, "url": None},
                                          {"name": "No change", "probability": 0.34, "url": None}]),
    "xi-out": quote("Xi out before 2027?", 0.0455),
    "knicks-spread": quote("Knicks beat the spread?", 0.999999, status="resolved", winner="Yes", change_24h=0),
}


def add_extras(site: Site, n: int, body: str = "Text {i}.\n") -> None:
    """n more articles, content/extra-0.md and on, on the topic "extra"."""
    for i in range(n):
        site.write(f"content/extra-{i}.md", article(f"Extra {i}", f"2026-11-1{i % 10}T0{i % 9}:00:00Z",
                                                    body.format(i=i), tags=["extra"]))


def in_workers(monkeypatch: pytest.MonkeyPatch, jobs: int = 2) -> None:
    """Builds from here on use `jobs` worker processes, however few the articles, and
    render the fragments their pages share ahead of them, however few."""
    monkeypatch.setenv("MARKETNEWS_JOBS", str(jobs))
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)
    monkeypatch.setattr(pipeline, "FRAGMENTS_AHEAD_MIN", 1)


def fresh_build(site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                name: str, *args: str | Path) -> dict[str, bytes]:
    """The site built from nothing (an empty cache) into tmp_path/name: every file."""
    before = os.environ["MARKETNEWS_CACHE"]  # the site's own (conftest's `site`)
    monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / f"{name}-cache"))
    assert cli("build", "--root", site.root, "--out", tmp_path / name, *args).code == 0
    monkeypatch.setenv("MARKETNEWS_CACHE", before)
    return tree(tmp_path / name)


@pytest.fixture
def news(site: Site) -> Site:
    site.write("content/nato.md", NATO)
    site.write("content/xi.md", XI)
    site.write("content/knicks.md", RESOLVED)
    site.snapshot(QUOTES)
    return site


def test_builds_every_kind_of_page(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("build", "--root", news.root)
    assert run.code == 0, run.err
    assert "built 17 pages from 3 articles" in run.out  # 3 articles, 2 front, 5 tag, 6 market, 404
    assert "odds from the example snapshot snapshot.json" in run.out
    tree = news.tree()
    for path in ["index.html", "page/2/index.html", "2026/11/nato/index.html", "tags/nato/index.html",
                 "tags/index.html", "markets/strike-on-nato/index.html", "events/fed-decision/index.html",
                 "markets/drone-by-dec-31/index.html", "markets/index.html", "feed.xml", "sitemap.xml",
                 "robots.txt", "404.html", "snapshot.json", "css/site.css"]:
        assert path in tree, path
    page = news.page("2026/11/nato/index.html")
    assert "<h1 class=\"article__title\">NATO &lt;deadline&gt; &amp; allies</h1>" in page
    assert "By Jane Roe and John Doe" in page
    assert page.count('class="odds ') == 3  # two related widgets and one inline
    main = page[page.index("<main"):]
    assert main.index('data-market="strike-on-nato"') < main.index("Lead paragraph")
    assert main.index("Lead paragraph") < main.index('data-market="drone-by-dec-31"') < main.index("More text")
    strip = main[main.index('<section class="odds-strip"'):main.index("Lead paragraph")]
    assert '<a class="odds-line__question" href="/markets/strike-on-nato/">' in strip  # a line under the headline
    assert '<a rel="tag" href="/tags/nato/">Nato</a>' in page  # a readable form of the tag
    front = news.page("index.html")
    assert "All the News That" in front and front.count("<h1") == 1
    assert front.index("NATO &lt;deadline") < front.index("Xi stays")  # newest first, lead story
    assert "Spread settled" in news.page("page/2/index.html")  # per_page: 2
    market = news.page("markets/strike-on-nato/index.html")
    assert 'data-market="strike-on-nato"' in market and "NATO &lt;deadline" in market
    assert "Resolved" in news.page("2026/11/knicks/index.html")
    assert json.loads(tree["snapshot.json"])["quotes"].keys() == QUOTES.keys()
    robots = tree["robots.txt"].decode()
    assert "Sitemap: https://news.example.org/sitemap.xml" in robots


def test_feed_and_sitemap_are_well_formed(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    import feedparser  # type: ignore[import-untyped]

    assert cli("build", "--root", news.root).code == 0
    feed = feedparser.parse(news.page("feed.xml"))
    assert not feed.bozo, feed.bozo_exception
    assert [e.title for e in feed.entries] == ["NATO <deadline> & allies", "Xi stays", "Spread settled"]
    nato = feed.entries[0]
    assert nato.link == "https://news.example.org/2026/11/nato/"
    assert [a.name for a in nato.authors] == ["Jane Roe", "John Doe"]
    content = nato.content[0].value
    assert "Russian strike on a NATO member?</a> — Yes 3%, up 1.8 points in 24 hours" in content
    assert "NATO downs another drone?</a> — Yes 8%, down 1.2 points in 24 hours" in content
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = [u.findtext("s:loc", namespaces=ns) for u in ET.fromstring(news.page("sitemap.xml")).findall("s:url", ns)]
    assert "https://news.example.org/2026/11/nato/" in urls and "https://news.example.org/tags/nato/" in urls


def test_every_problem_in_every_file_at_once(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    site.write("content/a.md", "---\ntitle: ok\ndate: tomorrow\n---\n")
    site.write("content/b.md", "no frontmatter\n")
    site.write("content/c.md", "---\ntitle: [x\n---\n")
    site.write("content/d.md", article("D", body="```market\nhttps://example.com/x\n```\n"))
    run = cli("build", "--root", site.root)
    assert run.code == 1
    lines = run.err.splitlines()
    assert "content/a.md:3: date: expected an ISO 8601 date like 2026-11-20T09:30:00Z, got 'tomorrow'" in lines
    assert any(line.startswith("content/b.md:1: expected YAML frontmatter") for line in lines)
    assert any(line.startswith("content/c.md:") and "malformed YAML" in line for line in lines)
    assert "content/d.md:6: market: expected a polymarket.com URL or a slug, got 'https://example.com/x'" in lines
    assert lines[-1] == f"failed: 4 errors; {site.out} is unchanged"
    assert not site.out.exists()


def test_a_site_yaml_error_is_said_with_the_articles_errors(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    config = site.root / "site.yaml"
    config.write_text(config.read_text() + "stale_after_hours: -1\n")
    site.write("content/bad.md", "---\ntitle: x\ndate: nope\n---\nB\n")
    run = cli("build", "--root", site.root)
    lines = run.err.splitlines()
    assert run.code == 1 and lines[-1] == f"failed: 2 errors; {site.out} is unchanged", run.err
    assert "content/bad.md:3: date: expected an ISO 8601 date like 2026-11-20T09:30:00Z, got 'nope'" in lines
    assert any(line.startswith("site.yaml:") and "stale_after_hours: expected a number of hours" in line
               for line in lines), lines
    assert not site.out.exists()
    config.rename(site.root / "elsewhere.yaml")  # no site.yaml at all: nothing to read the articles with
    run = cli("build", "--root", site.root)
    assert run.code == 1 and "site.yaml: not found" in run.err and "content/bad.md" not in run.err


def test_a_file_that_cannot_be_read_is_one_problem_among_the_others(  # type: ignore[no-untyped-def]
        site: Site, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    site.write("content/bad.md", "---\ntitle: x\ndate: nope\n---\nB\n")
    site.write("content/locked.md", article("Locked"))
    read_bytes = Path.read_bytes

    def refused(path: Path) -> bytes:  # what a file without read permission gives (root reads any, so faked)
        if path.name == "locked.md":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)
    monkeypatch.setattr(Path, "read_bytes", refused)
    run = cli("build", "--root", site.root)
    assert run.code == 1
    assert run.err.splitlines()[:2] == [
        "content/bad.md:3: date: expected an ISO 8601 date like 2026-11-20T09:30:00Z, got 'nope'",
        "content/locked.md: cannot be read (Permission denied)"]


@pytest.mark.parametrize("front", ["---\ntitle: ok\ndate: tomorrow\n---\n", "---\ntitle: [x\ndate: 2026-11-20\n---\n"])
def test_an_error_in_the_frontmatter_hides_none_in_the_body(site: Site, cli, front: str) -> None:  # type: ignore[no-untyped-def]
    body = "Intro.\n\n```market\nhttps://example.com/x\n```\n\n```markets\nfed-cut\n```\n"
    site.write("content/a.md", front + body)
    run = cli("build", "--root", site.root)
    assert run.code == 1
    said = [line for line in run.err.splitlines() if line.startswith("content/a.md:")]
    assert said[0].startswith(("content/a.md:3: date:", "content/a.md:2: malformed YAML")), said
    assert said[1:] == [
        "content/a.md:8: market: expected a polymarket.com URL or a slug, got 'https://example.com/x'",
        "content/a.md:11: warning: market: ```markets block is shown as code; did you mean ```market "
        "(the word alone on its line, then one slug or URL a line)?"]


def test_articles_that_would_take_the_place_of_the_sites_own_files_are_named_all_at_once(  # type: ignore[no-untyped-def]
        site: Site, cli) -> None:
    config = site.root / "site.yaml"
    config.write_text(config.read_text() + "permalink: /{slug}/\n")
    for slug in ("tags", "markets", "about", "fine"):
        site.write(f"content/{slug}.md", article(slug.title(), slug=slug))
    site.write("static/about/index.html", "<p>by hand</p>")
    run = cli("build", "--root", site.root)
    assert run.code == 1
    said = sorted(line for line in run.err.splitlines() if "would take the place" in line)
    assert said == [
        "content/about.md:4: slug: URL /about/ would take the place of static/about/index.html; "
        "give the article another 'slug:', or change the permalink",
        "content/markets.md:4: slug: URL /markets/ would take the place of the site's own /markets/; "
        "give the article another 'slug:', or change the permalink",
        "content/tags.md:4: slug: URL /tags/ would take the place of the site's own /tags/; "
        "give the article another 'slug:', or change the permalink",
    ]
    assert not site.out.exists()
    config.write_text(config.read_text().replace("permalink: /{slug}/", "permalink: /{slug}.html"))
    for slug in ("tags", "markets", "about"):
        (site.root / f"content/{slug}.md").unlink()
    site.write("content/404.md", article("Not found", slug="404"))
    run = cli("build", "--root", site.root)
    assert run.code == 1 and "content/404.md:4: slug: URL /404.html would take the place of the site's own /404.html;" \
        in run.err
    # Inside a section's folder an article takes no page's place.
    config.write_text(config.read_text().replace("permalink: /{slug}.html", "permalink: /markets/{year}/{slug}/"))
    assert cli("build", "--root", site.root).code == 0
    assert (site.out / "markets/2026/404/index.html").is_file() and (site.out / "markets/index.html").is_file()


def test_articles_that_would_take_the_place_of_a_page_inside_a_section_are_named_before_anything_is_made(  # type: ignore[no-untyped-def]
        site: Site, cli) -> None:
    # With a permalink inside a section, an article can land on a topic's page, its feed,
    # a market's page or a later page of a list: each is named with the article's file and
    # the line of its slug, all at once, where the writer could name only one output path.
    config = site.root / "site.yaml"
    config.write_text(config.read_text() + "permalink: /tags/{slug}/\n")
    site.write("content/a.md", article("A", slug="a", tags=["Crypto", "Fed"], markets=["fed-cut"]))
    site.write("content/crypto.md", article("Crypto", slug="crypto"))  # the topic page of 'Crypto'
    site.write("content/b.md", article("B", slug="b"))  # no topic 'b': fine
    site.snapshot({"fed-cut": quote("Fed cut?", 0.4)})
    run = cli("build", "--root", site.root)
    assert run.code == 1
    assert sorted(line for line in run.err.splitlines() if "would take the place" in line) == [
        "content/crypto.md:4: slug: URL /tags/crypto/ would take the place of the topic page of 'Crypto'; "
        "give the article another 'slug:', or change the permalink"]
    assert not site.out.exists()

    cases = {
        "/markets/{slug}/": ("fed-cut", "URL /markets/fed-cut/ would take the place of the page of the market "
                                        "'fed-cut'"),
        "/tags/{slug}": ("fed", "URL /tags/fed would take the place of the folder /tags/fed/ of the site's own pages"),
        "/page/{slug}/": ("7", "URL /page/7/ would take the place of a page of the front page's list"),
        "/tags/fed/page/{slug}/": ("2", "URL /tags/fed/page/2/ would take the place of a page of the topic list "
                                        "/tags/fed/"),
    }
    for permalink, (slug, said) in cases.items():
        config.write_text(re.sub(r"permalink: .*", f"permalink: {permalink}", config.read_text()))
        (site.root / "content/crypto.md").write_text(article("Crypto", slug=slug))
        run = cli("build", "--root", site.root)
        assert run.code == 1, permalink
        assert f"content/crypto.md:4: slug: {said}; give the article another 'slug:'" in run.err, run.err
        assert "written twice" not in run.err and "both a file and a folder" not in run.err
    # Beside a topic's pages, or on a later page of a topic the site does not have, nothing clashes.
    for permalink in ("/tags/fed/{slug}/", "/tags/nato/page/{slug}/"):
        config.write_text(re.sub(r"permalink: .*", f"permalink: {permalink}", config.read_text()))
        assert cli("build", "--root", site.root).code == 0, permalink
    assert (site.out / "tags/nato/page/2/index.html").is_file() and (site.out / "tags/fed/index.html").is_file()


def test_two_articles_writing_one_url_name_both_files(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    site.write("content/one.md", article("One", slug="same"))
    site.write("content/two.md", article("Two", slug="same"))
    run = cli("build", "--root", site.root)
    assert run.code == 1
    assert "content/two.md:1: slug: URL /2026/11/same/ is also written by content/one.md" in run.err


@pytest.mark.parametrize("root", ["absolute", "relative", "a link to a theme's file"])
def test_template_error_names_template_and_line(  # type: ignore[no-untyped-def]
        news: Site, cli, root: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    layout = news.root / "layouts/article.html"
    layout.write_text(layout.read_text().replace("{{ a.title }}</h1>", "{{ a.headline.missing }}</h1>"))
    if root == "relative":  # `marketnews build` in the site's folder: --root is "."
        monkeypatch.chdir(news.root)
    elif root != "absolute":  # the layout kept elsewhere (a theme), linked in: named as the site names it
        (tmp_path / "theme").mkdir()
        layout.rename(tmp_path / "theme/article.html")
        layout.symlink_to(tmp_path / "theme/article.html")
    run = cli("build", "--root", "." if root == "relative" else news.root)
    assert run.code == 1
    line = next(n for n, text in enumerate(layout.read_text().splitlines(), 1) if "a.headline" in text)
    assert f"layouts/article.html:{line}: template error: UndefinedError" in run.err


def test_template_syntax_error(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    (news.root / "layouts/tags.html").write_text("{% extends 'base.html' %}\n{% block main %}{% for x in %}")
    run = cli("build", "--root", news.root)
    assert run.code == 1 and "layouts/tags.html:2: template error" in run.err
    # Two that do not parse: both said, not only the first a page rendered.
    (news.root / "layouts/partials/odds_key.html").write_text("ok\n{{ oops }\n")
    run = cli("build", "--root", news.root)
    said = [line for line in run.err.splitlines() if "template error" in line]
    assert run.code == 1 and [line.split(": template error")[0] for line in said] == [
        "layouts/partials/odds_key.html:2", "layouts/tags.html:2"], run.err
    assert run.err.splitlines()[-1].startswith("failed: 2 errors;")


def test_a_failed_build_leaves_the_previous_output_exactly_as_it_was(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "--root", news.root).code == 0
    before = news.tree()
    stats = {p: (news.out / p).stat().st_mtime_ns for p in before}
    news.write("content/xi.md", XI.replace("Beijing text.", "New text."))
    news.write("layouts/market.html", "{% extends 'base.html' %}{% block main %}{{ nope() }}{% endblock %}")
    assert cli("build", "--root", news.root).code == 1
    assert news.tree() == before
    assert {p: (news.out / p).stat().st_mtime_ns for p in before} == stats
    assert not list(news.out.rglob("*.mn-tmp"))


def test_refuses_to_take_over_a_folder_that_is_not_a_site(news: Site, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    run = cli("build", "--root", news.root, "--out", precious)
    assert run.code == 1 and "refusing to build into this folder" in run.err
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_drafts_and_future_articles(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    site.write("content/now.md", article("Published"))
    site.write("content/draft.md", article("Draft one", draft=True))
    site.write("content/later.md", article("Tomorrow's", "2026-11-22T08:00:00Z"))
    site.snapshot({})
    assert cli("build", "--root", site.root).code == 0
    assert set(p for p in site.tree() if p.startswith("2026/")) == {"2026/11/now/index.html"}
    assert cli("build", "--root", site.root, "--drafts", "--future").code == 0
    assert {"2026/11/draft/index.html", "2026/11/later/index.html"} <= set(site.tree())
    assert "Draft: not published" in site.page("2026/11/draft/index.html")
    assert "Scheduled for" in site.page("2026/11/later/index.html")


def test_missing_market_is_a_warning_and_strict_makes_it_an_error(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    news.write("content/xi.md", XI.replace('"xi-out"', '"xi-out", "no-such-market"'))
    run = cli("build", "--root", news.root)
    assert run.code == 0
    assert "content/xi.md:5: warning: markets: 'no-such-market': no odds for this market in the snapshot" in run.err
    assert "odds unavailable" in news.page("2026/11/xi/index.html").lower()
    strict = cli("build", "--root", news.root, "--strict")
    assert strict.code == 1 and "content/xi.md:5: markets: 'no-such-market'" in strict.err


def test_a_misspelt_key_is_an_error_and_another_unknown_key_a_warning(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    news.write("content/xi.md", XI.replace("markets:", "market:"))
    run = cli("build", "--root", news.root)
    assert run.code == 1 and "content/xi.md:5: market: unknown key; did you mean 'markets'?" in run.err
    assert not news.out.exists()
    news.write("content/xi.md", XI.replace("tags:", "colour:"))
    run = cli("build", "--root", news.root)
    assert run.code == 0 and "content/xi.md:4: warning: colour: unknown key; known keys: title, date" in run.err
    assert cli("build", "--root", news.root, "--strict").code == 1


def test_check_validates_without_writing(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("check", "--root", news.root)
    assert run.code == 0 and "checked 3 articles: no errors" in run.out
    assert not news.out.exists()
    news.write("content/bad.md", "---\ntitle: x\n---\n")
    bad = cli("check", "--root", news.root)
    assert bad.code == 1 and "content/bad.md:1: date: required field is missing" in bad.err
    # Layouts that do not parse, every one of them, with the content's errors.
    news.write("layouts/tags.html", "{% extends 'base.html' %}\n{% block main %}{% for x in %}")
    news.write("layouts/partials/odds_key.html", "{{ oops }\n")
    bad = cli("check", "--root", news.root)
    assert bad.code == 1 and "content/bad.md:1: date: required field is missing" in bad.err
    assert "layouts/tags.html:2: template error: " in bad.err
    assert "layouts/partials/odds_key.html:1: template error: " in bad.err
    (news.root / "content/bad.md").unlink()
    assert cli("check", "--root", news.root).code == 1
    assert not news.out.exists()
    # What is not a template, no build renders: an image, a hidden folder's files.
    news.write("layouts/tags.html", "{% extends 'base.html' %}")
    news.write("layouts/partials/odds_key.html", "")
    (news.root / "layouts/partials/logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    news.write("layouts/.git/HEAD", "{% broken")
    strict = cli("check", "--root", news.root, "--strict")
    assert strict.code == 0, strict.err


def test_new_writes_a_draft_that_builds(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("new", "Étienne's big scoop", "--root", site.root)
    assert run.code == 0
    path = site.root / "content/etiennes-big-scoop.md"
    text = path.read_text()
    assert 'title: "Étienne\'s big scoop"' in text and "draft: true" in text
    assert "date: 2026-11-21T17:00:00+00:00" in text
    assert cli("check", "--root", site.root, "--strict").code == 0
    site.snapshot({})  # no markets: the odds it names are none
    assert cli("build", "--root", site.root, "--drafts").code == 0
    assert "Étienne&#39;s big scoop" in (site.out / "2026/11/etiennes-big-scoop/index.html").read_text()
    assert cli("new", "Étienne's big scoop", "--root", site.root).code == 1  # never overwrites


def test_snapshot_file_errors_are_reported(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    news.write("bad.json", '{"format": "marketnews-snapshot", "version": 2}')
    run = cli("build", "--root", news.root, "--snapshot", news.root / "bad.json")
    assert run.code == 1 and "version: expected 1, got 2" in run.err


def test_a_build_that_goes_online_for_nothing_does_not_load_the_network_stack(news: Site) -> None:
    import subprocess

    code = ("import sys\nfrom marketnews.cli import main\n"
            "code = main(sys.argv[1:])\nprint(code, 'httpx' in sys.modules)")
    # Online but for the odds from a file (with the APIs pointed at a port nothing listens
    # on, in case it were not), then offline.
    online = {k: v for k, v in os.environ.items() if k != "MARKETNEWS_OFFLINE"}
    online.update(MARKETNEWS_GAMMA_URL="http://127.0.0.1:9", MARKETNEWS_CLOB_URL="http://127.0.0.1:9")
    for how, env in ((["--snapshot", str(news.root / "snapshot.json")], online), (["--offline"], dict(os.environ))):
        run = subprocess.run([sys.executable, "-c", code, "build", "--root", str(news.root), "--quiet", *how],
                             capture_output=True, text=True, env=env, timeout=120)
        assert run.stdout.split() == ["0", "False"], (how, run.stdout, run.stderr)
        assert (news.root / "public/index.html").exists()


def test_same_input_gives_byte_identical_output(news: Site, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "--root", news.root).code == 0
    first = news.tree()
    assert cli("build", "--root", news.root, "--out", tmp_path / "again").code == 0
    again = tree(tmp_path / "again")
    assert again == first


def test_parallel_workers_give_the_same_bytes_as_one_process(news: Site, cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    add_extras(news, 12, "Text {i}.\n\n```market\nxi-out\n```\n")
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")
    assert cli("build", "--root", news.root, "--out", tmp_path / "serial").code == 0
    in_workers(monkeypatch)
    assert fresh_build(news, cli, tmp_path, monkeypatch, "parallel") == tree(tmp_path / "serial")
    assert len(tree(tmp_path / "serial")) > 30


def test_a_market_fragment_is_rendered_once_however_many_workers_show_it(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Forty stories citing the same markets, shared by two workers: each worker rendered
    # every market's fragment for itself. Now the fragments many pages share are rendered
    # once, before the pages, in one process or another, and the workers take them.
    add_extras(news, 40, "Text {i}.\n\n```market\nxi-out\n```\n")
    for i in range(40):
        news.write(f"content/extra-{i}.md", article(f"Extra {i}", f"2026-10-1{i % 10}T0{i % 9}:00:00Z",
                                                    f"Text {i}.\n\n```market\nxi-out\n```\n", tags=["extra"],
                                                    markets=["strike-on-nato"]))
    log = tmp_path / "renders"
    render = site_module.SiteRenderer._render

    def logged(self, name, **context):  # type: ignore[no-untyped-def]
        w = context.get("w")
        if name == "partials/widget.html" and w is not None:
            with open(log, "a") as f:  # one short write each, from whichever process
                f.write(f"{os.getpid()} {w.key} {context['variant']} {bool(w.published_pct)} {w.mark}\n")
        return render(self, name, **context)

    monkeypatch.setattr(site_module.SiteRenderer, "_render", logged)
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")
    serial = fresh_build(news, cli, tmp_path, monkeypatch, "serial")
    log.unlink()
    in_workers(monkeypatch)
    assert fresh_build(news, cli, tmp_path, monkeypatch, "parallel") == serial
    lines = log.read_text().splitlines()
    made = Counter(line.split(" ", 1)[1] for line in lines)
    assert made["xi-out compact False None"] + made["xi-out inline False None"] >= 1
    assert made["strike-on-nato related False None"] == made["strike-on-nato strip False None"] == 1
    assert len({line.split(" ", 1)[0] for line in lines}) >= 2  # rendered in more than one process
    assert [key for key, n in made.items() if n > 1] == []
    # Fewer shared fragments than are worth a map of their own: each worker renders the
    # ones its pages show, and the site is the same.
    log.unlink()
    monkeypatch.setattr(pipeline, "FRAGMENTS_AHEAD_MIN", len(made) + 1)
    assert fresh_build(news, cli, tmp_path, monkeypatch, "parallel-few") == serial
    made = Counter(line.split(" ", 1)[1] for line in log.read_text().splitlines())
    assert made["strike-on-nato related False None"] == made["strike-on-nato strip False None"] == 2
    # After one story's edit, with the same odds, its page is the only one made: the
    # fragments are rendered where it asks for them, not all of them ahead for nothing.
    assert cli("build", "--root", news.root).code == 0
    log.unlink()
    news.write("content/extra-7.md", article("Extra 7", "2026-10-17T07:00:00Z", "Edited.\n\n```market\nxi-out\n```\n",
                                             tags=["extra"], markets=["strike-on-nato"]))
    assert cli("build", "--root", news.root).code == 0
    again = {line.split(" ", 1)[1] for line in log.read_text().splitlines()}
    assert again and {key.split(" ")[0] for key in again} <= {"strike-on-nato", "xi-out"}


def test_the_odds_cache_is_saved_by_a_worker_while_pages_are_made_and_holds_the_sites_odds(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Saving the odds cache needs no page: a worker does it with the site-wide files, and
    # it holds what /snapshot.json holds, as when one process does it all.
    add_extras(news, 40)
    odds = ("--snapshot", news.root / "snapshot.json")
    log = tmp_path / "savers"
    save = pipeline.save_cache

    def logged(*args, **kwargs):  # type: ignore[no-untyped-def]
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        return save(*args, **kwargs)

    monkeypatch.setattr(pipeline, "save_cache", logged)
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")
    serial = fresh_build(news, cli, tmp_path, monkeypatch, "serial", *odds)
    assert log.read_text() == f"{os.getpid()}\n"
    log.unlink()
    in_workers(monkeypatch)
    assert fresh_build(news, cli, tmp_path, monkeypatch, "parallel", *odds) == serial
    [saver] = log.read_text().split()
    assert int(saver) != os.getpid()
    for name in ("serial", "parallel"):
        assert (tmp_path / f"{name}-cache" / "snapshot.json").read_bytes() == serial["snapshot.json"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_odds_cache_that_cannot_be_saved_fails_the_build_after_publishing(  # type: ignore[no-untyped-def]
        news: Site, cli, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    # The cache is saved while the pages are made (by a worker when there are several); a
    # failure to save it is said once the new site is published, as when it was saved then:
    # the cache only saves time, and the site holds this build's odds.
    add_extras(news, 40, "Text {i}.\n\n```market\nxi-out\n```\n")
    odds = ("--snapshot", news.root / "snapshot.json")
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")
    in_workers(monkeypatch, jobs)
    assert cli("build", "--root", news.root, *odds).code == 0
    before = news.tree()
    news.snapshot(dict(QUOTES, **{"xi-out": quote("Xi out before 2027?", 0.91)}))

    def full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    save = pipeline.save_cache
    monkeypatch.setattr(pipeline, "save_cache", full)
    run = cli("build", "--root", news.root, *odds)
    assert run.code == 1 and "No space left on device" in run.err and "failed after publishing" in run.err, run.err
    after = news.tree()
    assert after != before and b'data-probability="0.9100"' in after["2026/11/extra-3/index.html"]
    monkeypatch.setattr(pipeline, "save_cache", save)
    assert cli("build", "--root", news.root, *odds).code == 0 and news.tree() == after


def test_whether_a_widget_template_fits_fragments_is_decided_alike_in_workers(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A widget template that does more with the price at publication than print it fits
    # fragments for some stories and not others. Whether it does is found once, on the
    # first story in order, before any page is made: a build in two workers, each of which
    # found it on the first story of its own, gave other bytes than a build in one process.
    widget = news.root / "layouts/partials/widget.html"
    widget.write_text(widget.read_text() + '{% if w.published_pct == "12%" %}<i>twelve</i>{% endif %}\n')
    t0, t1 = (int(datetime.fromisoformat(d).timestamp()) for d in ("2026-11-01T00:00:00+00:00",
                                                                   "2026-11-12T00:00:00+00:00"))
    news.snapshot(dict(QUOTES, **{"strike-on-nato": quote("Russian strike on a NATO member?", 0.031,
                                                           history=[[t0, 0.07], [t1, 0.12]])}))
    for i in range(40):
        news.write(f"content/extra-{i}.md", article(f"Extra {i}", f"2026-11-1{i % 4}T0{i % 9}:00:00Z",
                                                    f"Text {i}.\n", tags=["extra"], markets=["strike-on-nato"]))
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")
    serial = fresh_build(news, cli, tmp_path, monkeypatch, "serial")
    in_workers(monkeypatch)
    assert fresh_build(news, cli, tmp_path, monkeypatch, "parallel") == serial
    twelve = [p for p, data in serial.items() if p.startswith("2026/11/extra-") and b"12% when this" in data]
    assert twelve and all(b"<i>twelve</i>" in serial[p] for p in twelve)


def test_a_memo_written_as_it_goes_while_workers_read_it_makes_the_same_site(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The memo writes what it holds past cache.HOLD_MAX: here after every value, so the
    # parent writes the file again and again while the workers read bodies, shells and
    # page records from it, through a cold build, a build where prices moved and a no-op.
    add_extras(news, 24, "Text {i}.\n\n```market\nxi-out\n```\n")
    odds = ("--snapshot", news.root / "snapshot.json")
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")
    serial = fresh_build(news, cli, tmp_path, monkeypatch, "serial", *odds)
    in_workers(monkeypatch)
    monkeypatch.setattr(cache, "HOLD_MAX", 0)
    writes = []
    flush = cache.Memo.flush
    monkeypatch.setattr(cache.Memo, "flush", lambda memo: writes.append(len(memo.new)) or flush(memo))
    runs = [cli("build", "--root", news.root, *odds)]
    assert news.tree() == serial and len(writes) > 30
    snapshot = json.loads((news.root / "snapshot.json").read_text())
    for q in snapshot["quotes"].values():
        if isinstance(q.get("probability"), float):
            q["probability"] = round(1 - q["probability"], 4)
    (news.root / "snapshot.json").write_text(json.dumps(snapshot))
    runs += [cli("build", "--root", news.root, *odds), cli("build", "--root", news.root, *odds)]
    assert "unchanged" in runs[-1].out and changed_files(runs[-1].out) == (0, 0, 0)
    monkeypatch.setattr(cache, "HOLD_MAX", 4 * 2**20)
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")
    assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, "serial-moved", *odds) != serial
    assert all(run.code == 0 and "cache" not in run.err for run in runs), [run.err for run in runs]


def changed_files(run_out: str) -> tuple[int, int, int]:
    m = re.search(r"(\d+) changed, (\d+) added, (\d+) removed", run_out)
    assert m, run_out
    return int(m[1]), int(m[2]), int(m[3])


def test_rebuild_rewrites_only_what_a_price_move_touches(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    # The odds come from the snapshot file each time (a default build would prefer the
    # odds cache the first build left over the example snapshot).
    odds = ("--snapshot", news.root / "snapshot.json")
    assert cli("build", "--root", news.root, *odds).code == 0
    before = news.tree()
    assert changed_files(cli("build", "--root", news.root, *odds).out) == (0, 0, 0)
    moved = dict(QUOTES, **{"xi-out": quote("Xi out before 2027?", 0.12)})
    news.snapshot(moved)
    run = cli("build", "--root", news.root, *odds)
    after = news.tree()
    differ = {p for p in after if after[p] != before.get(p)}
    # The article's share card shows the new price: a new card under a new name, the old one gone.
    (old_card,) = {p for p in before if p.startswith("cards/xi-")} - set(after)
    (new_card,) = {p for p in after if p.startswith("cards/xi-")}
    assert differ == {"2026/11/xi/index.html", "markets/xi-out/index.html", "markets/index.html",
                      "index.html", "tags/china/index.html", "feed.xml", "tags/china/feed.xml", "snapshot.json",
                      new_card, writer.RECORD}  # the record of the build's files names the new card
    assert old_card != new_card
    assert changed_files(run.out) == (len(differ) - 2, 1, 1)
    assert "12%" in news.page("2026/11/xi/index.html")


def test_kept_pages_are_rendered_again_when_needed(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "--root", news.root).code == 0
    page = news.out / "2026/11/xi/index.html"
    page.write_text("tampered")  # a different size: the manifest no longer vouches for it
    assert cli("build", "--root", news.root).code == 0
    assert "Xi stays" in page.read_text()
    page.unlink()
    assert cli("build", "--root", news.root).code == 0
    assert page.exists()
    layout = news.root / "layouts/article.html"
    layout.write_text(layout.read_text().replace("article__title", "article__headline"))
    assert cli("build", "--root", news.root).code == 0
    assert all("article__headline" in news.page(f"2026/11/{s}/index.html") for s in ("nato", "xi", "knicks"))


def test_a_removed_article_takes_its_pages_with_it(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "--root", news.root).code == 0
    (news.root / "content/knicks.md").unlink()
    run = cli("build", "--root", news.root)
    assert not (news.out / "2026/11/knicks").exists()
    assert not (news.out / "tags/nba").exists() and not (news.out / "markets/knicks-spread").exists()
    # the article, its share card, its topic's page and feed, its market, and page/2/: two articles now
    # fit on the front page
    assert changed_files(run.out)[2] == 6


def test_incremental_builds_equal_fresh_builds_after_every_kind_of_edit(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages kept by fingerprint must be exactly what a build from nothing would write."""
    odds = ("--snapshot", news.root / "snapshot.json")  # price moves come from this file

    for i in range(6):
        news.write(f"content/more-{i}.md", article(f"More {i}", f"2026-11-1{i}T10:00:00Z", "Text.\n",
                                                   tags=["nato", "extra"], markets=["xi-out", "strike-on-nato"]))
    edits = [
        lambda: None,
        lambda: news.snapshot(dict(QUOTES, **{"xi-out": quote("Xi out before 2027?", 0.2, change_24h=-0.03)})),
        lambda: news.write("content/more-3.md", article("Retitled", "2026-11-13T10:00:00Z", "Text.\n",
                                                        tags=["china"], markets=["knicks-spread"])),
        lambda: news.write("content/brand-new.md", article("Brand new", "2026-11-21T10:00:00Z", tags=["nato"])),
        lambda: (news.root / "content/more-0.md").unlink(),
        lambda: news.snapshot(dict(QUOTES, **{"strike-on-nato": quote("Renamed question?", 0.5)})),
        lambda: news.write("layouts/partials/article_item.html",
                           (news.root / "layouts/partials/article_item.html").read_text() + "<!-- v2 -->\n"),
        lambda: monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1795280400 + 40 * 3600)),  # quotes go stale
    ]
    for n, edit in enumerate(edits):
        edit()
        assert cli("build", "--root", news.root, *odds).code == 0
        assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, f"fresh-{n}", *odds), f"after edit {n}"


def test_a_rebuild_with_nothing_changed_renders_no_article_or_list_page(  # type: ignore[no-untyped-def]
        news: Site, cli, renders: list[str]) -> None:
    odds = ("--snapshot", news.root / "snapshot.json")  # price moves come from this file
    assert cli("build", "--root", news.root, *odds).code == 0
    renders.clear()
    assert cli("build", "--root", news.root, *odds).code == 0
    assert not {"article.html", "index.html", "tag.html", "market.html"} & set(renders), renders
    news.snapshot(dict(QUOTES, **{"xi-out": quote("Xi out before 2027?", 0.3)}))
    renders.clear()
    assert cli("build", "--root", news.root, *odds).code == 0
    # The article page is its shell from the last build filled with the new widget.
    assert renders.count("article.html") == 0 and renders.count("market.html") == 1
    page = next(news.out.glob("**/xi/index.html")).read_text()
    assert 'data-market="xi-out" data-probability="0.3000"' in page


def test_a_build_failing_late_leaves_no_trace_in_a_new_output_folder(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    # Article pages are streamed to temporary files first; the market pages come later and fail.
    news.write("layouts/market.html", "{% extends 'base.html' %}{% block main %}{{ nope() }}{% endblock %}")
    run = cli("build", "--root", news.root)
    assert run.code == 1 and "layouts/market.html" in run.err
    assert not news.out.exists()


def test_a_folder_of_the_last_build_can_become_a_file_and_back(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("build", "--root", news.root).code == 0
    first = news.tree()
    config = news.root / "site.yaml"
    config.write_text(config.read_text() + "permalink: /{year}/{month}/{slug}\n")
    run = cli("build", "--root", news.root)
    assert run.code == 0, run.err
    assert (news.out / "2026/11/nato").is_file() and "NATO &lt;deadline" in news.page("2026/11/nato")
    assert not list(news.out.rglob("*.mn-tmp"))
    assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, "as-files")
    config.write_text(config.read_text().replace("permalink: /{year}/{month}/{slug}\n", ""))
    back = cli("build", "--root", news.root)
    assert back.code == 0, back.err
    assert news.tree() == first and not list(news.out.rglob("*.mn-tmp"))


def test_a_stray_dot_file_in_static_renders_nothing_again(news: Site, cli, renders: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "--root", news.root).code == 0
    news.write("static/.DS_Store", "finder metadata")
    renders.clear()
    run = cli("build", "--root", news.root)
    assert run.code == 0 and "article.html" not in renders
    assert changed_files(run.out) == (0, 0, 0) and not (news.out / ".DS_Store").exists()


@pytest.mark.parametrize("previous", [True, False], ids=["over-a-build", "new-folder"])
def test_a_worker_failing_after_others_staged_pages_leaves_no_trace(  # type: ignore[no-untyped-def]
        news: Site, cli, monkeypatch: pytest.MonkeyPatch, previous: bool) -> None:
    # Workers write the pages they render under temporary names; one failing part-way
    # loses the names of those it wrote, so the writer must find them itself.
    add_extras(news, 40)
    in_workers(monkeypatch)
    if previous:
        assert cli("build", "--root", news.root).code == 0
    before = news.tree() if previous else {}
    layout = news.root / "layouts/article.html"
    fails = "{% if a.title == 'Extra 39' %}{{ nope() }}{% endif %}"
    layout.write_text(layout.read_text().replace("{{ a.title }}</h1>", "{{ a.title }}!" + fails + "</h1>"))
    run = cli("build", "--root", news.root)
    assert run.code == 1 and "layouts/article.html" in run.err
    if previous:
        assert news.tree() == before
        assert not list(news.out.rglob("*.mn-tmp"))
    else:
        assert not news.out.exists()


@pytest.mark.parametrize("layout", ["as shipped", "list item on the article page"])
def test_pages_filled_from_the_last_builds_shells_equal_a_fresh_build(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    # An hourly build fills the article shells an earlier build left in the cache; what
    # the market data changed (prices, a question, a market closing or vanishing) must
    # come out as a build from nothing would write it.
    if layout != "as shipped":  # what the frame renders must not be kept for other pages
        page = news.root / "layouts/article.html"
        page.write_text(page.read_text().replace("</article>", "<aside>{{ article_item(a) }}</aside></article>"))
    odds = ("--snapshot", news.root / "snapshot.json")
    assert cli("build", "--root", news.root, *odds).code == 0
    assert (tmp_path / "cache" / MEMO_FILE).is_file() and not list((tmp_path / "cache").glob("*.pickle"))
    moved = dict(QUOTES)
    moved["strike-on-nato"] = quote("Russian strike on a NATO member, reworded?", 0.05)
    moved["drone-by-dec-31"] = quote("NATO downs another drone?", 0.09, status="closed")
    moved["xi-out"] = quote("Xi out before 2027?", 0.3)
    del moved["knicks-spread"]
    news.snapshot(moved)
    assert cli("build", "--root", news.root, *odds).code == 0
    fresh = fresh_build(news, cli, tmp_path, monkeypatch, "fresh", *odds)
    assert news.tree() == fresh
    assert b"reworded?" in fresh["2026/11/nato/index.html"]


# A topic page that shows odds itself, each its own way (after its stories): the first
# item's first market printed; read on the last page only (a frame of the first page reads
# none); a widget of its own; the views printed; the "as of" line tested before it is
# shown; an item through a macro imported without the page's context; an item's tags
# stripped (found out only by comparing a page filled from its frame with it rendered whole).
TAG_ODDS = {
    "odds read": '{% if pager.items[0].related %}<p>{{ pager.items[0].related[0].pct }}</p>{% endif %}',
    "odds read on the last page": '{% if not pager.next_url and pager.items[-1].related %}'
                                  '<p>{{ pager.items[-1].related[0].pct }}</p>{% endif %}',
    "a widget of its own": '{% for w in pager.items[0].related %}{{ widget(w, "strip") | safe }}{% endfor %}',
    "views printed": "<!-- {{ pager.items[0].related }} -->",
    "the line tested": '{% set line = odds_asof(ns.shown) %}{% if line %}<div class="a">{{ line }}</div>{% endif %}',
    "a macro": '{% import "partials/items.html" as m %}{{ m.item(pager.items[0]) }}',
    "an item stripped": "<p>{{ article_item(pager.items[0]) | striptags }}</p>",
}


@pytest.mark.parametrize("layout", ["as shipped", *TAG_ODDS])
@pytest.mark.parametrize("jobs", [1, 2])
def test_list_pages_made_from_their_frames_equal_a_fresh_build(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renders: list[str],
        layout: str, jobs: int) -> None:
    # After a build, topic pages and the front page's later pages are kept as frames: the
    # next build, in which prices moved, fills them with its own list items and "odds as
    # of" lines. A topic template that shows odds any other way gets no frame.
    in_workers(monkeypatch, jobs)
    add_extras(news, 3)
    news.write("content/extra-m.md", article("Extra with odds", "2026-11-19T09:00:00Z", "Odds.",
                                             tags=["extra"], markets=["xi-out"]))
    if layout != "as shipped":
        tag, pagination = news.root / "layouts/tag.html", '{% include "partials/pagination.html" %}'
        tag.write_text(tag.read_text().replace(pagination, TAG_ODDS[layout] + "\n" + pagination))
        news.write("layouts/partials/items.html", "{% macro item(a) %}{{ article_item(a) }}{% endmacro %}\n")
    # One quote is stale (its pages say when it was taken), the others are current: the
    # topic pages rendered first (China's) have an "as of" line, later ones (NATO's) none.
    news.snapshot({**QUOTES, "xi-out": quote("Xi out before 2027?", 0.0455, as_of="2026-11-21T09:00:00Z")})
    odds = ("--snapshot", news.root / "snapshot.json")
    assert cli("build", "--root", news.root, *odds).code == 0
    tag_pages = [p for p in news.tree() if re.fullmatch(r"tags/[^/]+/(page/\d+/)?index.html", p)]
    assert len(tag_pages) > 4 and len([p for p in news.tree() if re.fullmatch(r"(page/\d+/)?index.html", p)]) == 4
    frames = [f for f in memo_frames(tmp_path / "cache") if is_list_frame(f)]
    tag_frames = [f for f in frames if '<h1 class="page__title">' in f.parts[0]]

    def shows_odds(frame: Shell) -> bool:  # the first page of the topic "extra", whose first story has a market
        return '<h1 class="page__title">Extra</h1>' in frame.parts[0] and "xi-out" in str(frame.slots)

    if layout == "as shipped":
        assert tag_frames and len(frames) > len(tag_frames)  # topic pages, and the front page's second page
        assert [f for f in tag_frames if shows_odds(f)]
        assert all(any(v == ITEM for _, _, v in f.slots) and any(v == ASOF for _, _, v in f.slots) for f in tag_frames)
    elif layout not in ("odds read on the last page", "an item stripped"):  # found out making the frame
        assert not [f for f in tag_frames if shows_odds(f)]
        assert len(tag_frames) < len(tag_pages)
    moved = dict(QUOTES)  # prices move
    moved["xi-out"] = quote("Xi out before 2027?", 0.61, change_24h=0.2, as_of="2026-11-21T09:00:00Z")
    moved["strike-on-nato"] = quote("Russian strike on a NATO member?", 0.12)
    news.snapshot(moved)
    renders.clear()
    assert cli("build", "--root", news.root, *odds).code == 0
    if jobs == 1 and layout == "as shipped":  # each filled from its frame, the first of each template checked
        assert renders.count("tag.html") == 1 and renders.count("index.html") == 2, renders  # and the front page
    elif jobs == 1:  # rendered whole: each page whose odds moved
        assert renders.count("tag.html") > 2, renders
    assert b"61%" in news.tree()["tags/extra/index.html"] and b"odds as of" in news.tree()["tags/extra/index.html"]
    assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, "fresh", *odds)


# Frames of the right shape that do not fit their page: the slot of an item the page does
# not have, a line of no market, a slot of another kind, a part too many.
MISFITS = {"item": [("", "99", ITEM)], "line": [("", '"not a list"', ASOF)], "kind": [("", "", "note")],
           "parts": []}


@pytest.mark.parametrize("misfit_name", MISFITS)
def test_a_list_frame_that_does_not_fit_its_page_is_made_again(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, misfit_name: str) -> None:
    wrong = MISFITS[misfit_name]
    spoilt = rebuilt_with_spoilt_frames(
        news, cli, tmp_path, monkeypatch, lambda frame: replace(
            frame, slots=(*wrong, *frame.slots[1:]) if wrong else frame.slots,
            parts=frame.parts if wrong else (*frame.parts, "a part too many")) if is_list_frame(frame) else None,
        # Every open market's move changes, so that the list pages showing one are made again.
        lambda: news.snapshot({key: {**q, "change_24h": 0.031} for key, q in QUOTES.items()}),
        "an entry of the wrong shape")

    def misfit(frame: Shell) -> bool:
        wrong = MISFITS[misfit_name]
        return frame.slots[:1] == tuple(wrong) if wrong else len(frame.parts) != len(frame.order) + 1

    left = [f for f in memo_frames(tmp_path / "cache") if is_list_frame(f) and misfit(f)]
    assert len(left) < spoilt  # those of the pages made again are replaced (the pages kept keep theirs)


def rebuilt_with_spoilt_frames(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        change: Callable[[Shell], Shell | None], remake: Callable[[], object], says: str) -> int:
    """Build; spoil the memo's page frames with `change` (see rewrite_frames); `remake`
    (so that the pages are made again); build again: the memo's one warning, which `says`
    what was wrong, and the site a build from nothing makes. How many frames were spoilt."""
    odds = ("--snapshot", news.root / "snapshot.json")
    assert cli("build", "--root", news.root, *odds).code == 0
    count = rewrite_frames(tmp_path / "cache", change)
    assert count
    remake()
    run = cli("build", "--root", news.root, *odds)
    assert run.code == 0 and run.err.count("warning: cache:") == 1 and says in run.err, run.err
    assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, "fresh", *odds)
    return count


def _widget_slot(frame: Shell) -> int | None:
    """The first slot of an article's shell that holds a market's widget, if any."""
    return next((i for i, (written, _, _) in enumerate(frame.slots) if written), None)


# Article shells a damaged or crafted memo might hold under the right fingerprint.
SHELL_MISFITS: dict[str, Callable[[Shell], Shell]] = {
    # a widget of a market the article does not cite
    "market": lambda f: replace(f, slots=tuple(
        (written, "no-such-market", variant) if i == _widget_slot(f) else (written, key, variant)
        for i, (written, key, variant) in enumerate(f.slots))),
    "order": lambda f: replace(f, order=(len(f.slots), *f.order[1:])),  # a slot that is not there
    "negative": lambda f: replace(f, order=(-1, *f.order[1:])),
    "parts": lambda f: replace(f, parts=(*f.parts, "a part too many")),
    "item": lambda f: replace(f, item=(*f.item, "a part too many")),
}


@pytest.mark.parametrize("misfit_name", SHELL_MISFITS)
def test_an_article_shell_that_does_not_fit_its_page_is_made_again(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, misfit_name: str) -> None:
    spoil = SHELL_MISFITS[misfit_name]

    def spoilt(frame: Shell) -> Shell | None:
        if is_list_frame(frame) or _widget_slot(frame) is None or not frame.order or not frame.item:
            return None
        return spoil(frame)

    # The output removed, so that every page is made again, each from its shell in the memo.
    count = rebuilt_with_spoilt_frames(news, cli, tmp_path, monkeypatch, spoilt, lambda: shutil.rmtree(news.out),
                                       "an entry of the wrong shape")
    # Every spoilt shell was read, found not to fit, and replaced by the one made again.
    shells = [f for f in memo_frames(tmp_path / "cache") if not is_list_frame(f)]
    assert len(shells) >= count and not [f for f in shells if misfit(f)]


def test_a_shell_whose_odds_note_or_card_slot_names_anything_still_fits(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The "odds as of" line and the share card's slots name no market: whatever they say, the
    # shell fills the same page, and is no fault of the memo.
    odds = ("--snapshot", news.root / "snapshot.json")
    assert cli("build", "--root", news.root, *odds).code == 0

    def renamed(frame: Shell) -> Shell | None:
        if is_list_frame(frame) or not any(v == NOTE or v in CARD_SLOTS for _, _, v in frame.slots):
            return None
        return replace(frame, slots=tuple((w, "made-up", v) if v == NOTE or v in CARD_SLOTS else (w, k, v)
                                          for w, k, v in frame.slots))

    assert rewrite_frames(tmp_path / "cache", renamed)
    shutil.rmtree(news.out)
    run = cli("build", "--root", news.root, *odds)
    assert run.code == 0 and "warning: cache:" not in run.err, run.err
    assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, "fresh", *odds)


def misfit(shell: Shell) -> bool:
    """Whether an article's shell is one of SHELL_MISFITS."""
    return any(key == "no-such-market" for _, key, _ in shell.slots) \
        or any(not 0 <= i < len(shell.slots) for i in shell.order) or "a part too many" in (*shell.parts, *shell.item)


def test_a_frame_under_another_fingerprint_is_replaced(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every frame in the memo (articles' shells and list pages' frames) says it is another's:
    # each one the next build reads is an entry of the wrong shape, made again and replaced.
    odds = ("--snapshot", news.root / "snapshot.json")
    assert cli("build", "--root", news.root, *odds).code == 0
    assert rewrite_frames(tmp_path / "cache", lambda frame: replace(frame, fingerprint="0" * 32))
    news.snapshot({key: {**q, "change_24h": 0.031} for key, q in QUOTES.items()})
    run = cli("build", "--root", news.root, *odds)
    assert run.code == 0 and run.err.count("warning: cache:") == 1, run.err
    assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, "fresh", *odds)
    frames = memo_frames(tmp_path / "cache")
    assert any(is_list_frame(f) for f in frames) and any(not is_list_frame(f) for f in frames)
    assert sum(f.fingerprint != "0" * 32 for f in frames) > len(frames) // 2


def rewrite_frames(folder: Path, change: Callable[[Shell], Shell | None]) -> int:
    """Put `change(frame)` in the place of each page frame in the memo of the cache folder
    (None: leave it), with a right checksum, as a damaged build might have; how many changed."""
    changed = 0
    with sqlite3.connect(folder / MEMO_FILE) as db:
        for key, value in list(db.execute("SELECT key, value FROM entries")):
            try:
                frame = change(decode(Shell, unpack(value)))
            except WrongShape:
                continue
            if frame is not None:
                data = pack(encode(frame))
                db.execute("UPDATE entries SET sum = ?, value = ? WHERE key = ?", (_checksum(key, data), data, key))
                changed += 1
    return changed


def memo_frames(folder: Path) -> list[Shell]:
    """Every page frame in the memo of the cache folder: articles' shells and list pages' frames."""
    with sqlite3.connect(folder / MEMO_FILE) as db:
        values = [v for (v,) in db.execute("SELECT value FROM entries")]
    found = []
    for value in values:
        try:
            found.append(decode(Shell, unpack(value)))
        except WrongShape:
            continue  # another kind of entry
    return found


def memo_shells(folder: Path) -> list[Shell]:
    """Every article shell in the memo of the cache folder."""
    return [s for s in memo_frames(folder) if not is_list_frame(s)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_shells_cache_follows_the_published_articles(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int, renders: list[str]) -> None:
    # With workers, each chunk of 16 or more articles sends its new shells back pickled.
    in_workers(monkeypatch, jobs)
    site.snapshot({"m-one": quote("Will one happen?", 0.2)})
    for i in range(40):
        site.write(f"content/s{i}.md", article(f"S{i}", f"2026-11-1{i % 10}T0{i % 9}:00:00Z", f"Body {i}.",
                                               tags=["alpha"], markets=["m-one"]))
    odds = ("--snapshot", site.root / "snapshot.json")
    assert cli("build", "--root", site.root, *odds).code == 0
    first = memo_shells(tmp_path / "cache")
    assert sorted(s.parts[0].count("<title>S") for s in first) == [1] * 40
    renders.clear()
    site.snapshot({"m-one": quote("Will one happen?", 0.4)})
    assert cli("build", "--root", site.root, *odds).code == 0
    if jobs == 1:  # the workers' renders are not seen here
        assert renders and "article.html" not in renders, renders
    assert '<span class="odds__prob">40%</span>' in (site.out / "2026/11/s5/index.html").read_text()
    (site.root / "content/s3.md").unlink()
    site.write("content/s5.md", article("S5 edited", "2026-11-15T05:00:00Z", "New.", tags=["alpha"], markets=["m-one"]))
    assert cli("build", "--root", site.root, *odds).code == 0
    second = memo_shells(tmp_path / "cache")
    titles = re.findall(r"<title>(S[0-9]+(?: edited)?) ", "".join(s.parts[0] for s in second))
    assert len(second) == 39 and "S3" not in titles and "S5 edited" in titles
    assert [s for s in first if "<title>S6 " in s.parts[0]] == [s for s in second if "<title>S6 " in s.parts[0]]


def test_an_unchanged_article_file_is_not_parsed_again(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site.snapshot({"m-one": quote("Will one happen?", 0.2)})
    site.write("content/a.md", article("A", "2026-11-18", "Body A.", markets=["m-one"], colour=["x"]))
    site.write("content/b.md", article("B", "2026-11-19T08:00:00Z", "Body B."))
    # Kept without its body, which is cut from the file's text again: with a BOM and CRLFs too.
    crlf = article("C", "2026-11-19T09:00:00Z", "Body *C*, first line.\n\nSecond — paragraph.\n")
    (site.root / "content/c.md").write_bytes(b"\xef\xbb\xbf" + crlf.replace("\n", "\r\n").encode())
    parsed: list[str] = []
    real = pipeline.parse_article

    def counting(shown, raw, tz):  # type: ignore[no-untyped-def]
        parsed.append(shown)
        return real(shown, raw, tz)

    monkeypatch.setattr(pipeline, "parse_article", counting)

    def build(expect: list[str]) -> dict[str, bytes]:
        parsed.clear()
        run = cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json")
        assert run.code == 0 and sorted(parsed) == expect
        # A file read from the cache still has its warnings said.
        assert "content/a.md:5: warning: colour: unknown key; known keys: " in run.err
        return site.tree()

    first = build(["content/a.md", "content/b.md", "content/c.md"])
    assert b"Second \xe2\x80\x94 paragraph." in first["2026/11/c/index.html"]
    assert build([]) == first
    site.write("content/b.md", article("B, edited", "2026-11-19T08:00:00Z", "Body B."))
    assert b"B, edited" in build(["content/b.md"])["2026/11/b/index.html"]
    # A bare date means midnight where the site is: another timezone, another article.
    config = site.root / "site.yaml"
    config.write_text(config.read_text().replace("timezone: UTC", "timezone: America/New_York"))
    assert b"2026-11-18T00:00:00-05:00" in build(["content/a.md", "content/b.md", "content/c.md"])[
        "2026/11/a/index.html"]
    (tmp_path / "cache" / MEMO_FILE).write_bytes(b"not a memo")  # a damaged cache only costs time
    build(["content/a.md", "content/b.md", "content/c.md"])
    build([])
    # A build that stops on a file's errors keeps what it parsed: fixing that file is the
    # next build's only parse.
    site.write("content/b.md", article("B, again", "2026-11-19T08:00:00Z", "Body B."))
    site.write("content/d.md", "---\ndate: 2026-11-19\n---\nNo title.\n")
    parsed.clear()
    assert cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json").code == 1
    assert sorted(parsed) == ["content/b.md", "content/d.md"]
    site.write("content/d.md", article("D", "2026-11-19T10:00:00Z", "Body D."))
    stale = tmp_path / "cache" / "articles-0123456789ab.pickle"  # another version of the code's
    stale.write_bytes(b"old")
    build(["content/d.md"])
    assert not stale.exists()
    # A build that stops before reading any article (a bad setting) keeps the cache whole.
    good = config.read_text()
    config.write_text(good.replace("timezone: America/New_York", "timezone: Mars/Olympus"))
    assert cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json").code == 1
    config.write_text(good)
    build([])


def test_each_market_reference_is_parsed_once_a_use(  # type: ignore[no-untyped-def]
        site: Site, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    event = "https://polymarket.com/event/fed-decision"
    site.snapshot({"m-one": quote("Will one happen?", 0.2), "m-two": quote("Will two happen?", 0.4),
                   "event/fed-decision": quote("Fed decision?", 0.6, kind="event")})
    site.write("content/a.md", article("A", "2026-11-19T08:00:00Z",
                                       "Lead A.\n\n```market\nm-two\nm-one\n```\n", markets=["m-one", event]))
    site.write("content/b.md", article("B", "2026-11-19T09:00:00Z", "Lead B.\n\n```market\nm-two\n```\n"))
    # Each place a reference is written, frontmatter and body: a.md's m-one twice, m-two in both files.
    uses = Counter({"m-one": 2, event: 1, "m-two": 2})
    parsed: Counter[str] = Counter()
    real = refs.parse_ref

    def counting(text: str) -> refs.MarketRef:
        parsed[text] += 1
        return real(text)

    # Under every name the package has it by, whichever module asks.
    names = [m for name, m in sys.modules.items() if name.startswith("marketnews")
             and getattr(m, "parse_ref", None) is real]
    assert refs in names and pipeline in names
    for module in names:
        monkeypatch.setattr(module, "parse_ref", counting)
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")  # every parse in this process, where it is counted
    run = cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json")
    assert run.code == 0, run.err
    assert parsed == uses
    page = site.page("2026/11/a/index.html")
    assert "Will two happen?" in page and "Fed decision?" in page
    assert "Will two happen?" in site.page("2026/11/b/index.html")
    # A warm build reads its articles from the memo, their references parsed: none is parsed again.
    parsed.clear()
    site.snapshot({"m-one": quote("Will one happen?", 0.25), "m-two": quote("Will two happen?", 0.4),
                   "event/fed-decision": quote("Fed decision?", 0.6, kind="event")})
    assert cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json").code == 0
    assert "25%" in site.page("2026/11/a/index.html") and not parsed


def test_files_in_layouts_that_no_page_uses_are_not_the_builds_business(  # type: ignore[no-untyped-def]
        site: Site, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # Layouts are compiled before worker processes fork: an editor's swap file, an image or a
    # broken template that no page uses must not stop the build.
    monkeypatch.setenv("MARKETNEWS_JOBS", "2")
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)
    site.snapshot({"m-one": quote("Will one happen?", 0.2)})
    for i in range(40):  # more than one chunk of pages: worker processes
        site.write(f"content/s{i}.md", article(f"S{i}", f"2026-11-1{i % 10}T{i % 24:02d}:00:00Z", "Text.",
                                               markets=["m-one"]))
    (site.root / "layouts/.article.html.swp").write_bytes(b"\xff\xfe\x00binary")
    (site.root / "layouts/partials/logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xff")
    (site.root / "layouts/partials/unused.html").write_text("{% if %}")
    run = cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json")
    assert run.code == 0, run.err
    assert "Will one happen?" in site.page("2026/11/s1/index.html")


def test_an_article_whose_text_looks_like_a_widget_slot_is_refused(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    # A widget slot is "\0mn:N\0": no title or body may hold a NUL (nor could a page or a feed).
    news.write("content/xi.md", XI.replace("Xi stays", "Xi \\0mn:0\\0 stays"))
    run = cli("build", "--root", news.root)
    assert run.code == 1
    assert "content/xi.md:2: title: contains U+0000 (a control character), which no page or feed can hold" in run.err
    news.write("content/xi.md", XI.replace("Beijing text.", "Beijing \0mn:0\0 text."))
    run = cli("build", "--root", news.root)
    assert run.code == 1 and "content/xi.md:7: contains U+0000 (a control character)" in run.err


def test_a_write_that_fails_names_its_file_and_leaves_the_output_folder_as_it_was(  # type: ignore[no-untyped-def]
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    writer.write_site([OutputFile("index.html", b"old home")], out)
    files = [OutputFile("index.html", b"home")] + [OutputFile(f"p{i}/index.html", b"page") for i in range(600)]
    real_open, real_write = writer.os.open, writer.os.write
    opened: dict[int, str] = {}

    def open_(path, flags, *mode):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, *mode)
        opened[fd] = str(path)
        return fd

    def write(fd, data):  # type: ignore[no-untyped-def]
        if opened.get(fd, "").endswith("p300/index.html"):
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(writer.os, "open", open_)
    monkeypatch.setattr(writer.os, "write", write)
    with pytest.raises(MarketnewsError, match=r"p300/index.html: could not be written \(No space left"):
        writer.write_site(files, out)
    assert sorted(p.name for p in out.iterdir()) == sorted([writer.RECORD, "index.html"])
    assert (out / "index.html").read_bytes() == b"old home"
    assert not list(out.rglob("*.mn-tmp"))
    # The page half written into the spare tree is written whole by the next build.
    monkeypatch.undo()
    files[301] = OutputFile("p300/index.html", b"the page, longer than what was half written")
    writer.write_site(files, out)
    assert (out / "p300/index.html").read_bytes() == b"the page, longer than what was half written"
    assert (out / "p299/index.html").read_bytes() == b"page" and (out / "index.html").read_bytes() == b"home"


def test_a_rename_that_fails_names_its_file_and_leaves_no_temporary_files(  # type: ignore[no-untyped-def]
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file is renamed into the spare tree when something else is in its place there:
    # here the folder of pages the build before last wrote where a file now goes.
    out = tmp_path / "out"
    writer.write_site([OutputFile("index.html", b"home"), OutputFile("p300/x/index.html", b"x")], out)
    writer.write_site([OutputFile("index.html", b"home 2")], out)  # the spare now holds p300/x/
    real = writer.os.replace

    def replace(src, dst):  # type: ignore[no-untyped-def]
        if str(dst).endswith("p300"):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(writer.os, "replace", replace)
    with pytest.raises(MarketnewsError, match=r"p300: could not be put in place .*No space left"):
        writer.write_site([OutputFile("index.html", b"home 3"), OutputFile("p300", b"page")], out)
    assert (out / "index.html").read_bytes() == b"home 2"
    assert not list(out.rglob("*.mn-tmp")) and not list(writer.state_folder(out).rglob("*.mn-tmp"))


def test_a_link_of_someone_s_carried_into_the_spare_tree_is_never_written_through(tmp_path: Path) -> None:
    # A link you put in the output folder is carried into each new site; once you remove
    # it, a page may go where it was. The link's copy in the spare tree (the build before
    # last) is replaced by a folder, not followed.
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    writer.write_site([OutputFile("index.html", b"1")], out)
    os.symlink(elsewhere, out / "docs")
    writer.write_site([OutputFile("index.html", b"2")], out)
    writer.write_site([OutputFile("index.html", b"3")], out)  # the spare: the site of "2", with the link
    os.unlink(out / "docs")
    report = writer.write_site([OutputFile("index.html", b"4"), OutputFile("docs/index.html", b"page")], out)
    assert report.added == 1
    assert (out / "docs").is_dir() and not (out / "docs").is_symlink()
    assert (out / "docs/index.html").read_bytes() == b"page"
    assert list(elsewhere.iterdir()) == []


def test_a_worker_that_cannot_write_a_page_leaves_no_folder_behind(  # type: ignore[no-untyped-def]
        news: Site, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    add_extras(news, 40)
    in_workers(monkeypatch)
    real_open, real_write_bytes = writer.os.open, Path.write_bytes

    # The workers are forked: they inherit these. No file can be made in that folder,
    # neither at its path nor under a temporary name.
    def open_(path, flags, *mode):  # type: ignore[no-untyped-def]
        if flags & os.O_CREAT and Path(path).parent.name == "extra-39":
            raise OSError(28, "No space left on device")
        return real_open(path, flags, *mode)

    def write_bytes(self: Path, data: bytes) -> int:
        if self.parent.name == "extra-39":
            raise OSError(28, "No space left on device")
        return real_write_bytes(self, data)

    monkeypatch.setattr(writer.os, "open", open_)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    run = cli("build", "--root", news.root)
    assert run.code != 0 and "No space left on device" in run.err
    assert not news.out.exists()


@pytest.mark.parametrize("had_out", [True, False])
def test_what_a_stopped_worker_left_never_reaches_the_output_folder(tmp_path: Path, had_out: bool) -> None:
    # A worker stopped between making a folder and writing into it leaves an empty folder
    # in the spare tree the writer was never told of: the failed build leaves the output
    # as it was, and the next build publishes none of it.
    out = tmp_path / "new" / "out"  # its parent too is made by the build when new
    spare = writer.state_folder(out) / "spare"
    if had_out:
        writer.write_site([OutputFile("index.html", b"home"), OutputFile("a/b/index.html", b"page")], out)
        (out / ".well-known").mkdir()  # someone's own empty folder
    before = tree(out) if had_out else {}

    def files():  # type: ignore[no-untyped-def]
        yield OutputFile("c/index.html", b"new page")
        (spare / "d" / "e").mkdir(parents=True)  # made by a worker, then stopped
        (spare / "a" / "b" / "f").mkdir(parents=True, exist_ok=True)
        (spare / "a" / "b" / ".x.mn-tmp").write_bytes(b"half a page")
        yield OutputFile("c/index.html", b"again")

    with pytest.raises(MarketnewsError, match="written twice"):
        writer.write_site(files(), out, set(before))
    if had_out:
        assert tree(out) == before
        assert sorted(p.name for p in out.rglob("*") if p.is_dir()) == [".well-known", "a", "b"]
    else:
        assert not out.exists()
    # A new home page: a build that changed nothing would switch nothing, and publish nothing anyway.
    writer.write_site([OutputFile("index.html", b"new home"), OutputFile("a/b/index.html", b"page")], out)
    assert tree(out) == {"index.html": b"new home", "a/b/index.html": b"page", writer.RECORD: ANY}
    assert sorted(p.name for p in out.rglob("*") if p.is_dir()) == ([".well-known"] if had_out else []) + ["a", "b"]


def test_a_failing_write_stops_what_makes_the_files(tmp_path: Path) -> None:
    events: list[str] = []

    def files():  # type: ignore[no-untyped-def]
        try:
            yield OutputFile("index.html", b"home")
            yield OutputFile("index.html", b"again")
            yield OutputFile("never.html", b"x")
        finally:
            events.append("closed")

    with pytest.raises(MarketnewsError, match="written twice"):
        writer.write_site(files(), tmp_path / "out")
    assert events == ["closed"] and not (tmp_path / "out").exists()


def test_a_write_that_changes_nothing_leaves_the_folder_and_the_spare_as_they_are(tmp_path: Path) -> None:
    out = tmp_path / "out"
    spare = writer.state_folder(out) / "spare"
    files = [OutputFile("index.html", b"home"), OutputFile("a/b/index.html", b"page")]
    writer.write_site([OutputFile("index.html", b"old home"), OutputFile("gone.html", b"x"), *files[1:]], out)
    writer.write_site(files, out)  # the spare tree is now the first write: stale
    (out / "CNAME").write_text("news.example.org\n")  # someone's own file, added since
    before, spare_before = entries(out), entries(spare)
    called: list[str] = []
    for same in (files, [OutputFile("index.html", None), *files[1:]]):  # compared, or kept from the last build
        report = writer.write_site(same, out, before_switch=lambda: called.append("before"))
        assert report == writer.WriteReport(written=2, added=0, changed=0, unchanged=2, removed=0, touched=())
        assert entries(out) == before and entries(spare) == spare_before
    assert called == ["before", "before"]  # it runs, though nothing is switched
    report = writer.write_site(files[:1], out, partial=True, gone={"gone.html"})  # not in this build: not gone
    assert (report.unchanged, report.touched) == (1, ()) and entries(out) == before

    def fails() -> None:
        raise RuntimeError("could not save")

    with pytest.raises(RuntimeError, match="could not save"):  # fails the write, as it would before a switch
        writer.write_site(files, out, before_switch=fails)
    assert entries(out) == before and entries(spare) == spare_before

    # A record that names the same files in another form is written anew: that is a switch.
    (out / writer.RECORD).write_text("a/b/index.html\nindex.html\n")
    assert writer.write_site(files, out).touched == ()
    assert writer.read_record(out) == {"index.html", "a/b/index.html"} and entries(out)[""] != before[""]
    assert (out / writer.RECORD).read_text().startswith("# marketnews")
    # made from the stale spare tree (an old home page, a file since gone): made right
    assert tree(out) == {"index.html": b"home", "a/b/index.html": b"page", "CNAME": b"news.example.org\n",
                         writer.RECORD: ANY}
    writer.write_site([OutputFile("index.html", b"home 2"), *files[1:]], out)
    assert tree(out) == {"index.html": b"home 2", "a/b/index.html": b"page", "CNAME": b"news.example.org\n",
                         writer.RECORD: ANY}
    assert os.stat(out / "a/b/index.html").st_ino == before["a/b/index.html"][0]
    report = writer.write_site(files[:1], out, partial=True, gone={"a/b/index.html"})
    assert report.touched == ("a/b/index.html", "index.html") and report.removed == 1
    assert set(tree(out)) == {"index.html", "CNAME", writer.RECORD} and not (out / "a").exists()


def test_a_build_that_changes_nothing_switches_nothing_and_the_next_mends_the_spare(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    odds = ("--snapshot", news.root / "snapshot.json")
    spare = writer.state_folder(news.out) / "spare"
    assert cli("build", "--root", news.root, *odds).code == 0
    news.snapshot(dict(QUOTES, **{"xi-out": quote("Xi out before 2027?", 0.12)}))
    assert cli("build", "--root", news.root, *odds).code == 0  # the spare: the first build, stale now

    def no_op() -> None:
        before, spare_before = entries(news.out), entries(spare)
        run = cli("build", "--root", news.root, *odds)
        files = len(writer.read_record(news.out) or ())
        assert run.code == 0 and run.out.splitlines()[-1].endswith(
            f"0 changed, 0 added, 0 removed, {files:,} unchanged")
        assert entries(news.out) == before and entries(spare) == spare_before  # same inodes, same times

    no_op()
    last = news.tree()
    news.write("content/xi.md", XI.replace("Beijing text.", "New text."))
    run = cli("build", "--root", news.root, *odds)
    assert run.code == 0 and changed_files(run.out)[0] > 0
    assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, "edited", *odds)
    assert tree(spare) == last  # the site before, whole
    no_op()
    (news.root / "content/knicks.md").unlink()
    run = cli("build", "--root", news.root, *odds)
    assert run.code == 0 and changed_files(run.out)[2] == 6 and not (news.out / "2026/11/knicks").exists()
    assert news.tree() == fresh_build(news, cli, tmp_path, monkeypatch, "removed", *odds)


def test_a_front_page_after_the_first_does_not_depend_on_the_biggest_moves(  # type: ignore[no-untyped-def]
        site: Site, cli, renders: list[str]) -> None:
    # Page 1 lists A (m-one) and B (m-two) and the biggest moves (m-two, m-three: not the
    # lead story's market); page 2 lists C and D (m-three). A price move of m-two changes
    # page 1 and its moves, not page 2, which is kept as it is.
    quotes = {key: quote(f"Will {key} happen?", 0.4) for key in ("m-one", "m-two", "m-three")}
    site.snapshot(quotes)
    for name, day, market in (("a", 20, "m-one"), ("b", 19, "m-two"), ("c", 18, "m-three"), ("d", 17, "m-three")):
        site.write(f"content/{name}.md", article(name.upper(), f"2026-11-{day}T09:00:00Z", markets=[market]))
    odds = ("--snapshot", site.root / "snapshot.json")
    assert cli("build", "--root", site.root, *odds).code == 0
    assert "Will m-two happen?" in site.page("index.html")
    assert "Will m-two happen?" not in site.page("page/2/index.html")
    site.snapshot(dict(quotes, **{"m-two": quote("Will m-two happen?", 0.45)}))
    renders.clear()
    assert cli("build", "--root", site.root, *odds).code == 0
    assert renders.count("index.html") == 1, renders  # the front page alone
    assert "45%" in site.page("index.html")


def test_a_frame_of_very_many_slots_is_marked_in_time_that_grows_with_them() -> None:
    """A frame's slots were numbered by searching the list of them for each mark: an
    article of 8,000 widgets took 0.9 s for that alone, growing as the square. The same
    slot twice is still one slot, and a share card's slot, added as its own, keeps its
    number when a widget's mark names the same slot."""
    from marketnews.site import _Marks
    from tests.hang import fails_if_hung

    marks = _Marks()
    card = marks.add(("", "", "card-url"))
    assert str(marks.mark(("", "", "card-url"))) == f"\x00mn:{card}\x00" and marks.add(("", "", "card-url")) == 1
    with fails_if_hung("a frame of very many slots", seconds=30):
        numbers = [str(marks.mark((f"m{i}", f"k{i}", "inline"))) for i in range(300000)]
        again = [str(marks.mark((f"m{i}", f"k{i}", "inline"))) for i in range(0, 300000, 1000)]
    assert numbers[0] == "\x00mn:2\x00" and numbers[-1] == "\x00mn:300001\x00"
    assert again == numbers[::1000] and len(marks.slots) == 300002

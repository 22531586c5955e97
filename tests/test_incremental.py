"""Rebuilds from a BuildState (the dev server's) give the same site as a full build, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from marketnews import pipeline
from marketnews.cache import Memo, WrongShape, decode, unpack
from marketnews.errors import ContentError
from marketnews.markets.snapshots import snapshot_from_file
from marketnews.pipeline import BuildOptions, BuildReport, BuildState, Gathered, SitePaths, build
from marketnews.site import Shell
from tests.conftest import NOW_EPOCH, Site, article, is_list_frame, quote, tree

NOW = datetime.fromtimestamp(NOW_EPOCH, tz=UTC)
OPTIONS = BuildOptions(drafts=True, future=True, jobs=1)


class Rebuilds:
    """Builds `site` incrementally into one folder and from scratch into another, and compares."""

    def __init__(self, site: Site, tmp: Path, options: BuildOptions = OPTIONS):
        self.site, self.options = site, options
        self.paths = SitePaths(site.root, site.root / "content", tmp / "incremental", None)
        self.fresh = SitePaths(site.root, site.root / "content", tmp / "fresh", None)
        self.source = snapshot_from_file(site.root / "snapshot.json")
        self.odds: Any = None
        self.state = BuildState(store=Memo(None))

    def once(self, gathered: Gathered, now: datetime) -> Any:
        if self.odds is None:
            self.odds = self.source(gathered, now)
        return self.odds

    def build(self, *changed: str) -> BuildReport:
        paths = None if self.state.gathered is None else {self.site.root / c for c in changed}
        report = build(self.paths, self.options, NOW, self.once, previous=self.state, changed=paths)
        assert report.state is not None
        self.state = report.state
        build(self.fresh, self.options, NOW, self.once)
        assert tree(self.paths.out) == tree(self.fresh.out)
        return report


@pytest.fixture
def rebuilds(site: Site, tmp_path: Path) -> Rebuilds:
    site.snapshot({"m-one": quote("Will one happen?", 0.2), "m-two": quote("Will two happen?", 0.6)})
    for i in range(6):
        site.write(f"content/story-{i}.md", article(
            f"Story {i}", date=f"2026-11-{10 + i:02d}T09:00:00Z", tags=["alpha", "beta"][: 1 + i % 2],
            markets=["m-one"] if i % 2 else ["m-two"], body=f"First paragraph of story {i}.\n\nMore text {i}."))
    r = Rebuilds(site, tmp_path)
    r.build()
    return r


def test_body_and_title_edits_render_only_what_shows_the_article(rebuilds: Rebuilds, site: Site) -> None:
    site.write("content/story-2.md", article("Story 2", date="2026-11-12T09:00:00Z", tags=["alpha"],
                                             markets=["m-two"], body="First paragraph of story 2.\n\nRewritten."))
    report = rebuilds.build("content/story-2.md")
    assert report.written is not None  # the list item is unchanged: only the page and the feeds (full text)
    assert report.written.touched == ("2026/11/story-2/index.html", "feed.xml", "tags/alpha/feed.xml")

    site.write("content/story-2.md", article("Story 2, retitled", date="2026-11-12T09:00:00Z", tags=["alpha"],
                                             markets=["m-two"], body="First paragraph of story 2."))
    report = rebuilds.build("content/story-2.md")
    assert report.written is not None
    touched = set(report.written.touched)
    assert "2026/11/story-2/index.html" in touched and "tags/alpha/page/2/index.html" in touched
    # Other stories' pages change only where their "More on these markets" lists it.
    pages = {t for t in touched if t.startswith("2026/") and t != "2026/11/story-2/index.html"}
    listing = {p for p, data in tree(rebuilds.paths.out).items()
               if p.startswith("2026/") and b"Story 2, retitled</a> <time" in data}
    assert pages == listing


def test_a_retitled_lead_story_is_made_again_on_every_page_that_names_it(
        rebuilds: Rebuilds, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    whole: list[int] = []  # builds that looked at every page
    every_page = pipeline.site_files
    monkeypatch.setattr(pipeline, "site_files", lambda *a, **k: (whole.append(1), every_page(*a, **k))[1])
    site.write("content/story-5.md", article("Story 5, retitled", date="2026-11-15T09:00:00Z", tags=["alpha", "beta"],
                                             markets=["m-one"], body="First paragraph of story 5.\n\nMore text 5."))
    report = rebuilds.build("content/story-5.md")  # the same bytes as a full build (Rebuilds.build)
    assert report.written is not None
    touched = set(report.written.touched)
    assert {"404.html", "index.html", "markets/index.html"} <= touched  # latest stories, biggest moves
    assert "markets/m-two/index.html" not in touched  # only the files that show the story
    assert sum(t.startswith("cards/story-5-") for t in touched) == 2  # its share card renamed: one made, one gone
    assert len(whole) == 1  # the full build Rebuilds compares with; the rebuild made only what shows the story
    assert all(b"Story 5, retitled" in tree(rebuilds.paths.out)[t] for t in touched if t.endswith(".html"))


def test_the_next_build_in_the_process_has_every_shell_and_the_new_ones_win(
        rebuilds: Rebuilds, site: Site, renders: list[str]) -> None:
    def shells() -> list[Shell]:
        """The shells in the dev server's memo (in memory)."""
        found = []
        for value in rebuilds.state.store.new.values():
            try:
                found.append(decode(Shell, unpack(value)))
            except WrongShape:
                continue  # another kind of entry
        return [s for s in found if not is_list_frame(s)]

    def story(shell: Shell) -> str:
        return shell.parts[0].split("<title>", 1)[1].split(" ", 2)[1]

    assert sorted(story(s) for s in shells()) == [str(i) for i in range(6)]
    site.write("content/story-2.md", article("Story 2", date="2026-11-12T09:00:00Z", tags=["alpha"],
                                             markets=["m-two"], body="First paragraph of story 2.\n\nRewritten."))
    rebuilds.build("content/story-2.md")
    assert {story(s) for s in shells()} == {str(i) for i in range(6)}
    assert any("Rewritten" in "".join(s.parts) for s in shells())
    site.snapshot({"m-one": quote("Will one happen?", 0.3), "m-two": quote("Will two happen?", 0.5)})
    rebuilds.odds = None
    renders.clear()
    build(rebuilds.paths, rebuilds.options, NOW, rebuilds.once, previous=rebuilds.state, changed=set())
    assert renders and "article.html" not in renders, renders  # every page refilled from its shell


@pytest.mark.parametrize("change", ["date", "tags", "markets", "inline", "draft", "slug"])
def test_edits_that_move_an_article(rebuilds: Rebuilds, site: Site, change: str) -> None:
    front: dict[str, Any] = {"date": "2026-11-13T09:00:00Z", "tags": ["beta"], "markets": ["m-one"]}
    body = "First paragraph of story 3.\n\nMore text 3."
    if change == "date":
        front["date"] = "2026-11-01T09:00:00Z"
    elif change == "tags":
        front["tags"] = ["gamma"]
    elif change == "markets":
        front["markets"] = ["m-two", "m-one"]
    elif change == "inline":
        body += "\n\n```market\nm-two\n```\n"
    elif change == "draft":
        front["draft"] = True
    else:
        front["slug"] = "another-url"
    site.write("content/story-3.md", article("Story 3", body=body, **front))
    rebuilds.build("content/story-3.md")


def test_added_deleted_and_renamed_files(rebuilds: Rebuilds, site: Site) -> None:
    site.write("content/new.md", article("New story", date="2026-11-20T10:00:00Z", tags=["alpha"]))
    rebuilds.build("content/new.md")
    (site.root / "content/story-0.md").rename(site.root / "content/story-zero.md")
    rebuilds.build("content/story-0.md", "content/story-zero.md")
    (site.root / "content/new.md").unlink()
    rebuilds.build("content/new.md")
    (site.root / "content/sub").mkdir()
    (site.root / "content/story-5.md").rename(site.root / "content/sub/story-5.md")
    rebuilds.build("content/story-5.md", "content/sub")


def test_layout_static_and_settings_changes_rebuild_everything(rebuilds: Rebuilds, site: Site) -> None:
    layout = site.root / "layouts/partials/article_item.html"
    layout.write_text(layout.read_text().replace('class="story"', 'class="story story--x"'))
    report = rebuilds.build("layouts/partials/article_item.html")
    assert report.written is not None and "index.html" in report.written.touched
    site.write("static/css/extra.css", "a { color: red }\n")
    rebuilds.build("static/css/extra.css")
    site.write("site.yaml", (site.root / "site.yaml").read_text().replace("per_page: 2", "per_page: 3"))
    rebuilds.build("site.yaml")


def test_a_static_file_added_where_an_article_page_is_is_that_articles_error_in_a_rebuild_too(
        rebuilds: Rebuilds, site: Site) -> None:
    site.write("static/2026/11/story-2/index.html", "<p>by hand</p>")
    with pytest.raises(ContentError) as err:
        build(rebuilds.paths, OPTIONS, NOW, rebuilds.once, previous=rebuilds.state,
              changed={site.root / "static/2026/11/story-2/index.html"})
    assert [str(p) for p in err.value.problems] == [
        "content/story-2.md:1: slug: URL /2026/11/story-2/ would take the place of static/2026/11/story-2/index.html; "
        "give the article another 'slug:', or change the permalink"]


def test_a_failed_rebuild_changes_nothing_and_the_next_one_catches_up(rebuilds: Rebuilds, site: Site) -> None:
    site.write("content/story-1.md", "---\ntitle: broken\n---\n")
    site.write("content/story-4.md", article("Story 4, edited", date="2026-11-14T09:00:00Z", tags=["alpha"],
                                             markets=["m-two"]))
    before = tree(rebuilds.paths.out)
    with pytest.raises(ContentError):
        build(rebuilds.paths, OPTIONS, NOW, rebuilds.once, previous=rebuilds.state,
              changed={site.root / "content/story-1.md", site.root / "content/story-4.md"})
    assert tree(rebuilds.paths.out) == before
    site.write("content/story-1.md", article("Story 1", date="2026-11-11T09:00:00Z", tags=["alpha", "beta"],
                                             markets=["m-one"]))
    rebuilds.build("content/story-1.md", "content/story-4.md")  # what the dev server passes: all since the last


def test_with_plain_asset_names_a_stylesheet_edit_writes_that_file_alone(site: Site, tmp_path: Path) -> None:
    site.snapshot({})
    site.write("content/one.md", article("One", tags=["alpha"]))
    rebuilds = Rebuilds(site, tmp_path, BuildOptions(drafts=True, future=True, jobs=1, asset_hashes=False))
    rebuilds.build()
    css = site.root / "static/css/site.css"
    css.write_text(css.read_text() + "\n.marker { color: red }\n")
    report = rebuilds.build("static/css/site.css")
    assert report.written is not None and report.written.touched == ("css/site.css",)
    site.write("content/one.md", article("One, edited", tags=["alpha"]))
    rebuilds.build("content/one.md")


DEV = BuildOptions(drafts=True, future=True, jobs=1, asset_hashes=False)  # as the dev server builds


def test_a_stylesheet_edit_survives_the_next_article_edit(site: Site, tmp_path: Path) -> None:
    site.snapshot({"m-one": quote("Will one happen?", 0.2)})
    site.write("content/a.md", article("A", markets=["m-one"]))
    r = Rebuilds(site, tmp_path, DEV)
    r.build()
    css = site.root / "static/css/site.css"
    css.write_text(css.read_text() + "\n/* edited */\n")
    r.build("static/css/site.css")
    site.write("content/b.md", article("B", date="2026-11-19T08:00:00Z"))
    r.build("content/b.md")
    assert "/* edited */" in (r.paths.out / "css/site.css").read_text()


def test_an_image_that_changes_size_changes_the_pages_that_show_it(site: Site, tmp_path: Path) -> None:
    site.snapshot({})
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}"></svg>'
    site.write("static/images/pic.svg", svg.format(w=1200, h=630))
    site.write("content/a.md", article("A", image="/images/pic.svg", image_alt="A picture"))
    r = Rebuilds(site, tmp_path, DEV)
    r.build()
    site.write("static/images/pic.svg", svg.format(w=333, h=111))
    r.build("static/images/pic.svg")  # compares with a fresh build
    assert 'width="333" height="111"' in (r.paths.out / "2026/11/a/index.html").read_text()


@pytest.fixture
def in_workers(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rebuilds:
    """Eight stories on one topic and market, built by worker processes however few they are."""
    from marketnews import pipeline

    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)
    site.snapshot({"m-one": quote("Will one happen?", 0.2)})
    for i in range(8):
        site.write(f"content/s{i}.md", article(f"S{i}", date=f"2026-11-1{i}T09:00:00Z", tags=["alpha"],
                                              markets=["m-one"], summary=f"Summary {i}"))
    return Rebuilds(site, tmp_path, BuildOptions(drafts=True, future=True, jobs=2))


def test_moving_an_article_between_topics_when_list_pages_render_in_workers(in_workers: Rebuilds,
                                                                             site: Site) -> None:
    r = in_workers
    r.build()
    site.write("content/s1.md", article("S1", date="2026-11-11T09:00:00Z", tags=["alpha"], markets=["m-one"],
                                        summary="Summary 1", body="An edited body."))
    r.build("content/s1.md")  # a content-only edit: this process now holds the topic grouping
    site.write("content/s1.md", article("S1", date="2026-11-11T09:00:00Z", tags=["beta"], markets=["m-one"],
                                        summary="Summary 1"))
    r.build("content/s1.md")
    site.write("content/s1.md", article("S1", date="2026-11-11T09:00:00Z", tags=["beta"], markets=["m-one"],
                                        summary="A new summary"))
    r.build("content/s1.md")  # compares with a fresh build: the topic lists must agree


def test_after_a_first_build_in_workers_a_body_edit_looks_at_the_pages_showing_it_alone(
        in_workers: Rebuilds, site: Site) -> None:
    # Worker processes work out the article fingerprints; they must come back
    # to this process, or the next edit would have to look at every page again.
    r = in_workers
    first = r.build()
    site.write("content/s1.md", article("S1", date="2026-11-11T09:00:00Z", tags=["alpha"], markets=["m-one"],
                                        summary="Summary 1", body="An edited body."))
    report = r.build("content/s1.md")
    assert first.written is not None and report.written is not None
    assert report.written.touched == ("2026/11/s1/index.html", "feed.xml", "tags/alpha/feed.xml")
    assert report.written.written < first.written.written // 2  # the files that show s1, not every file


def test_two_spellings_of_one_market_keep_their_own_links_after_a_first_build_in_workers(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each widget slot of a page is filled with the reference written there, not with
    # another reference to the same market (which a market without odds shows as its question).
    from marketnews import pipeline

    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)
    site.snapshot({"other": quote("Other?", 0.5)})
    body = "Text.\n\n```market\nfoo\n```\n\nMore.\n\n```market\npolymarket.com/event/e/foo\n```\n"
    site.write("content/b.md", article("B", date="2026-11-10T09:00:00Z", body=body))
    r = Rebuilds(site, tmp_path, BuildOptions(drafts=True, future=True, jobs=2, asset_hashes=False))
    r.build()
    (r.paths.out / "2026/11/b/index.html").unlink()  # so that the next build makes it again
    site.write("content/c.md", article("C", date="2026-11-11T09:00:00Z", body="New."))
    r.build("content/c.md")  # compares with a fresh build
    page = (r.paths.out / "2026/11/b/index.html").read_text()
    assert 'data-market="foo"' in page and 'data-market="polymarket.com/event/e/foo"' in page
    assert '<a href="/markets/foo/">foo</a>' in page
    assert '<a href="/markets/foo/">polymarket.com/event/e/foo</a>' in page


def test_the_dev_servers_memo_keeps_every_body_through_a_build_that_reads_none_in_this_process(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An odds refresh (changed=None) with the pages made in worker processes: the bodies
    # they read are not counted in this process. The memo (in memory, as the dev server's)
    # must still keep every body: the next build that renders pages whole reads each from
    # it, not from its file again.
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)
    site.snapshot({"m-one": quote("Will one happen?", 0.2)})
    for i in range(40):  # three chunks of articles: worker processes
        site.write(f"content/s{i}.md", article(f"S{i}", date=f"2026-11-{10 + i % 10}T0{i % 10}:00:00Z",
                                              tags=["alpha"], markets=["m-one"], body=f"Story {i}.\n\nMore {i}."))
    r = Rebuilds(site, tmp_path, BuildOptions(drafts=True, future=True, jobs=2))
    r.build()
    site.snapshot({"m-one": quote("Will one happen?", 0.3)})
    r.odds = None
    report = build(r.paths, r.options, NOW, r.once, previous=r.state, changed=None)
    assert report.state is not None and report.state.gathered is not None
    bodies = {ref.key for ref in report.state.gathered.bodies.refs.values()}
    assert len(bodies) == 40 and bodies <= report.state.store.new.keys()
    entries = {ref.entry for ref in report.state.gathered.bodies.refs.values()}  # each file's, as read
    assert len(entries) == 40 and entries <= report.state.store.new.keys()
    parsed = tmp_path / "parsed"
    real = pipeline.parse_article

    def parse_article(path: str, *args: Any, **kwargs: Any) -> Any:
        with parsed.open("a") as f:  # (a file: the workers' calls are counted too)
            f.write(path + "\n")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "parse_article", parse_article)
    layout = site.root / "layouts/base.html"
    layout.write_text(layout.read_text().replace("</footer>", "</footer><!-- edited -->", 1))
    report = build(r.paths, r.options, NOW, r.once, previous=report.state, changed={layout})
    assert report.state is not None and not parsed.exists() and report.state.store.faults == []
    assert "<!-- edited -->" in (r.paths.out / "2026/11/s0/index.html").read_text()

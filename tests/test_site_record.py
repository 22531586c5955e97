"""The site record: a build whose every input is the last build's, the output folder as
that build left it, renders and writes nothing; any change to an input, to a file of the
site, or to what the pages show of the clock makes the site again."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from marketnews import pipeline
from marketnews.cache import MEMO_FILE

from .conftest import Site, article, entries, quote, tree

QUOTES = {
    "m-one": quote("Will one happen?", 0.2, end_date="2026-11-21T18:30:00Z"),  # stale from 18:00, past its end 18:30
    "m-two": quote("Will two happen?", 0.6),
}
STORIES = {  # the clock is 2026-11-21T17:00:00Z
    "soon": "2026-11-21T17:30:00Z",  # dated in the future until 17:30
    "card": "2026-11-14T17:20:00Z",  # has a share card (card_days: 7) until 17:20
    "news": "2026-11-19T17:40:00Z",  # in the news sitemap (two days) until 17:40
    "old": "2026-10-01T09:00:00Z",
}


def fill(site: Site) -> None:
    site.snapshot(QUOTES)
    for name, date in STORIES.items():
        site.write(f"content/{name}.md", article(f"Story {name}", date, "Text.\n\n```market\nm-two\n```\n",
                                                 markets=["m-one"], tags=["alpha"]))


def epoch(when: str) -> str:
    return str(int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()))


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many builds made the site (rendered it), counted as they run."""
    made: list[int] = []
    real = pipeline._render_and_write

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_render_and_write", counted)
    return made


def build(site: Site, cli: Callable[..., Any], *extra: str | Path) -> Any:
    run = cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json", *extra)
    assert run.code == 0, run.err
    return run


def test_a_build_of_the_same_input_touches_nothing(site: Site, cli: Callable[..., Any],  # type: ignore[no-untyped-def]
                                                   renders: list[int], tmp_path: Path) -> None:
    fill(site)
    build(site, cli)
    first, before = tree(site.out), entries(site.out)
    memo = tmp_path / "cache" / MEMO_FILE
    with sqlite3.connect(memo) as db:
        kept = {k for (k,) in db.execute("SELECT key FROM entries")}
    run = build(site, cli)
    assert len(renders) == 1
    assert tree(site.out) == first and entries(site.out) == before  # not one file or folder touched
    assert "0 changed, 0 added, 0 removed" in run.out
    with sqlite3.connect(memo) as db:  # nothing pruned: what the last build made is still the site's
        assert kept <= {k for (k,) in db.execute("SELECT key FROM entries")}
    # Someone's own file in the output folder is not the build's: the site is still as built.
    (site.out / "theirs.txt").write_text("mine")
    build(site, cli)
    assert len(renders) == 1 and (site.out / "theirs.txt").read_text() == "mine"


def test_a_snapshot_file_changed_only_where_the_site_does_not_look_keeps_the_site(  # type: ignore[no-untyped-def]
        site: Site, cli: Callable[..., Any], renders: list[int]) -> None:
    # The site key knows the snapshot as the site has it (its own markets), not the file's
    # text: another market added, the file written out again, the site is as built.
    fill(site)
    build(site, cli)
    first = tree(site.out)
    site.snapshot({**QUOTES, "m-elsewhere": quote("Will something else happen?", 0.3)})
    run = build(site, cli)
    assert len(renders) == 1 and tree(site.out) == first
    assert "0 changed, 0 added, 0 removed" in run.out


@pytest.mark.parametrize("record", ["whole", "damaged", "gone"])
@pytest.mark.parametrize("change", ["same size", "removed"])
def test_a_file_of_the_site_changed_by_hand_is_made_again(site: Site, cli: Callable[..., Any],  # type: ignore[no-untyped-def]
                                                          renders: list[int], tmp_path: Path, change: str,
                                                          record: str) -> None:
    fill(site)
    build(site, cli)
    first = tree(site.out)
    page = site.out / "2026/11/news/index.html"
    if change == "same size":  # the same length, other bytes: its modification time tells
        page.write_bytes(page.read_bytes().replace(b"Story news", b"Story NEWS"))
    else:
        page.unlink()
    if record != "whole":  # the site record, which holds that time: without it no page is known as made
        with sqlite3.connect(tmp_path / "cache" / MEMO_FILE) as db:
            (note,) = db.execute("SELECT value FROM about WHERE name LIKE 'note pages of %'").fetchone()
            key = note.split(" ")[1]
            if record == "damaged":  # its checksum no longer matches
                db.execute("UPDATE entries SET sum = zeroblob(8) WHERE key = ?", (key,))
            else:
                db.execute("DELETE FROM entries WHERE key = ?", (key,))
    build(site, cli)
    assert len(renders) == 2
    assert tree(site.out) == first


def test_an_output_folder_whose_writers_record_was_removed_is_refused(  # type: ignore[no-untyped-def]
        site: Site, cli: Callable[..., Any]) -> None:
    """Without the writer's record (`.marketnews-files`), nothing says the build wrote the
    folder's files: it is refused as any such folder is, not written into."""
    fill(site)
    build(site, cli)
    first = tree(site.out)
    (site.out / ".marketnews-files").unlink()
    run = cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json")
    assert run.code == 1 and "no record that a marketnews build wrote them" in run.err
    assert tree(site.out) == {k: v for k, v in first.items() if k != ".marketnews-files"}


@pytest.mark.parametrize("change", ["article", "layout", "snapshot", "static", "settings"])
def test_a_changed_input_makes_the_site_again(site: Site, cli: Callable[..., Any],  # type: ignore[no-untyped-def]
                                              renders: list[int], change: str) -> None:
    fill(site)
    build(site, cli)
    if change == "article":
        site.write("content/old.md", article("Story old, revised", STORIES["old"], "Text.", markets=["m-one"]))
    elif change == "layout":
        page = site.root / "layouts/partials/article_item.html"
        page.write_text(page.read_text() + "<!-- changed -->")
    elif change == "snapshot":
        site.snapshot({**QUOTES, "m-two": quote("Will two happen?", 0.61)})
    elif change == "static":
        (site.root / "static/css/site.css").write_text("body { color: red }\n")
    else:
        settings = site.root / "site.yaml"
        settings.write_text(settings.read_text().replace("per_page: 2", "per_page: 3"))
    build(site, cli)
    assert len(renders) == 2
    fresh = site.root / "fresh"
    build(site, cli, "--out", fresh)
    assert tree(site.out) == tree(fresh)


def test_the_site_record_is_used_only_while_the_pages_would_show_the_same_clock(  # type: ignore[no-untyped-def]
        site: Site, cli: Callable[..., Any], renders: list[int], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds an hour apart, each crossing (or not) a moment a page shows: a story's date,
    the end of its share card or of its news sitemap entry, a quote going stale or past its
    end date. Whenever the last build's site is kept, it is byte for byte what a build
    from nothing at that moment makes; whenever something the pages show changed, the site
    is made again."""
    fill(site)
    moments = [  # (the clock, whether the pages show something other than at the moment before)
        ("2026-11-21T17:00:00Z", True), ("2026-11-21T17:10:00Z", False), ("2026-11-21T17:25:00Z", True),
        ("2026-11-21T17:35:00Z", True), ("2026-11-21T17:45:00Z", True), ("2026-11-21T17:55:00Z", False),
        ("2026-11-21T18:05:00Z", True), ("2026-11-21T18:35:00Z", True), ("2026-11-21T18:50:00Z", False),
    ]
    for n, (when, moved) in enumerate(moments):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch(when))
        before = len(renders)
        build(site, cli)
        assert len(renders) == before + moved, when
        monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / f"cache-{n}"))  # from nothing
        fresh = tmp_path / f"fresh-{n}"
        build(site, cli, "--out", fresh)
        monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / "cache"))
        assert tree(site.out) == tree(fresh), when


def test_a_build_that_keeps_the_site_still_keeps_the_odds(site: Site, cli: Callable[..., Any],  # type: ignore[no-untyped-def]
                                                            renders: list[int], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    fill(site)
    build(site, cli)
    cached = tmp_path / "cache" / "snapshot.json"
    assert cached.read_bytes() == (site.out / "snapshot.json").read_bytes()
    saved: list[int] = []
    real = pipeline.save_cache
    monkeypatch.setattr(pipeline, "save_cache", lambda *a, **k: (saved.append(1), real(*a, **k)))
    build(site, cli)  # the cache is as the last build left it: not even looked at
    assert len(renders) == 1 and saved == []
    cached.unlink()  # gone since (or changed by another build): the odds are saved again
    build(site, cli)
    assert len(renders) == 1 and saved == [1]
    assert cached.read_bytes() == (site.out / "snapshot.json").read_bytes()
    build(site, cli)  # and that is noted: the build after does not look at them again
    assert len(renders) == 1 and saved == [1]

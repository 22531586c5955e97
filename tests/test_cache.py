"""The build memo (cache.Memo): values kept as JSON, one warning and a correct site for
any bad memo file, and nothing in the cache folder that can run code when loaded."""

from __future__ import annotations

import marshal
import os
import pathlib
import pickle
import re
import shutil
import sqlite3
import stat
import subprocess
import zlib
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markupsafe import Markup

from marketnews import cache, pipeline
from marketnews.cache import MEMO_FILE, Memo, WrongShape, decode, encode, memo_key
from marketnews.content import Article, parse_article
from marketnews.errors import Problem
from marketnews.markup import RenderedBody, render_body
from marketnews.site import Shell
from marketnews.writer import CACHE_LOCK, RECORD
from tests.conftest import REPO, Site, article, quote, tree
from tests.test_parallel import within

QUOTES = {"m-one": quote("Will one happen?", 0.2), "m-two": quote("Will two happen?", 0.6)}


def fill(site: Site, n: int = 24) -> None:
    site.snapshot(QUOTES)
    for i in range(n):
        site.write(f"content/s{i}.md", article(
            f"Story {i}", f"2026-11-1{i % 10}" + ("" if i % 3 else f"T0{i % 9}:00:00Z"),
            f"Lead {i}.\n\n```market\nm-two\n```\n\nMore text about **{i}**.\n",
            tags=["alpha", f"t{i % 4}"], markets=["m-one"]))


def build(site: Site, cli: Callable[..., Any]) -> tuple[dict[str, bytes], list[str]]:
    """Build; the site's files and the lines said about the memo."""
    run = cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json")
    assert run.code == 0, run.err
    return site.tree(), [line for line in run.err.splitlines() if MEMO_FILE in line]


def entries(memo: Path) -> list[tuple[str, bytes, bytes]]:
    with sqlite3.connect(memo) as db:
        return list(db.execute("SELECT key, sum, value FROM entries"))


def rewrite(memo: Path, change: Callable[[bytes], bytes], fix_sum: bool) -> None:
    """Change every value in the memo file, keeping or breaking its checksum."""
    with sqlite3.connect(memo) as db:
        for key, _, value in list(db.execute("SELECT key, sum, value FROM entries")):
            new = change(value)
            total = cache._checksum(key, new) if fix_sum else cache._checksum(key, value)
            db.execute("UPDATE entries SET sum = ?, value = ? WHERE key = ?", (total, new, key))


def damage(kind: str, memo: Path) -> None:
    if kind == "a value damaged":
        rewrite(memo, lambda v: v[:-2] + b"x]", fix_sum=False)
    elif kind == "values of the wrong shape":
        rewrite(memo, lambda v: b'[1, "two", null]', fix_sum=True)
    elif kind == "a compressed value that does not inflate":  # by whichever compressor this machine's memo uses
        bad = cache.LZ4 + (4000).to_bytes(4, "little") + b"\xff not an LZ4 block" if cache._lz4 is not None \
            else cache.ZLIB + b"\x78\x01 not deflate data"
        rewrite(memo, lambda v: bad, fix_sum=True)
    elif kind == "a compressed value past the size limit":  # a "zip bomb" (the limit lowered: see the test)
        bomb = cache.pack(b" " * (cache.MAX_VALUE + 1))
        rewrite(memo, lambda v: bomb, fix_sum=True)
    elif kind == "dates out of range":  # decoded, they overflow in moving to their zone
        rewrite(memo, lambda v: cache.pack(re.sub(
            rb'\{"t":"[^"]*","z":("[^"]*"|null)\}', b'{"t":"9999-12-31T23:00:00+00:00","z":"Pacific/Kiritimati"}',
            cache.unpack(v))), fix_sum=True)
    elif kind == "a value stored as text":  # SQLite cannot decode it: damage, whatever its error name
        with sqlite3.connect(memo) as db:
            db.execute("UPDATE entries SET value = CAST(x'ff' AS TEXT)")
    elif kind == "truncated":
        memo.write_bytes(memo.read_bytes()[: memo.stat().st_size // 2])
    elif kind == "another code version":
        with sqlite3.connect(memo) as db:
            db.execute("UPDATE about SET value = 'an older one' WHERE name = 'version'")
    elif kind == "not a database":
        memo.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    elif kind == "another program's database":
        memo.unlink()
        with sqlite3.connect(memo) as db:
            db.execute("CREATE TABLE entries (key TEXT, value BLOB)")
            db.execute("INSERT INTO entries VALUES ('k', x'00')")
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("kind", ["a value damaged", "values of the wrong shape",
                                  "a compressed value that does not inflate", "a compressed value past the size limit",
                                  "dates out of range", "a value stored as text", "truncated",
                                  "another code version", "not a database", "another program's database"])
def test_a_bad_memo_costs_one_warning_and_the_site_is_still_right(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, jobs: int) -> None:
    monkeypatch.setenv("MARKETNEWS_JOBS", str(jobs))
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)
    monkeypatch.setattr(cache, "MAX_VALUE", 2**20)
    fill(site)
    first, said = build(site, cli)
    assert said == []
    memo = tmp_path / "cache" / MEMO_FILE
    assert len(entries(memo)) > 24 * 3  # articles, bodies, shells and page records
    damage(kind, memo)
    second, said = build(site, cli)
    assert second == first
    assert len(said) == 1 and "warning: cache:" in said[0] and "made again" in said[0], said
    if kind == "a compressed value past the size limit":  # refused as such, not for what it inflated to
        assert "too large" in said[0], said
    # Rebuilt: the next build finds it whole, and the pages as they were.
    site.snapshot({**QUOTES, "m-one": quote("Will one happen?", 0.4)})
    third, said = build(site, cli)
    assert said == []
    assert b'<span class="odds__prob">40%</span>' in third["2026/11/s5/index.html"]
    checks = {key for key, total, value in entries(memo) if cache._checksum(key, value) == total}
    assert len(checks) == len(entries(memo))


def test_a_memo_entry_is_found_by_what_made_it_and_pruned_when_unused(
        site: Site, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fill(site, 4)
    build(site, cli)
    memo = tmp_path / "cache" / MEMO_FILE
    before = {key for key, _, _ in entries(memo)}
    build(site, cli)
    assert {key for key, _, _ in entries(memo)} == before  # nothing changed: nothing new, nothing gone
    (site.root / "content/s2.md").unlink()
    site.write("content/s3.md", article("Story 3, edited", "2026-11-13", "Lead 3.\n", tags=["alpha"]))
    build(site, cli)
    after = {key for key, _, _ in entries(memo)}
    assert after - before and before - after
    values = [v for _, _, v in entries(memo)]
    assert not any(b"Story 2<" in v or b'"Story 3"' in v for v in values)


def test_a_large_value_is_kept_compressed_and_comes_back_whole(tmp_path: Path) -> None:
    small, large = encode(("a", 1)), encode(("page " * 4000, 2))
    assert cache.pack(small) == small and len(cache.pack(large)) < len(large) // 10
    memo = Memo(tmp_path)
    memo.put("s", small)
    memo.put("l", large)
    memo.save()
    stored = {key: value for key, _, value in entries(tmp_path / MEMO_FILE)}
    assert stored["s"] == small and stored["l"].startswith(cache.LZ4 if cache._lz4 is not None else cache.ZLIB)
    again = Memo(tmp_path)
    assert (again.get("s"), again.get("l"), again.warning) == (small, large, None)


ZLIB_PACKED = cache.ZLIB + zlib.compress(b"page " * 4000, 1)


@pytest.mark.skipif(cache._lz4 is None, reason="needs lz4 (the fast extra)")
def test_values_compressed_by_either_compressor_unpack_and_damaged_ones_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    value = b"page " * 4000
    lz4_packed = cache.pack(value)
    assert lz4_packed.startswith(cache.LZ4) and len(lz4_packed) < len(value) // 10
    assert cache.unpack(lz4_packed) == cache.unpack(ZLIB_PACKED) == value
    block = lz4_packed[len(cache.LZ4) + 4:]
    refused = {
        "cut short": lz4_packed[:-5],
        "followed by more": lz4_packed + b"more",
        "a size one short": cache.LZ4 + (len(value) - 1).to_bytes(4, "little") + block,
        "a size one over": cache.LZ4 + (len(value) + 1).to_bytes(4, "little") + block,
        "no size": cache.LZ4 + b"\x01",
    }
    for what, stored in refused.items():
        with pytest.raises(cache.WrongShape):
            cache.unpack(stored)
            pytest.fail(what)
    # Refused for its size before anything is inflated: past the limit, or past what a block
    # of its length can hold (a few bytes that say 200 MB).
    monkeypatch.setattr(cache, "MAX_VALUE", 2**20)
    for stored in (cache.pack(b" " * (2**20 + 1)), cache.LZ4 + (200 * 2**20).to_bytes(4, "little") + b"\x1f page"):
        with pytest.raises(cache.WrongShape, match="too large"):
            cache.unpack(stored)
    assert cache.unpack(cache.pack(b" " * 2**20)) == b" " * 2**20  # the most a block shrinks is allowed


def test_without_lz4_a_value_it_compressed_is_refused_and_zlib_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    lz4_packed = cache.LZ4 + (20000).to_bytes(4, "little") + b"\x1fpage "
    monkeypatch.setattr(cache, "_lz4", None)
    with pytest.raises(cache.WrongShape, match="LZ4, which is not installed"):
        cache.unpack(lz4_packed)
    assert cache.pack(b"page " * 4000).startswith(cache.ZLIB)
    assert cache.unpack(ZLIB_PACKED) == b"page " * 4000


def test_values_come_back_as_they_went_in() -> None:
    raw = (REPO / "content").glob("*.md")
    for path in sorted(raw)[:5]:
        for tz in (ZoneInfo("UTC"), ZoneInfo("America/New_York")):
            a, problems = parse_article(path.name, path.read_bytes(), tz)
            assert a is not None
            again = decode(tuple[Article, list[Problem]], encode((a, problems)))
            assert again == (a, problems)
            assert again[0].date.tzinfo == a.date.tzinfo and again[0].date.isoformat() == a.date.isoformat()
            body = render_body(a.body)
            assert decode(RenderedBody, encode(body)) == body
    shell = Shell("fp", ("<p>", "\x00</p>"), (0,), (("m", "m", "inline"),))
    assert decode(Shell, encode(shell)) == shell
    when = datetime(2026, 3, 8, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    assert decode(datetime, encode(when)).utcoffset() == when.utcoffset()
    for bad in (b"[", b'{"a": 1}', b'["fp", ["x"], [0], [["m", "m"]]]', b'["fp", [1], [], []]'):
        with pytest.raises(WrongShape):
            decode(Shell, bad)
    # Each field of an article is checked for its type, the plain ones too (a title, a
    # summary that may be missing, the draft flag), and the field count.
    doc = cache.document(encode(a))
    names = [f.name for f in fields(Article)]
    for name, wrong in (("title", 5), ("summary", 5), ("draft", 1), ("body_line", "11"), ("tags", "x")):
        changed = list(doc)
        changed[names.index(name)] = wrong
        with pytest.raises(WrongShape):
            decode(Article, cache.json.dumps(changed).encode())
    with pytest.raises(WrongShape):
        decode(Article, cache.json.dumps([*doc, "one too many"]).encode())
    assert decode(Article, cache.json.dumps(doc).encode()) == a


def test_long_strings_are_kept_after_the_json_as_they_are_and_checked_when_read() -> None:
    html = '<p class="lead">"Quoted",\nnew line, \\ and {"$": 0}</p>\n' * 20 + "é😀\ud800"
    shell = Shell("fp", (html, "<p>short</p>", html + "!"), (0, 1), (("m", "m", "inline"),), (html,), (0,))
    data = encode(shell)
    assert data.startswith(cache.TEXTS) and html.encode("utf-8", "surrogatepass") in data
    assert data.count(b"\n") == 2 + 2 * html.count("\n") + html.count("\n")  # the texts' own, unescaped
    assert decode(Shell, data) == shell
    assert encode(Shell("fp", ("<p>short</p>",), (), ())) .startswith(b"[")  # no long string: plain JSON
    # A long string anywhere goes after the JSON: a field of its own, and markup (a str subclass).
    for value, kind in ((Shell(html, (), (), ()), Shell), ((Markup(html), "x"), tuple[str, str])):
        kept = encode(value)
        assert kept.startswith(cache.TEXTS) and b"\\n" not in kept
        assert decode(kind, kept) == value
    head, doc, texts = data[len(cache.TEXTS):].split(b"\n", 2)
    lengths = cache.json.loads(head)
    bad = {
        "a length too many": b"\n".join([cache.json.dumps([*lengths, 1]).encode(), doc, texts]),
        "texts cut short": b"\n".join([head, doc, texts[:-3]]),
        "a negative length": b"\n".join([cache.json.dumps([-1, *lengths[1:]]).encode(), doc, texts]),
        "a number past the texts": b"\n".join([head, doc.replace(b'{"$":2}', b'{"$":3}'), texts]),
        "a negative number": b"\n".join([head, doc.replace(b'{"$":2}', b'{"$":-1}'), texts]),
        "a number that is text": b"\n".join([head, doc.replace(b'{"$":2}', b'{"$":"2"}'), texts]),
        "a reference with more": b"\n".join([head, doc.replace(b'{"$":2}', b'{"$":2,"x":1}'), texts]),
        "no line ends": data.replace(b"\n", b" "),
    }
    assert all(v != data for v in bad.values())
    for what, value in bad.items():
        with pytest.raises(WrongShape):
            decode(Shell, value)
            pytest.fail(what)


def test_an_article_from_the_memo_equals_one_parsed_afresh(site: Site, tmp_path: Path) -> None:
    fill(site, 3)
    paths = pipeline.SitePaths(site.root, site.root / "content", site.out, None)
    options = pipeline.BuildOptions(jobs=1)
    memo = Memo(tmp_path / "memo")
    fresh = pipeline.gather(paths, options, memo=memo)
    memo.save()
    warm = Memo(tmp_path / "memo")
    cached = pipeline.gather(paths, options, memo=warm)
    assert warm.used and not warm.new  # every article and body came from the memo
    assert cached.articles == fresh.articles and cached.uses == fresh.uses
    # With the uses of its body, which the memo's entry (kept before the body is rendered) has not.
    assert [[u.written if u else None for u in a.inline] for a in cached.articles] == [["m-two"]] * 3
    assert [[u.written for u in a.uses] for a in cached.articles] == [["m-one", "m-two"]] * 3
    a = cached.articles[0]
    assert decode(Article, encode(a)) == a
    assert decode(Article, encode(replace(a, inline=(None, *a.inline)))).inline == (None, *a.inline)


@pytest.mark.parametrize("writes", [True, False])
def test_the_bodies_a_build_renders_are_read_back_from_the_memo_not_held_by_the_build(
        site: Site, tmp_path: Path, writes: bool) -> None:
    fill(site, 3)
    paths = pipeline.SitePaths(site.root, site.root / "content", site.out, None)
    memo = Memo(tmp_path / "memo", writes=writes)  # writes=False: the dev server's, in memory
    gathered = pipeline.gather(paths, pipeline.BuildOptions(jobs=1), memo=memo)
    memo.flush()  # as build() does after gathering
    assert (memo.new == {}) == writes  # once written to the file, nothing of them is held here
    assert vars(gathered.bodies).keys() == {"refs", "store", "tz", "raw_html"}
    for a in gathered.articles:
        raw = (site.root / a.path).read_bytes()
        again, _ = parse_article(a.path, raw, ZoneInfo("UTC"))
        assert again is not None and gathered.bodies[a.path] == render_body(again.body)


def test_the_key_covers_every_part_and_the_code_version(monkeypatch: pytest.MonkeyPatch) -> None:
    assert memo_key("body", "ab", "c") != memo_key("body", "a", "bc")
    assert memo_key("body", "x") != memo_key("page", "x")
    assert memo_key("body", "x") == memo_key("body", "x")
    assert len(cache.CODE_VERSION) == 16
    before = memo_key("body", "x")
    monkeypatch.setattr(cache, "CODE_VERSION", "another version")
    assert memo_key("body", "x") != before


def test_a_memo_holding_more_than_its_limit_writes_it_out_and_saving_still_prunes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "HOLD_MAX", 100)
    Memo(tmp_path).save()  # an empty memo file
    old = Memo(tmp_path)
    old.put("old", b"[0]")
    old.save()
    memo = Memo(tmp_path)
    memo.put("a", encode("x" * 60))
    assert memo.new and not {key for key, _, _ in entries(tmp_path / MEMO_FILE)} - {"old"}  # under the limit: held
    memo.put("b", encode("y" * 60))
    assert not memo.new and memo.held == 0  # past it: both written, none held
    assert {key for key, _, _ in entries(tmp_path / MEMO_FILE)} == {"old", "a", "b"}
    assert Memo(tmp_path).get("b") == encode("y" * 60)  # another process would find it
    memo.save()  # "old" was not used by this build: pruned, though written before
    assert {key for key, _, _ in entries(tmp_path / MEMO_FILE)} == {"a", "b"}
    assert memo.get("a") == encode("x" * 60) and memo.warning is None


def test_entries_fetched_at_once_are_what_get_finds_and_are_checked_as_any(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "FETCH_BATCH", 2)  # several queries for five keys
    writer = Memo(tmp_path)
    for key in "abcd":
        writer.put(key, encode(key * 3))
    writer.save()
    with sqlite3.connect(tmp_path / MEMO_FILE) as db:  # "d" damaged on disk (its checksum no longer matches)
        db.execute("UPDATE entries SET value = ? WHERE key = 'd'", (cache.pack(encode("changed")),))
    memo = Memo(tmp_path)
    memo.put("e", encode("eee"))  # held new, not yet in the file
    queries: list[str] = []
    memo._connection().set_trace_callback(queries.append)  # type: ignore[union-attr]
    assert memo.fetch(["a", "b", "c", "d", "e", "missing", "a"]) == {"a", "b", "c", "d", "e"}
    fetched = len(queries)
    assert fetched == 3 and all(" IN (" in q for q in queries)  # five keys asked of the file, two a query
    assert [memo.get(k) for k in "abce"] == [encode(k * 3) for k in "abce"]
    assert memo.get("missing") is None and len(queries) == fetched  # all answered without a query
    assert memo.warning is None
    assert memo.get("d") is None and memo.faults == ["d"] and "checksum" in (memo.warning or "")
    assert memo.used == {"a", "b", "c", "e"}
    # What was fetched and not asked for is dropped: a get asks the file again.
    memo.fetch(["a"])
    memo.forget_fetched()
    assert memo.get("a") == encode("aaa") and len(queries) == fetched + 2


@pytest.mark.parametrize("change", ["prices", "output removed"])
def test_article_pages_ask_the_memo_a_few_queries_at_a_time(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    # What a share of article pages needs of the memo (records, shells and, with the
    # output gone, bodies: see the second build) is fetched at once: no page asks a query of its own.
    fill(site, 6)
    build(site, cli)
    if change == "prices":
        site.snapshot({k: quote(q["question"], 0.33) for k, q in QUOTES.items()})
    else:
        shutil.rmtree(tmp_path / "cache")  # no shell either: each page is made from its body
        shutil.rmtree(site.out)
    queries: list[str] = []
    making: list[bool] = []
    connect = Memo._connection

    def traced(self: Memo) -> sqlite3.Connection | None:
        db = connect(self)
        if db is not None:
            db.set_trace_callback(lambda sql: queries.append(sql) if making else None)
        return db

    article_file = pipeline.article_file

    def made(*args: Any, **kwargs: Any) -> pipeline.ArticleFile:
        making.append(True)
        try:
            return article_file(*args, **kwargs)
        finally:
            making.pop()

    monkeypatch.setattr(Memo, "_connection", traced)
    monkeypatch.setattr(pipeline, "article_file", made)
    files, said = build(site, cli)
    assert not said
    assert files == fresh_tree(site, cli, tmp_path, monkeypatch)
    assert not [q for q in queries if "WHERE key = " in q], queries


def fresh_tree(site: Site, cli: Callable[..., Any], tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The site built from nothing (no cache, no output) elsewhere: every file."""
    monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / "fresh-cache"))
    assert cli("build", "--root", site.root, "--out", tmp_path / "fresh",
               "--snapshot", site.root / "snapshot.json").code == 0
    return tree(tmp_path / "fresh")


def test_a_fetch_from_a_damaged_file_leaves_each_get_to_find_the_problem(tmp_path: Path) -> None:
    writer = Memo(tmp_path)
    writer.put("a", encode("aaa"))
    writer.save()
    memo = Memo(tmp_path)
    memo.get("a")  # opened, and found to be a memo
    (tmp_path / MEMO_FILE).write_bytes(b"\0" * 8192)  # then damaged under it
    assert memo.fetch(["a", "b"]) == set()
    assert memo.get("a") is None and "damaged" in (memo.warning or "")


def test_a_forked_worker_never_writes_the_memo_it_inherited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "HOLD_MAX", 10)
    memo = Memo(tmp_path)
    memo._owner = os.getpid() + 1  # as in a worker forked from the process that made it
    memo.put("a", encode("x" * 60))
    assert "a" in memo.new and not (tmp_path / MEMO_FILE).exists()


def test_the_dev_servers_memo_stays_in_memory(tmp_path: Path) -> None:
    memo = Memo(tmp_path, writes=False)
    memo.put("k", b"[1]")
    memo.save()
    assert "k" in memo.new and not (tmp_path / MEMO_FILE).exists()
    memo.save()  # not used since the last save: dropped
    assert memo.get("k") is None and not memo.new


class RunsCode:
    """A pickle that writes a file when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.write_text, (self.marker, "ran"))


def test_nothing_the_build_loads_from_the_cache_folder_can_run_code(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(site)
    folder = tmp_path / "cache"
    assert os.environ["MARKETNEWS_CACHE"] == str(folder)  # the build's cache folder (conftest's `site`)
    folder.mkdir()
    marker = tmp_path / "ran"
    evil = pickle.dumps(RunsCode(marker))
    pickle.loads(evil)  # the trap works...
    assert marker.exists()
    marker.unlink()
    # ...set where earlier versions kept their pickles, and where the memo is.
    planted = ["articles-0123456789ab.pickle", "bodies-v3.pickle", "pages-v1.pickle", "shells-01234567.pickle"]
    for name in [*planted, MEMO_FILE]:
        (folder / name).write_bytes(evil)
    first, said = build(site, cli)
    assert not marker.exists()
    assert len(said) == 1  # the memo file was not one
    assert sorted(p.name for p in folder.iterdir()) == sorted(["anchors-missing.json", "snapshot.json", MEMO_FILE,
                                                              CACHE_LOCK])

    # A warm build loads everything it keeps there, and no loader of code is needed.
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the build loaded a pickle or marshal")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (marshal, "load"),
                         (marshal, "loads")):
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setenv("MARKETNEWS_JOBS", "1")
    opened: list[str] = []
    real_connect = sqlite3.connect

    def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(str(database))
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    assert build(site, cli) == (first, [])
    assert any(MEMO_FILE in o for o in opened)
    monkeypatch.undo()
    # What is there: JSON files, and the memo, an SQLite file of plain tables of JSON values
    # (the large ones zlib-compressed: data, which inflating cannot turn into code).
    for path in folder.iterdir():
        if path.name == MEMO_FILE:
            with sqlite3.connect(path) as db:
                schema = sorted(db.execute("SELECT type, name FROM sqlite_master"))
                assert [t for t, _ in schema] == ["index", "index", "table", "table"]  # no views nor triggers
            for _, _, value in entries(path):
                value = cache.unpack(value)
                if value.startswith(cache.TEXTS):  # JSON with its long strings after it: data too
                    assert cache.document(value) is not None
                else:
                    assert value[:1] in (b"[", b"{", b'"') and cache.json.loads(value) is not None
        else:
            assert cache.json.loads(path.read_bytes()) is not None
    assert tree(site.out) == first


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_kept_pages_record_is_not_made_again_and_is_kept_for_the_next_build(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 1)  # with 2 jobs, workers even for 40 articles (3 chunks)
    monkeypatch.setenv("MARKETNEWS_JOBS", str(jobs))
    fill(site, 40)
    first, _ = build(site, cli)
    log = tmp_path / "records made"
    real_value = pipeline.record_value

    def record_value(size: int, item: str) -> bytes:
        with log.open("a") as f:  # (a file: the workers' calls are counted too)
            f.write(f"{size}\n")
        return real_value(size, item)

    monkeypatch.setattr(pipeline, "record_value", record_value)
    for page in ("2026/11/s0/index.html", "2026/11/s1/index.html"):
        (site.out / page).unlink()  # the site is to be made again: every other page is kept
        log.write_text("")
        assert build(site, cli)[0] == first
        # Only the page made again gets a new record; the others' records are not made
        # again, and the memo keeps them for the next build (whose workers read them),
        # which keeps their pages.
        assert log.read_text().split() == [str(len(first[page]))]


def test_page_records_are_trusted_only_after_a_build_that_finished_writing(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(site, 6)
    first, _ = build(site, cli)
    kept: list[bool] = []
    real = pipeline.ManifestReuse.keep

    def keep(self: pipeline.ManifestReuse, path: str, fingerprint: str) -> Any:
        record = real(self, path, fingerprint)
        kept.append(record is not None)
        return record

    monkeypatch.setattr(pipeline.ManifestReuse, "keep", keep)
    assert build(site, cli)[0] == first
    assert not kept  # nothing changed: the site is as the last build left it, no page is looked at
    (site.out / "2026/11/s0/index.html").unlink()  # so the site is to be made again: every other page is kept
    assert build(site, cli)[0] == first
    assert kept.count(False) == 1 and len(kept) > 6
    # A build that stops while making and writing pages (a template error here) may leave
    # files the records do not describe: the next build trusts none of them.
    page = site.root / "layouts/partials/article_item.html"
    good = page.read_text()
    page.write_text(good + "{{ no_such_thing() }}")
    site.snapshot({**QUOTES, "m-one": quote("Will one happen?", 0.4)})
    run = cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json")
    assert run.code == 1 and "no_such_thing" in run.err
    page.write_text(good)
    site.snapshot(QUOTES)
    kept.clear()
    assert build(site, cli)[0] == first
    assert kept and not any(kept)
    kept.clear()
    (site.out / "2026/11/s1/index.html").write_text("a page changed by hand")
    build(site, cli)
    assert kept.count(False) == 1 and len(kept) > 6
    assert tree(site.out) == first


@pytest.mark.parametrize("where", ["memo.sqlite", "memo.sqlite-journal"])
@pytest.mark.parametrize("kind", ["a FIFO", "a folder", "a link to a FIFO"])
def test_something_else_where_the_memo_belongs_costs_one_warning_and_is_left_as_it_is(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, kind: str, where: str) -> None:
    fill(site)
    first, _ = build(site, cli)
    folder = tmp_path / "cache"
    target = folder / where
    target.unlink(missing_ok=True)
    if kind == "a folder":
        target.mkdir()
    elif kind == "a FIFO":
        os.mkfifo(target)
    else:
        os.mkfifo(tmp_path / "fifo")
        target.symlink_to(tmp_path / "fifo")
    for _ in range(2):  # and again: nothing in its place has changed
        second, said = within(60, lambda: build(site, cli))  # a FIFO opened to read would wait for ever
        assert second == first
        assert said == [f"{folder / MEMO_FILE}: warning: cache: {where} is {kind.removeprefix('a link to ')}, "
                        "not a file: left as it is; this build keeps no memo"], said
        assert target.is_dir() if kind == "a folder" else stat.S_ISFIFO(os.stat(target).st_mode)


def test_a_memo_that_is_a_link_to_itself_is_made_again(site: Site, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fill(site)
    first, _ = build(site, cli)
    memo = tmp_path / "cache" / MEMO_FILE  # outside the site folder: shown by its full path
    memo.unlink()
    memo.symlink_to(memo.name)
    second, said = build(site, cli)
    assert second == first and said == []  # a loop of links is no memo at all: one is made
    assert memo.is_file() and not memo.is_symlink() and len(entries(memo)) > 0


def test_a_worker_that_cannot_read_the_memo_says_so_and_the_memo_is_still_saved(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker process that finds the memo busy reads without it; the build's own process
    # still writes it. The warning used to say "this build keeps no memo", which was untrue.
    monkeypatch.setattr(pipeline, "PARALLEL_MIN", 2)
    monkeypatch.setenv("MARKETNEWS_JOBS", "2")
    fill(site, 6)
    first, _ = build(site, cli)
    memo = tmp_path / "cache" / MEMO_FILE
    before = entries(memo)
    site.write("content/s2.md", article("Story 2, edited", "2026-11-12", "Lead 2, edited.\n", tags=["alpha"]))
    real, owner = cache.Memo._connection, os.getpid()

    def connection(self: cache.Memo) -> sqlite3.Connection | None:
        if os.getpid() != owner:  # in a worker: the file is busy
            self._leave(sqlite3.OperationalError("database is locked"))
            return None
        return real(self)

    monkeypatch.setattr(cache.Memo, "_connection", connection)
    second, said = build(site, cli)
    assert len(said) == 1 and "a worker process could not read it (database is locked)" in said[0], said
    assert "keeps no memo" not in said[0]
    assert second != first and entries(memo) != before  # built, and the memo saved


def immutable(path: Path, on: bool) -> bool:
    """Make `path` one that not even root may write (chattr +i), or undo it; False where
    the file system or the process's privileges do not allow it."""
    try:
        return subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.parametrize("how", ["held locked by another program", "not writable"])
def test_a_memo_that_cannot_be_written_costs_one_warning_and_is_left_as_it_is(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    # The memo only saves work: a build that cannot write it goes on without it, and a file
    # it cannot write says nothing of what the file holds. Before, a memo held locked was
    # taken for a damaged one and made again, and one not writable failed the build.
    fill(site, 6)
    build(site, cli)
    memo = tmp_path / "cache" / MEMO_FILE
    before = entries(memo)
    site.write("content/s2.md", article("Story 2, edited", "2026-11-12", "Lead 2, edited.\n", tags=["alpha"]))
    with ExitStack() as stack:
        if how == "not writable":
            if not immutable(memo, True):
                pytest.skip("chattr +i is not allowed here")
            stack.callback(immutable, memo, False)
        else:
            monkeypatch.setattr(cache, "BUSY_TIMEOUT_S", 0.2)
            holder = stack.enter_context(closing(sqlite3.connect(memo, isolation_level=None)))
            holder.execute("BEGIN IMMEDIATE")  # readers may read; no one else may write
        second, said = build(site, cli)
        assert len(said) == 1 and "warning: cache: cannot be used (" in said[0] \
            and "left as it is, and this build keeps no memo" in said[0], said
    assert entries(memo) == before
    clean = tmp_path / "clean"
    monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / "clean-cache"))
    assert cli("build", "--root", site.root, "--out", clean, "--snapshot", site.root / "snapshot.json").code == 0
    assert {p: d for p, d in second.items() if p != RECORD} == {p: d for p, d in tree(clean).items() if p != RECORD}
    monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / "cache"))
    third, said = build(site, cli)  # writable again: the build writes it
    assert said == [] and third == second and entries(memo) != before

"""Input that used to pass `check --strict` and then break every build, or publish what it
should not: each is now found by `check`, at path:line, and a build copes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import yaml

from marketnews.content import parse_article, source_text
from marketnews.names import tag_key, tag_slug, url_segment
from marketnews.readahead import readahead
from marketnews.yamlmap import MAX_NODES, YamlProblem, load_mapping
from tests.conftest import Site, article, quote

UTC = ZoneInfo("UTC")


def parse(text: str | bytes):  # type: ignore[no-untyped-def]
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return parse_article("content/story.md", raw, UTC)


def errors(problems) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p) for p in problems if p.severity == "error"]


def warnings(problems) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p) for p in problems if p.severity == "warning"]


# --- names too long for a file system, and characters no page can hold --------------------

def test_a_slug_or_tag_longer_than_a_file_name_is_an_error_at_its_line() -> None:
    a, problems = parse(article(slug="a" * 300))
    assert a is None
    assert errors(problems) == ["content/story.md:4: slug: slug is 300 bytes long, more than a file name may be "
                                "(255 bytes); shorten it"]
    a, problems = parse(article(tags=["ok", "日本" * 50]))  # 300 bytes in UTF-8, 100 characters
    assert a is None and errors(problems)[0].startswith("content/story.md:4: tags: tag '日本日本")
    assert "300 bytes long" in errors(problems)[0]
    a, problems = parse(article(markets=["m" * 256]))  # the reference parser's own limit
    assert a is None and "content/story.md:4: markets: expected a slug of lowercase letters" in errors(problems)[0]
    a, _ = parse(article(slug="a" * 255, tags=["t" * 255]))
    assert a is not None


def test_a_file_name_too_long_for_a_slug_says_so() -> None:
    a, problems = parse_article("content/" + "b" * 250 + ".md", article().encode(), UTC)
    assert a is not None  # 250 bytes fit
    a, problems = parse_article("content/" + "é" * 130 + "x" * 260 + ".md", article().encode(), UTC)
    assert a is None and "slug made from the file name is 390 bytes long" in errors(problems)[0]


def test_control_characters_are_errors_at_their_line() -> None:
    a, problems = parse('---\ntitle: "Bad \\x1b title"\ndate: 2026-11-20\ntags: ["x\\u0007"]\n---\nBody\n')
    assert a is None
    assert errors(problems) == [
        "content/story.md:2: title: contains U+001B (a control character), which no page or feed can hold; remove it",
        "content/story.md:4: tags: contains U+0007 (a control character), which no page or feed can hold; remove it",
    ]
    a, problems = parse(article(body="Line one.\n\nLine \x1b[31m two.\n"))
    assert a is None and errors(problems) == [
        "content/story.md:7: contains U+001B (a control character), which no page or feed can hold; remove it"]


def test_an_oversized_file_is_refused_before_it_is_parsed() -> None:
    a, problems = parse(article(body="x" * (4 * 1024 * 1024)))
    assert a is None and errors(problems)[0].startswith("content/story.md:1: the file is 4,194,")


def test_a_yaml_alias_bomb_is_refused_quickly_and_named() -> None:
    lines = ["---", "title: Bomb", "date: 2026-11-20", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines += ["tags: *a8", "---", "Body"]
    text = "\n".join(lines) + "\n"
    assert len(text) < 600
    started = time.process_time()
    a, problems = parse(text)
    assert time.process_time() - started < 5  # generous: the point is it does not build 387 million values
    assert a is None
    assert errors(problems) == [f"content/story.md:8: aliases expand this YAML to more than {MAX_NODES:,} values; "
                                "write the values out, without '&anchor' and '*alias'"]


def test_ordinary_aliases_still_load() -> None:
    assert load_mapping("a: &x [1, 2]\nb: *x\nc: '*'\n").data == {"a": [1, 2], "b": [1, 2], "c": "*"}
    with pytest.raises(YamlProblem):
        load_mapping("a: &x [" + ", ".join(["1"] * 200) + "]\n" + "".join(f"b{i}: *x\n" for i in range(60)))


def test_a_huge_value_in_a_message_is_cut_short() -> None:
    a, problems = parse(article(tags=[[["x"] * 1000] * 1000]))
    assert a is None and len(errors(problems)[0]) < 200


# --- line endings ----------------------------------------------------------------------------

def test_cr_only_line_endings_read_like_lf() -> None:
    lf = article(tags=["nato"], body="One.\n\nTwo.\n")
    a, problems = parse(lf.replace("\n", "\r").encode())
    b, _ = parse(lf.encode())
    assert problems == [] and a is not None and b is not None
    assert (a.title, a.tags, a.body, a.body_line) == (b.title, b.tags, b.body, b.body_line)
    assert source_text(b"a\rb\r\nc\n") == "a\nb\nc\n"
    a, problems = parse(article(date="tomorrow").replace("\n", "\r").encode())
    assert errors(problems) == ["content/story.md:3: date: expected an ISO 8601 date like 2026-11-20T09:30:00Z, "
                                "got 'tomorrow'"]


# --- tags --------------------------------------------------------------------------------------

def test_tag_urls_keep_letters_of_any_script_and_tell_symbols_apart() -> None:
    assert tag_slug("日本") == "日本" and url_segment(tag_slug("日本")) == "%E6%97%A5%E6%9C%AC"
    assert tag_slug("Ünïcødé") == "ünïcødé"
    assert [tag_slug(t) for t in ("C++", "c", "C#", "New York")] == ["c++", "c", "c#", "new-york"]
    assert url_segment(tag_slug("C#")) == "c%23"
    assert tag_key("New York") == tag_key("new-york") == tag_key("NEW  YORK")
    assert tag_key("a&b") != tag_key("a-b") and tag_slug("a&b") == tag_slug("a-b")
    # One topic, one URL: a tag's URL is case-folded as its key is (lowercase alone keeps the ß).
    assert tag_key("Straße") == tag_key("STRASSE") and tag_slug("Straße") == tag_slug("STRASSE") == "strasse"
    a, problems = parse(article(tags=["日本", "Ünïcødé", "C++", "c"]))
    assert problems == [] and a is not None and a.tags == ("日本", "Ünïcødé", "C++", "c")
    a, problems = parse(article(tags=["!!!"]))
    assert errors(problems) == ["content/story.md:4: tags: tag '!!!' has no letters or digits"]


def test_a_comma_separated_tag_string_is_a_warning_at_its_line() -> None:
    a, problems = parse("---\ntitle: T\ndate: 2026-11-20\ntags: china, test\n---\nBody\n")
    assert a is not None and a.tags == ("china, test",)
    assert warnings(problems) == ["content/story.md:4: warning: tags: 'china, test' is one tag; "
                                  "for several write a list: [china, test]"]
    _, problems = parse("---\ntitle: T\ndate: 2026-11-20\ntags: [china, test]\n---\nBody\n")
    assert problems == []


def test_too_many_tags_is_an_error() -> None:
    a, problems = parse(article(tags=[f"t{i}" for i in range(51)]))
    assert a is None and errors(problems) == ["content/story.md:4: tags: 51 tags; an article may have at most 50"]


def test_unicode_tags_get_readable_pages_and_a_collision_names_both_articles(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    site.write("content/a.md", article("A", tags=["日本", "Ünïcødé", "C++"]))
    site.write("content/b.md", article("B", tags=["c", "new york"]))
    site.write("content/c.md", article("C", tags=["New-York"]))
    assert cli("build", "--root", site.root).code == 0
    for folder in ("日本", "ünïcødé", "c++", "c", "new-york"):
        assert (site.out / "tags" / folder / "index.html").is_file(), folder
    page = (site.out / "2026/11/a/index.html").read_text()
    assert 'href="/tags/%E6%97%A5%E6%9C%AC/"' in page and 'href="/tags/c++/"' in page
    sitemap = (site.out / "sitemap.xml").read_text()
    assert "https://news.example.org/tags/%C3%BCn%C3%AFc%C3%B8d%C3%A9/" in sitemap

    site.write("content/d.md", article("D", tags=["a&b"]))
    site.write("content/e.md", article("E", tags=["A-B"]))
    run = cli("check", "--root", site.root)
    assert run.code == 1
    assert ("content/e.md:4: tags: tag 'A-B' would share the URL /tags/a-b/ with tag 'a&b' of content/d.md; "
            "write them alike, or make them differ in letters or digits") in run.err


# --- images ------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["../../etc/passwd", "/../../etc/passwd", "javascript:alert(1)",
                                 "data:image/png;base64,AAAA", "//evil.example/x.png", "images/a.png",
                                 "ftp://example.org/a.png", "/images/a b.png"])
def test_an_image_must_be_under_static_or_an_http_url(bad: str) -> None:
    a, problems = parse(article(image=bad, image_alt="x"))
    assert a is None
    assert errors(problems)[0].startswith(
        "content/story.md:4: image: expected a path under static/ like '/images/map.png' or an http(s) URL, got ")


def test_good_image_references_pass() -> None:
    for good in ("/images/nato-map.svg", "/images/a.png?v=2", "https://example.org/a.png", "http://example.org/b"):
        a, problems = parse(article(image=good, image_alt="x"))
        assert a is not None and problems == [], good


def test_a_missing_image_is_a_warning_and_gets_no_invented_size(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    site.write("content/a.md", article("A", image="/images/missing.png", image_alt="Gone"))
    run = cli("check", "--root", site.root)
    assert run.code == 0
    assert ("content/a.md:4: warning: image: /images/missing.png is not a file in static/ "
            "(static/images/missing.png); pages show it without a size") in run.err
    assert cli("check", "--root", site.root, "--strict").code == 1
    assert cli("build", "--root", site.root).code == 0
    page = (site.out / "2026/11/a/index.html").read_text()
    assert '<img src="/images/missing.png" alt="Gone">' in page and 'width="1200"' not in page
    site.write("content/a.md", article("A", image="/images/nato-map.svg", image_alt="Map"))
    run = cli("check", "--root", site.root, "--strict")
    assert run.code == 0, run.err


# --- bounded repetition --------------------------------------------------------------------------

def test_output_grows_linearly_with_the_markets_an_article_cites(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    def size(n: int) -> int:
        for f in (site.root / "content").glob("*.md"):
            f.unlink()
        slugs = [f"market-{i}" for i in range(n)]
        site.snapshot({s: quote(f"Question {s}?", 0.5) for s in slugs})
        site.write("content/big.md", article("Big", markets=slugs))
        assert cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json").code == 0
        return sum(p.stat().st_size for p in site.out.rglob("*") if p.is_file())

    base, small, large = size(1), size(20), size(80)
    # 4x the markets: at most about 4x the output (it was 16x: each market page repeated them all).
    assert (large - base) / (small - base) < 4.6
    page = (site.out / "markets/market-7/index.html").read_text()
    assert page.count('class="odds-line ') == 3 and "77 more markets" in page


# --- symbolic links --------------------------------------------------------------------------------

def test_a_link_out_of_the_site_is_refused_without_reading_it(site: Site, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.md"
    secret.write_text("TOP SECRET first line\n", encoding="utf-8")
    os.symlink(secret, site.root / "content" / "leak.md")
    site.write("content/ok.md", article("Fine"))
    run = cli("check", "--root", site.root)
    assert run.code == 1
    assert ("content/leak.md: a symbolic link to a file outside the site folder; content files and links must "
            "stay inside it (the link was not followed)") in run.err
    assert "SECRET" not in run.err + run.out
    assert cli("build", "--root", site.root).code == 1 and not site.out.exists()


def test_a_link_inside_the_site_is_followed(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    site.write("drafts/shared.md", article("Shared"))
    os.symlink(site.root / "drafts" / "shared.md", site.root / "content" / "shared.md")
    os.symlink("../nowhere.md", site.root / "content" / "dangling.md")
    run = cli("build", "--root", site.root)
    assert run.code == 1 and "content/dangling.md: a symbolic link to nothing (what it points to does not exist)" \
        in run.err
    (site.root / "content" / "dangling.md").unlink()
    os.mkfifo(site.root / "drafts" / "pipe")  # linked to, it is named for what it is, and never opened
    os.symlink(site.root / "drafts" / "pipe", site.root / "content" / "piped.md")
    run = cli("build", "--root", site.root)
    assert run.code == 1 and "content/piped.md: a symbolic link to something that is not a file (a FIFO, a device)" \
        in run.err
    (site.root / "content" / "piped.md").unlink()
    assert cli("build", "--root", site.root).code == 0
    assert (site.out / "2026/11/shared/index.html").is_file()


SURROGATES = '---\ntitle: "Bad \\ud800 title"\ndate: 2026-11-20\ntags: [ok, "b\\udfff"]\n---\nBody\n'


def test_lone_surrogates_are_refused_where_yaml_lets_them_through(monkeypatch: pytest.MonkeyPatch) -> None:
    from marketnews import yamlmap
    from marketnews.names import unencodable

    assert unencodable("ok \ud800") == "U+D800 (half of a UTF-16 pair, which UTF-8 cannot encode)"
    assert unencodable("日本 – ok\t\n") is None
    if hasattr(yaml, "CSafeLoader"):  # libyaml's loader refuses the escape itself
        _, problems = parse(SURROGATES)
        assert errors(problems)[0].startswith("content/story.md:2: malformed YAML")

    # PyYAML's own loader (where libyaml is missing) lets them through: marketnews refuses them.
    class PureLoader(yaml.SafeLoader):
        yaml_implicit_resolvers = yamlmap._Loader.yaml_implicit_resolvers

    monkeypatch.setattr(yamlmap, "_Loader", PureLoader)
    article, problems = parse(SURROGATES)
    assert article is None
    assert errors(problems) == [
        "content/story.md:2: title: contains U+D800 (half of a UTF-16 pair, which UTF-8 cannot encode), "
        "which no page or feed can hold; remove it",
        "content/story.md:4: tags: contains U+DFFF (half of a UTF-16 pair, which UTF-8 cannot encode), "
        "which no page or feed can hold; remove it",
    ]


def test_a_link_in_static_out_of_the_site_is_an_error_and_never_published(  # type: ignore[no-untyped-def]
        site: Site, cli, tmp_path: Path) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0\n", encoding="utf-8")
    os.symlink(secret, site.root / "static" / "images" / "leak.png")
    os.symlink(site.root / "static" / "favicon.svg", site.root / "static" / "images" / "icon.svg")  # inside: fine
    site.write("content/a.md", article("A"))
    run = cli("check", "--root", site.root)
    assert run.code == 1 and ("static/images/leak.png: a symbolic link to a file outside the site folder; "
                              "static files and links must stay inside it (it is not published)") in run.err
    assert "root:x" not in run.err
    from marketnews.pipeline import static_files

    published = {f.path for f in static_files(site.root / "static")}
    assert "images/icon.svg" in published and "images/leak.png" not in published


def test_the_sites_default_image_follows_the_same_rule(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    base = (site.root / "site.yaml").read_text()
    for bad in ("/../../etc/passwd", "javascript:alert(1)", "//evil.example/card.png"):
        site.write("site.yaml", base + f"image: {bad!r}\n")
        run = cli("check", "--root", site.root)
        assert run.code == 1 and "site.yaml:9: image: expected a path under static/" in run.err, bad
    site.write("site.yaml", base + "image: /images/card.png\n")
    assert cli("check", "--root", site.root).code == 0


def test_a_file_name_that_is_not_utf8_is_an_error_not_a_crash(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    with open(os.fsencode(site.root / "content") + b"/bad\xff.md", "w", encoding="utf-8") as fh:
        fh.write(article("Bad name"))
    site.write("content/ok.md", article("Fine"))
    for command in ("check", "build"):
        run = cli(command, "--root", site.root)
        assert run.code == 1
        assert ("content/bad\ufffd.md: the file name holds the byte 0xff, which is not UTF-8 text: no URL or page "
                "can; rename the file") in run.err


def test_reading_ahead_never_waits_on_a_fifo_or_follows_a_link(tmp_path: Path) -> None:
    # A content folder may hold a FIFO (opened for reading, it waits for a writer), a link
    # (to a file outside the site, say), a folder or a name that is gone: asking the kernel
    # to read ahead skips them all at once, and the file after them is still advised.
    site, outside = tmp_path / "site", tmp_path / "outside.md"
    site.mkdir()
    fifo, page = site / "pipe.md", site / "page.md"
    os.mkfifo(fifo)
    page.write_text("text\n")
    outside.write_text("not the site's\n")
    (site / "link.md").symlink_to(outside)
    asked: list[int] = []
    real = os.posix_fadvise

    def advise(fd: int, offset: int, length: int, advice: int) -> None:
        asked.append(os.fstat(fd).st_ino)
        real(fd, offset, length, advice)

    done = threading.Event()

    def run() -> None:
        with mock.patch("os.posix_fadvise", advise):
            readahead([fifo, site / "link.md", site, site / "gone.md", page])
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(10), "readahead waited on the FIFO"
    assert page.stat().st_ino in asked and outside.stat().st_ino not in asked

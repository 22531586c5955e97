"""Fingerprinted static files: names from content hashes, and every reference pointing at them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from marketnews.assets import Assets, fingerprint, hashed_name
from marketnews.errors import MarketnewsError
from marketnews.output import OutputFile
from tests.sitebuild import REPO, build_example, copy_site, tree


def test_hashed_name_carries_a_hash_of_the_bytes() -> None:
    a = hashed_name("css/site.css", b"body{}")
    assert re.fullmatch(r"assets/css/site\.[0-9a-f]{10}\.css", a)
    assert hashed_name("css/site.css", b"body{}") == a
    assert hashed_name("css/site.css", b"body{ }") != a
    assert re.fullmatch(r"assets/LICENSE\.[0-9a-f]{10}", hashed_name("LICENSE", b"x"))
    assert re.fullmatch(r"assets/\.hidden\.[0-9a-f]{10}", hashed_name(".hidden", b"x"))


def test_originals_and_copies_are_both_written() -> None:
    assets = fingerprint([OutputFile("images/a.png", b"png"), OutputFile("css/site.css", b"a{}")])
    paths = [f.path for f in assets.files]
    assert paths[:2] == ["css/site.css", "images/a.png"]
    assert set(paths[2:]) == set(assets.hashed.values())
    assert {f.data for f in assets.files if f.path.startswith("assets/images/")} == {b"png"}


def test_stylesheet_references_point_at_hashed_files_and_change_its_hash() -> None:
    css = b"a{background:url(../images/dot.png)} b{background:url('/images/dot.png')} " \
          b"c{background:url(data:image/png;base64,AA==)} d{background:url(https://x.org/y.png)}"
    one = fingerprint([OutputFile("css/site.css", css), OutputFile("images/dot.png", b"one")])
    two = fingerprint([OutputFile("css/site.css", css), OutputFile("images/dot.png", b"two")])
    dot = one.hashed["images/dot.png"]
    sheet = next(f.data for f in one.files if f.path == one.hashed["css/site.css"]).decode()
    assert sheet.count(f"url(/{dot})") == 1 and sheet.count(f"url('/{dot}')") == 1
    assert "url(data:image/png;base64,AA==)" in sheet and "url(https://x.org/y.png)" in sheet
    assert one.hashed["css/site.css"] != two.hashed["css/site.css"]
    # The original stylesheet is written unchanged, for links that must keep working.
    assert next(f.data for f in one.files if f.path == "css/site.css") == css


def test_asset_url_and_resolve() -> None:
    assets = fingerprint([OutputFile("css/site.css", b"x"), OutputFile("images/a.svg", b"<svg/>")])
    assert assets.url("css/site.css") == "/" + assets.hashed["css/site.css"]
    assert assets.url("/css/site.css") == assets.url("css/site.css")
    with pytest.raises(MarketnewsError, match=r"asset_url\('css/nope.css'\): no such file under static/"):
        assets.url("css/nope.css")
    assert assets.resolve("/images/a.svg") == "/" + assets.hashed["images/a.svg"]
    for unchanged in ("https://example.org/images/a.svg", "//cdn.example/images/a.svg", "/images/other.svg"):
        assert assets.resolve(unchanged) == unchanged
    html = '<img src="/images/a.svg" alt=""><a href="/images/a.svg#x">x</a><a href="/markets/">m</a>'
    rewritten = assets.rewrite_html(html)
    assert rewritten.count(assets.hashed["images/a.svg"]) == 2 and 'href="/markets/"' in rewritten
    # Only src and href attributes (whole names) are rewritten, not other values that look like paths.
    others = '<img title="/images/a.svg" xsrc="/images/a.svg" data-src="/images/a.svg" src="/images/a.svg">'
    assert assets.rewrite_html(others) == others.replace(
        'data-src="/images/a.svg" src="/images/a.svg"',
        f'data-src="/{assets.hashed["images/a.svg"]}" src="/{assets.hashed["images/a.svg"]}"')


def test_without_static_files_urls_are_left_as_written() -> None:
    assert Assets().rewrite_html('<img src="/a.png">') == '<img src="/a.png">'
    assert Assets().url("css/site.css") == "/css/site.css"


def test_pages_reference_only_hashed_static_files_that_exist(built_example: dict[str, bytes]) -> None:
    static = {p.relative_to(REPO / "static").as_posix() for p in (REPO / "static").rglob("*") if p.is_file()}
    for path, data in built_example.items():
        if not path.endswith(".html"):
            continue
        refs = re.findall(r'(?:src|href)="/([^"#?]+)', data.decode())
        for ref in refs:
            assert ref not in static, f"{path} links to the unhashed /{ref}"
            if ref.startswith("assets/"):
                assert ref in built_example, f"{path}: /{ref} was not written"


def test_article_images_in_frontmatter_resolve_to_the_hashed_file(built_example: dict[str, bytes]) -> None:
    page = built_example["2026/11/nato-2027-conventional-defence-deadline/index.html"].decode()
    (src,) = re.findall(r'<figure class="article__image"><img src="([^"]+)"', page)
    assert re.fullmatch(r"/assets/images/nato-map\.[0-9a-f]{10}\.svg", src)
    assert built_example[src.lstrip("/")] == (REPO / "static/images/nato-map.svg").read_bytes()
    assert built_example["images/nato-map.svg"] == built_example[src.lstrip("/")]


def test_images_in_article_bodies_are_rewritten_too(tmp_path: Path) -> None:
    root = copy_site(tmp_path / "site")
    article = root / "content" / "with-image.md"
    article.write_text('---\ntitle: "Chart"\ndate: 2026-11-21T08:00:00Z\n---\n'
                       "![The chart](/images/china-chart.svg)\n\n![Elsewhere](https://example.org/x.png)\n")
    build_example(tmp_path / "public", tmp_path / "cache", root=root)
    page = (tmp_path / "public/2026/11/with-image/index.html").read_text()
    assert re.search(r'<img src="/assets/images/china-chart\.[0-9a-f]{10}\.svg" alt="The chart"', page)
    assert '<img src="https://example.org/x.png"' in page


def test_a_changed_stylesheet_gets_a_new_name_and_the_old_one_goes(tmp_path: Path) -> None:
    root = copy_site(tmp_path / "site")
    out = tmp_path / "public"
    build_example(out, tmp_path / "cache", root=root)
    old = {p for p in tree(out) if p.startswith("assets/css/")}
    with (root / "static/css/site.css").open("a") as f:
        f.write("\n.new-rule { color: red; }\n")
    report = build_example(out, tmp_path / "cache", root=root)
    new = {p for p in tree(out) if p.startswith("assets/css/")}
    assert len(old) == len(new) == 1 and old != new
    assert report.written is not None and report.written.added == 1 and report.written.removed == 1
    index = (out / "index.html").read_text()
    assert f'href="/{next(iter(new))}"' in index


def test_a_missing_file_is_the_same_error_when_files_are_not_fingerprinted() -> None:
    # The dev server does not fingerprint: its pages once linked a missing file without a
    # word, where the build stopped on it.
    plain = Assets(files=(OutputFile("css/site.css", b"x"),))
    assert plain.url("/css/site.css") == "/css/site.css"
    with pytest.raises(MarketnewsError, match=r"asset_url\('css/sitee.css'\): no such file under static/"):
        plain.url("css/sitee.css")


def test_an_unclosed_attribute_in_raw_html_is_rewritten_in_time_that_grows_with_it() -> None:
    """Raw HTML can leave `="/…` without its closing quote; the search for links to rewrite
    tried every split of what followed (40 KB: 4 s, growing as the square). Links are still
    rewritten after it."""
    from tests.hang import fails_if_hung

    assets = Assets(hashed={"a.png": "assets/a.1.png"})
    text = '<p>="/x ' + "word " * 200000 + "</p>"
    with fails_if_hung("an unclosed attribute", seconds=30):
        assert assets.rewrite_html('<img src="/a.png">' + text) == '<img src="/assets/a.1.png">' + text

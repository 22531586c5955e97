"""Raw HTML in articles: off by default (shown as text, with a warning at path:line); when a
site allows it, an allow-list sanitiser takes out everything that can run script."""

from __future__ import annotations

import re

import pytest

from marketnews.markup import PLACEHOLDER, render_body
from marketnews.rawhtml import removed_by_sanitiser, sanitise
from tests.conftest import Site, article

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "onerror": '<img src="x.png" onerror="alert(1)">',
    "javascript": '<a href="javascript:alert(1)">x</a>',
    "refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    "form": '<form action="https://evil.example/"><input name="q"></form>',
    "style": '<span style="position:fixed">x</span><style>body{display:none}</style>',
    "svg-onload": '<svg onload="alert(1)"><circle r="1"/></svg>',
    "object": '<object data="evil.swf"></object><embed src="evil.swf">',
    "base": '<base href="https://evil.example/">',
    "data-url": '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "entity-js": '<a href="&#106;avascript:alert(1)">x</a>',
}
SCRIPT_CAPABLE = ("<script", "<iframe", "onerror", "onload", "javascript:", "<meta", "<form", "<input",
                  "style", "<svg", "<object", "<embed", "<base", "data:")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_by_default_raw_html_is_text_and_each_place_is_reported(name: str) -> None:
    body = render_body(f"Before.\n\n{HOSTILE[name]}\n\nAfter.\n")
    lowered = body.html.lower()
    assert "&lt;" in body.html
    for bad in ("<script", "<iframe", "<img", "<a ", "<meta", "<form", "<span", "<style", "<svg", "<object", "<base"):
        assert bad not in lowered
    assert [r.line for r in body.raw_html] == [2]
    assert "shown as text" in body.raw_html[0].message and "raw_html: true" in body.raw_html[0].message


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_when_allowed_the_sanitiser_removes_what_can_run_script(name: str) -> None:
    body = render_body(f"Before.\n\nInline {HOSTILE[name]} too.\n\n{HOSTILE[name]}\n", raw_html=True)
    lowered = body.html.lower()
    for bad in SCRIPT_CAPABLE:
        assert bad not in lowered, (bad, body.html)
    assert body.raw_html and all("the sanitiser removes" in r.message for r in body.raw_html)
    assert {r.line for r in body.raw_html} <= {2, 4}


def test_allowed_html_is_kept_with_the_renderers_own_markup() -> None:
    text = ('Some <abbr title="North Atlantic Treaty Organization">NATO</abbr> text[^1].\n\n'
            '<figure><img src="/images/a.png" alt="A map" width="10" height="5">'
            '<figcaption>A <em>map</em></figcaption></figure>\n\n'
            '```market\nsome-slug\n```\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n\n[^1]: A note.\n')
    body = render_body(text, raw_html=True)
    assert '<abbr title="North Atlantic Treaty Organization">NATO</abbr>' in body.html
    assert '<img src="/images/a.png" alt="A map" width="10" height="5">' in body.html
    assert "<figcaption>A <em>map</em></figcaption>" in body.html
    assert [int(m) for m in PLACEHOLDER.findall(body.html)] == [0]  # the widget survives
    assert '<table tabindex="0">' in body.html and '<th class="align-right">' in body.html
    assert 'class="footnote-ref"' in body.html and 'id="fn1"' in body.html
    assert body.raw_html == ()  # nothing removed, nothing to say


def test_comments_are_dropped_quietly_when_allowed_but_a_forged_placeholder_is_only_a_widget_slot() -> None:
    body = render_body("Text <!-- a note --> here.\n\n<!--mn:widget:5-->\n", raw_html=True)
    assert "a note" not in body.html and body.raw_html == ()
    assert PLACEHOLDER.findall(body.html) == ["5"]  # out of range: the site fills it with nothing


def test_markdown_without_html_renders_the_same_either_way() -> None:
    text = "# Title\n\nA *b* [c](https://example.org/) `<code>`.\n\n```python\nprint('<x>')\n```\n"
    off, on = render_body(text), render_body(text, raw_html=True)
    assert off.html == on.html and off.raw_html == on.raw_html == ()


def test_code_is_not_raw_html() -> None:
    body = render_body("Use `<b>` for bold.\n\n```html\n<script>x</script>\n```\n\n    <i>indented code</i>\n")
    assert body.raw_html == ()


def test_the_line_of_inline_html_counts_the_lines_before_it() -> None:
    body = render_body("One\ntwo `code\nspans` three\nfour <b>x</b>\n")
    assert [r.line for r in body.raw_html] == [3]


def test_many_pieces_of_inline_html_in_one_paragraph_are_each_at_their_line_in_time_that_grows_with_it() -> None:
    """Each piece's line was found by counting the line ends from the paragraph's start, so
    a paragraph of 80,000 pieces took 16 s (time growing as the square of the paragraph);
    they are counted from the piece before now."""
    from tests.hang import fails_if_hung

    lines = ["a <b>x</b> b <i>y</i>", "no HTML here", "`<u>code</u>` and <u>z</u>", "plain",
             "<s>one</s> <s>two</s> <s>three</s>"]
    body = "Intro.\n\n" + "\n".join(lines * 3) + "\n"
    expected = [i + 2 for i, line in enumerate(lines * 3) if "HTML" not in line and line != "plain"]
    assert [r.line for r in render_body(body).raw_html] == expected
    with fails_if_hung("a paragraph of many pieces of HTML", seconds=30):  # (2 s here; over 30 s before)
        many = render_body("Intro.\n\n" + "<b>x</b>a " * 120000 + "\n<i>y</i>\n")
    assert [r.line for r in many.raw_html] == [2, 3]  # (lines of the body, from 0)


def test_the_check_of_raw_html_reads_markup_it_cannot_finish_in_time_that_grows_with_it() -> None:
    """The standard library's HTML parser took time growing as the square of a fragment of
    constructs it cannot finish (`<a ` 8,000 times with no `>`: 3 s), and stopped the
    build with an AssertionError on `<![<![`. Fragments are read in pieces now (what
    `sanitise` removes is still said, past them), and markup it cannot read is said as such."""
    from marketnews.rawhtml import CHUNK, find_raw_html
    from tests.hang import fails_if_hung

    with fails_if_hung("raw HTML the parser cannot finish", seconds=30):
        for unit in ("<a ", "<!--a>", "<![CDATA[a>", "<a x='>"):
            body = "<div>\n" + unit * 64000 + "\n\n<script>x</script>\n"
            assert [(r.line, r.message) for r in find_raw_html(body, True)][-1] == (
                3, "raw HTML: the sanitiser removes <script>")
    with fails_if_hung("raw HTML of very many different tags", seconds=30):  # (a review: 40,000 took 7 s)
        assert len(removed_by_sanitiser("".join(f"<t{i}>" for i in range(150000)))) == 150000
    assert removed_by_sanitiser("<![<![ >") == ["markup that cannot be read"]
    assert render_body("<div>\n<![<![ >\n", raw_html=True).raw_html[0].line == 0
    long = "<p>" + "word " * CHUNK + '</p><img src="x.png" onerror="y">' + "<b>" * CHUNK + '<script src="y"'
    assert removed_by_sanitiser(long) == ["onerror= on <img>"]  # (after the last `>`, no tag ends)
    assert removed_by_sanitiser(long + ">") == ["onerror= on <img>", "<script>"]


def test_removed_lists_elements_attributes_and_schemes() -> None:
    assert removed_by_sanitiser('<p onclick="x" class="k"><a href="vbscript:x" title="t">a</a></p>') == [
        "onclick= on <p>", "vbscript: URL in <a href=>"]
    assert removed_by_sanitiser('<a href="https://example.org/">ok</a><a href="/x">ok</a>') == []


def test_sanitise_is_deterministic_and_idempotent() -> None:
    html = '<p>A <b onclick="x">b</b> <a href="https://example.org/">c</a></p>'
    once = sanitise(html)
    assert once == sanitise(html) == sanitise(once) == '<p>A <b>b</b> <a href="https://example.org/">c</a></p>'


def test_check_strict_fails_on_raw_html_and_the_setting_allows_it(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    site.write("content/evil.md", article("Evil", body="Fine.\n\n<script>alert(1)</script>\n"))
    run = cli("check", "--root", site.root)
    assert run.code == 0
    assert "content/evil.md:7: warning: body: raw HTML is shown as text" in run.err
    assert cli("check", "--root", site.root, "--strict").code == 1
    assert cli("build", "--root", site.root).code == 0
    page = (site.out / "2026/11/evil/index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page

    site.write("site.yaml", (site.root / "site.yaml").read_text() + "raw_html: true\n")
    run = cli("check", "--root", site.root, "--strict")
    assert run.code == 1
    assert "content/evil.md:7: body: raw HTML: the sanitiser removes <script>" in run.err
    assert cli("build", "--root", site.root).code == 0
    page = (site.out / "2026/11/evil/index.html").read_text()
    assert "alert(1)" not in page and "&lt;script" not in page

    site.write("content/evil.md", article("Evil", body="Fine <b>bold</b>.\n"))
    assert cli("check", "--root", site.root, "--strict").code == 0
    assert cli("build", "--root", site.root).code == 0
    assert "Fine <b>bold</b>." in (site.out / "2026/11/evil/index.html").read_text()


def test_the_setting_must_be_true_or_false(site: Site, cli) -> None:  # type: ignore[no-untyped-def]
    site.write("site.yaml", (site.root / "site.yaml").read_text() + "raw_html: yes please\n")
    run = cli("check", "--root", site.root)
    assert run.code != 0 and "raw_html: expected true or false, got 'yes please'" in run.err


def test_a_body_is_parsed_for_raw_html_only_where_some_may_start() -> None:
    """`find_raw_html` parses a body again only when a `<` in it may start raw HTML (a tag,
    a closing tag, `<!`, `<?`); on random bodies of the pieces that matter it finds what a
    parse of every body with a `<` finds, with raw HTML allowed or not."""
    import random

    from marketnews import rawhtml

    def parsed(body: str, allowed: bool) -> tuple[rawhtml.RawHtml, ...]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(rawhtml, "_MAY_BE_HTML", re.compile("<"))
            return rawhtml.find_raw_html(body, allowed)

    pieces = ["<", "< ", "<3", "<=", "<a", "<b>", "</b>", "<br/>", "<div", "<DIV ", "<!--", "-->", "<?", "?>", "<!X ",
              "<![CDATA[", "]]>", "<https://x.org>", "<a@b.co>", "<x-y", "<1a>", ">", "a", " ", "\n", "\n\n", "`",
              "    ", "> ", "- ", "|", "=", '"v"']
    rng = random.Random(4)
    found = 0
    for _ in range(3000):
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 16)))
        for allowed in (False, True):
            expected = parsed(body, allowed)
            assert rawhtml.find_raw_html(body, allowed) == expected, body
            found += bool(expected)
    assert found > 500  # (the bodies do hold raw HTML)
    assert not rawhtml._MAY_BE_HTML.search("Odds < 3% and <= 5, at <https://x.org> (x<y)")

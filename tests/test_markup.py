from marketnews.markup import PLACEHOLDER, fill_placeholders, render_body


def test_market_fence_becomes_numbered_placeholders_with_lines() -> None:
    body = render_body("Intro.\n\n```market\nfirst-slug\n\nhttps://polymarket.com/event/e\n```\n\n```market\nthird\n```\n")
    assert [(r.written, r.line) for r in body.inline] == [
        ("first-slug", 3), ("https://polymarket.com/event/e", 5), ("third", 9)]
    assert [int(m) for m in PLACEHOLDER.findall(body.html)] == [0, 1, 2]
    assert "first-slug" not in body.html  # the reference is not shown as code


def test_placeholders_are_filled_and_unknown_indices_vanish() -> None:
    body = render_body("```market\na\n```\n")
    html = fill_placeholders(body.html + "<!--mn:widget:7-->", lambda i: f"[w{i}]" if i == 0 else "")
    assert "[w0]" in html and "mn:widget" not in html


def test_other_fences_stay_code() -> None:
    body = render_body("```python\nprint('<x>')\n```\n")
    assert '<code class="language-python">print(\'&lt;x&gt;\')' in body.html
    assert body.inline == ()


def test_tables_footnotes_and_typography() -> None:
    html = render_body('| a | b |\n|---|---|\n| 1 | 2 |\n\nSee "this"[^n] -- ok.\n\n[^n]: The note.\n').html
    assert '<table tabindex="0">' in html and "<td>1</td>" in html  # focusable: it may scroll sideways
    assert 'class="footnote-ref"' in html and "The note." in html
    assert "“this”" in html and "–" in html


def test_first_paragraph_is_plain_text() -> None:
    body = render_body("# Heading\n\nThe *first* `para`\nwraps.\n\nSecond.\n")
    assert body.first_paragraph == "The first para wraps."


def test_images_without_alt_and_empty_market_blocks_are_found() -> None:
    body = render_body("Text\n\n![](a.png) and ![A chart](b.png)\n\n```market\n```\n")
    assert body.images_without_alt == (2,)
    assert body.empty_market_blocks == (4,)


def test_the_fast_path_for_plain_link_destinations_agrees_with_markdown_it() -> None:
    import random

    from markdown_it import MarkdownIt

    from marketnews.markup import PLAIN_LINK, markdown

    reference, ours = MarkdownIt().normalizeLink, markdown().normalizeLink
    rng = random.Random(7)
    unreserved = "abcxyzABCXYZ0189-._~"

    def part(chars: str, most: int) -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(0, most)))

    plain = []
    for _ in range(3000):
        host = ".".join(part("abcz0189", 6) or "a" for _ in range(rng.randint(1, 3)))
        start = rng.choice(["https://" + host, "http://" + host, "", "/", "./", "../"])
        path = "/".join(part(unreserved, 8) for _ in range(rng.randint(0, 3)))
        if start.startswith("http") and path and not path.startswith("/"):
            path = "/" + path
        query = rng.choice(["", "?" + part(unreserved + "=&/", 10)])
        url = start + path + query + rng.choice(["", "#" + part(unreserved + "/", 6)])
        if not url.startswith("//"):  # that names a host: the library's way (see `awkward`)
            plain.append(url)
    assert all(PLAIN_LINK.fullmatch(url) for url in plain)
    awkward = ["https://Example.org/A", "https://例え.jp/x", "/a b", "/%7e", "//cdn.example/x", "mailto:a@b.org",
               "HTTP://x.org", "https://x.org:8080/", "https://user@x.org/", "/a%20b", "javascript:alert(1)",
               "https://x.org/ü", "https://x.org/a?b=c d", "https://x_y.org/", "/a\\b", "?q=ä", "#frag ment"]
    for url in plain + awkward:
        assert ours(url) == reference(url), url
    assert not any(PLAIN_LINK.fullmatch(url) for url in awkward)


def _quote_documents(count: int, seed: int) -> list[str]:
    """Short documents of quotes among everything that decides how one is curled: letters,
    digits, spaces, punctuation (Unicode's too), emphasis, links, images, code spans, raw
    HTML, line ends and hard breaks, block quotes, lists and headings."""
    import random

    atoms = ['"', "'", '"', "'", "a", "b", "1", "5", " ", " ", "\n", "\n\n", "*", "_", "**", "`", "[a", "](b)",
             "![i](p)", "<b>", "\\\n", "  \n", ".", "-", "(", ")", "é", "—", "«", "\u00a0", "\u2019", "“",
             "&quot;", "&#39;", "\t", "> ", "- ", "# ", "~~", "<", "&", "x'", "'s", '1"', '""']
    rng = random.Random(seed)
    return ["".join(rng.choice(atoms) for _ in range(rng.randint(1, 40))) for _ in range(count)]


def test_smart_quotes_give_the_same_bytes_as_markdown_it_pys_own_rule() -> None:
    """`smartquotes.rule` takes markdown-it-py's smart quotes rule's place in the reference
    engine (in linear time): every document renders as with the library's rule, with raw
    HTML allowed or not. (Checked: with a closing quote paired with the topmost opener of
    either kind, or the stack cut by the token's own level rather than the lowest since the
    last quote, or without the rule for an inch (`1""`), documents here differ.)"""
    from markdown_it.rules_core.smartquotes import smartquotes as library_rule

    from marketnews.markup import _make_markdown

    for raw_html in (False, True):
        ours, theirs = _make_markdown(raw_html), _make_markdown(raw_html)
        theirs.core.ruler.at("smartquotes", library_rule)
        rules = {r.name: r.fn for r in ours.core.ruler.__rules__}
        assert rules["smartquotes"] is not library_rule
        # Quotes that a token of a lower level parts (an emphasis ends between them) first.
        for doc in ['*"a* *b"*', '**"a** *b"*', "*'a* *b'*", *_quote_documents(6000, seed=11 + raw_html)]:
            assert ours.render(doc) == theirs.render(doc), repr(doc)


def test_a_paragraph_of_very_many_quotes_renders_in_time_that_grows_with_its_length() -> None:
    """markdown-it-py's own rule rewrote a text for every quote it curled, and looked down
    its whole stack of opening quotes for every closing one: 256 KB of `"a" ` took 12 s,
    and 96 KB of single openers followed by double closers 11 s, growing as the square of
    the paragraph. Both engines now take a fraction of a second for either (see
    docs/markdown-engines.md)."""
    from marketnews.markup import render_body_reference
    from tests.hang import fails_if_hung

    n = 60000
    cases = [('"a" ' * n, "“a” " * n), ("'a " * n + 'a" ' * n, "'a " * n + "a&quot; " * n),
             ("it's " * n, "it’s " * n)]
    with fails_if_hung("a paragraph of quotes"):
        for body, curled in cases:
            for render in (render_body, render_body_reference):
                assert render(body + "\n").html == f"<p>{curled.rstrip()}</p>\n"

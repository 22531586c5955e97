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

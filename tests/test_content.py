"""The article format: what is accepted, and every kind of bad input located by file and line."""

from datetime import UTC as UTC_TZ
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from marketnews.content import parse_article, slugify, split_frontmatter
from marketnews.names import image_reference_ok
from marketnews.yamlmap import key_lines

UTC = ZoneInfo("UTC")


def parse(text: str, tz: ZoneInfo = UTC):  # type: ignore[no-untyped-def]
    return parse_article("content/story.md", text.encode(), tz)


def messages(problems) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p) for p in problems]


FULL = """\
---
title: "US threatens to 'decouple' NATO coordination by 2027"
date: 2026-11-20T09:30:00Z
updated: 2026-11-20T14:00:00Z
author: [Jane Roe, John Doe]
summary: "One or two sentences."
tags: [nato, russia]
markets:
  - some-market-slug
  - https://polymarket.com/event/some-event-slug/some-market
image: /images/nato.svg
image_alt: A map
draft: true
slug: custom-url
---
Body *here*.
"""


def test_every_documented_field_is_read() -> None:
    a, problems = parse(FULL)
    assert problems == []
    assert a is not None
    assert a.title == "US threatens to 'decouple' NATO coordination by 2027"
    assert a.date == datetime(2026, 11, 20, 9, 30, tzinfo=UTC_TZ)
    assert a.updated == datetime(2026, 11, 20, 14, 0, tzinfo=UTC_TZ)
    assert a.authors == ("Jane Roe", "John Doe")
    assert a.tags == ("nato", "russia")
    assert [u.ref.key for u in a.markets] == ["some-market-slug", "some-market"]
    assert [u.line for u in a.markets] == [9, 10]
    assert a.markets[1].written == "https://polymarket.com/event/some-event-slug/some-market"
    assert (a.image, a.image_alt, a.draft, a.slug, a.summary) == (
        "/images/nato.svg", "A map", True, "custom-url", "One or two sentences.")
    assert a.body == "Body *here*.\n"
    assert a.body_line == 16


def test_a_bare_date_is_midnight_in_the_site_timezone() -> None:
    a, _ = parse("---\ntitle: T\ndate: 2026-11-20\n---\n", ZoneInfo("America/New_York"))
    assert a is not None
    assert a.date.isoformat() == "2026-11-20T00:00:00-05:00"


def test_single_author_and_slug_from_file_name() -> None:
    source = b"---\ntitle: T\ndate: 2026-11-20\nauthor: Jane\n---\n"
    a, problems = parse_article("content/Étienne's NATO Plan.md", source, UTC)
    assert problems == [] and a is not None
    assert a.authors == ("Jane",) and a.slug == "etiennes-nato-plan"


def test_missing_frontmatter() -> None:
    a, problems = parse("# Just markdown\n")
    assert a is None
    assert messages(problems) == [
        "content/story.md:1: expected YAML frontmatter starting with '---' on line 1, found '# Just markdown'"]


def test_unclosed_frontmatter() -> None:
    _, problems = parse("---\ntitle: x\n")
    assert "frontmatter is not closed" in messages(problems)[0]


def test_malformed_yaml_names_the_line() -> None:
    _, problems = parse("---\ntitle: ok\ndate: 2026-11-20\ntags: [a, b\n---\n")
    assert len(problems) == 1
    assert problems[0].path == "content/story.md" and problems[0].line >= 4
    assert "malformed YAML" in problems[0].message


def test_every_problem_is_reported_at_once() -> None:
    a, problems = parse(
        "---\ntitle: [not, text]\ndate: tomorrow\ndraft: maybe\ntagz: [x]\n"
        "markets:\n  - ok-slug\n  - https://example.com/event/x\n---\nBody\n"
    )
    assert a is None
    assert messages(problems) == [
        "content/story.md:5: tagz: unknown key; did you mean 'tags'?",
        "content/story.md:2: title: expected text, got a list ['not', 'text']",
        "content/story.md:3: date: expected an ISO 8601 date like 2026-11-20T09:30:00Z, got 'tomorrow'",
        "content/story.md:4: draft: expected true or false, got 'maybe'",
        "content/story.md:8: markets: expected a polymarket.com URL or a slug, got 'https://example.com/event/x'",
    ]


def test_missing_required_fields() -> None:
    _, problems = parse("---\nauthor: x\n---\n")
    assert messages(problems) == [
        "content/story.md:1: title: required field is missing",
        "content/story.md:1: date: required field is missing",
    ]


def test_wrong_typed_fields() -> None:
    _, problems = parse("---\ntitle: T\ndate: 2026-11-20\ntags: {a: 1}\nmarkets: 5\nslug: Not OK\n---\n")
    text = "\n".join(messages(problems))
    assert "content/story.md:4: tags: expected a text or a list of texts" in text
    assert "content/story.md:5: markets: expected a list of slugs or polymarket.com URLs, got 5" in text
    assert "content/story.md:6: slug: expected lowercase letters, digits and hyphens, got 'Not OK'" in text


def test_warnings_do_not_stop_an_article() -> None:
    a, problems = parse("---\ntitle: T\ndate: 2026-11-20\nimage: /x.png\nmarkets: [a, a]\n---\n")
    assert a is not None
    assert {p.severity for p in problems} == {"warning"}
    assert any("image_alt" in str(p) for p in problems)
    assert any("listed twice" in str(p) for p in problems)


def test_a_long_list_of_markets_says_each_problem_at_its_own_line() -> None:
    """Each item of a long `markets:` list is placed at its own line, and a repeat found, in
    one read of the list (an article with thousands of markets once took seconds to read)."""
    items = [f"market-{i}" for i in range(3000)] + ["market-7", "https://polymarket.com/nope"]
    a, problems = parse("---\ntitle: T\ndate: 2026-11-20\nmarkets:\n" + "".join(f"  - {m}\n" for m in items) + "---\n")
    assert a is None
    assert [(p.line, p.severity) for p in problems] == [(3005, "warning"), (3006, "error")]
    assert "'market-7' is listed twice" in problems[0].message
    assert len(parse("---\ntitle: T\ndate: 2026-11-20\nmarkets:\n"
                     + "".join(f"  - {m}\n" for m in items[:3000]) + "---\n")[0].markets) == 3000  # type: ignore[union-attr]


def test_frontmatters_that_once_took_time_growing_faster_than_them_are_read_at_once() -> None:
    """Found by a review hunting for them: a line of many spaces before a colon that is no
    key (the search for keys tried every way to split the spaces), a frontmatter of very many
    keys (each key's line counted from the top), and a long image URL with a space (the
    check tried every split of its host and path). Each problem is still at its line."""
    from tests.hang import fails_if_hung

    with fails_if_hung("frontmatters the checks once took long over", seconds=30):
        a, problems = parse("---\ntitle: T\ndate: 2026-11-20\ntags: [a,\nb" + " " * 64000 + ":x]\n---\n")
        assert a is not None and a.tags == ("a", "b" + " " * 64000 + ":x") and problems == []
        keys = "".join(f"k{i}: v\n" for i in range(40000))
        a, problems = parse("---\ntitle: T\ndate: 2026-11-20\n" + keys + "---\n")
        assert a is not None and len(problems) == 40000
        assert (problems[0].line, problems[-1].line, problems[-1].field) == (4, 40003, "k39999")
        a, problems = parse("---\ntitle: T\ndate: 2026-11-20\nimage: http://" + "a" * 64000 + " b\n---\n")
        assert a is None and [(p.line, p.field) for p in problems] == [(4, "image")]
        # Larger, the parts alone (the old code would take from half a minute to most of an hour on each):
        many = "".join(f"k{i}: v\n" for i in range(200000))
        assert key_lines("x\n" + " " * 10**6 + ":y\n" + many) == {f"k{i}": i + 3 for i in range(200000)}
        assert not image_reference_ok("http://" + "a" * 10**6 + " b")


def test_non_utf8_file() -> None:
    a, problems = parse_article("content/x.md", b"---\ntitle: caf\xe9\n---\n", UTC)
    assert a is None and "expected UTF-8 text, found byte 0xe9" in str(problems[0])
    assert problems[0].line == 2


def test_split_frontmatter_handles_crlf_and_dots() -> None:
    assert split_frontmatter("---\na: 1\n...\nbody\n") == ("a: 1\n", "body\n", 4)
    a, problems = parse_article("content/x.md", b"---\r\ntitle: T\r\ndate: 2026-11-20\r\n---\r\nBody\r\n", UTC)
    assert problems == [] and a is not None and (a.title, a.body, a.body_line) == ("T", "Body\n", 5)


@pytest.mark.parametrize(
    ("text", "slug"), [("Hello, World!", "hello-world"), ("  --x--  ", "x"), ("Ünïcödé", "unicode")]
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_an_unclosed_flow_list_is_reported_on_its_own_line() -> None:
    _, problems = parse("---\ntitle: T\ntags: [a, b\ndate: 2026-11-20\n---\n")
    assert [p.line for p in problems] == [3]


def test_a_near_miss_of_a_known_key_is_an_error() -> None:
    a, problems = parse("---\ntittle: Fed holds\ndate: 2026-11-20\nmarket:\n  - fed-cut\n---\nBody\n")
    assert a is None
    assert messages(problems) == [
        "content/story.md:2: tittle: unknown key; did you mean 'title'?",
        "content/story.md:4: market: unknown key; did you mean 'markets'?",
        "content/story.md:1: title: required field is missing",
    ]


def test_an_unknown_key_beside_the_known_one_it_resembles_is_a_warning() -> None:
    a, problems = parse("---\ntitle: Fed holds\nsubtitle: Rates\ndate: 2026-11-20\nlayout: wide\n---\nBody\n")
    assert a is not None and a.title == "Fed holds"
    assert messages(problems) == [
        "content/story.md:3: warning: subtitle: unknown key (is it meant to be 'title'?)",
        "content/story.md:5: warning: layout: unknown key; known keys: title, date, updated, author, summary, "
        "tags, markets, image, image_alt, image_caption, image_credit, draft, slug, type",
    ]


def test_a_near_miss_of_the_market_fence_is_a_warning_at_its_line() -> None:
    body = ("Intro.\n\n```markets\nfed-cut\n```\n\n~~~Market\nfed-cut\n~~~\n\n"
            "```marketplace\nx\n```\n\n```python\nx = 1\n```\n\n```market title=\"Odds\"\nfed-cut\n```\n")
    a, problems = parse("---\ntitle: T\ndate: 2026-11-20\n---\n" + body)
    assert a is not None  # a warning: the article is still published
    assert messages(problems) == [
        "content/story.md:7: warning: market: ```markets block is shown as code; "
        "did you mean ```market (the word alone on its line, then one slug or URL a line)?",
        "content/story.md:23: warning: market: ```market title=\"Odds\" block is shown as code; "
        "did you mean ```market (the word alone on its line, then one slug or URL a line)?",
    ]
    # ~~~Market is a market block (the word in any case): no warning. Nor is ```market``` in a line, inline code.
    _, problems = parse("---\ntitle: T\ndate: 2026-11-20\n---\nWrite ```market``` on a line of its own.\n")
    assert problems == []


def test_a_key_written_twice_is_an_error_at_its_second_line() -> None:
    a, problems = parse("---\ntitle: T\ndate: 2026-11-20\nmarkets: [fed-cut]\nmarkets: [btc-100k]\n---\nBody\n")
    assert a is None
    assert messages(problems) == [
        "content/story.md:5: malformed YAML: the key 'markets' is written a second time here: keep one of the two"]


@pytest.mark.parametrize("field", ["date", "updated"])
@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "0999-12-31"])
def test_a_date_near_the_ends_of_the_calendar_is_an_error_at_its_line(field: str, when: str) -> None:
    front = "---\ntitle: T\ndate: 2026-11-20\n" if field == "updated" else "---\ntitle: T\n"
    a, problems = parse(front + f"{field}: {when}\n---\nBody\n")
    line = front.count("\n") + 1
    assert a is None
    assert messages(problems) == [
        f"content/story.md:{line}: {field}: expected a date in the years 1000 to 9000, got '{when}'"]


def test_a_number_too_long_to_read_is_an_error_at_its_line() -> None:
    a, problems = parse("---\ntitle: T\ndate: 2026-11-20\ndraft: " + "9" * 5000 + "\n---\nBody\n")
    assert a is None
    assert messages(problems) == [
        "content/story.md:4: malformed YAML: a number of 5,000 digits is too long to be a value"]


def test_a_line_separator_inside_a_value_does_not_move_the_line_of_a_later_error() -> None:
    a, problems = parse('---\ntitle: "a\u2028b\u2028c"\ndate: 2026-11-20\ntags: [x\n---\nBody\n')
    assert a is None and [p.line for p in problems] == [4]  # YAML would count the two separators as lines


def test_a_market_fence_near_miss_shown_inside_another_fence_is_an_example_not_a_mistake() -> None:
    body = "How to:\n\n````markdown\n```markets\nfed-cut\n```\n````\n\n```markt\nx\n```\n"
    _, problems = parse("---\ntitle: T\ndate: 2026-11-20\n---\n" + body)
    assert [(p.line, p.message.split(" ")[0]) for p in problems] == [(13, "```markt")]


FRONT = "---\ntitle: x\ndate: 2026-11-20\nauthor: a\nsummary: s\ntags: [a]\nimage: /i.png\nimage_alt: alt\n"


@pytest.mark.parametrize(("front", "line", "hint"), [
    # A list item indented less than the one above, on line 11: said there, not at the mapping's start.
    (FRONT + "markets:\n  - a\n - b\n", 11, "check this line's indentation: the '- ' items of a list line up"),
    ('---\ntitle: Fed: no cut\ndate: 2026-11-20\n', 2, 'a value holding ": " must be quoted, like title: "Fed:'),
    ("---\ntitle: x\nmarkets:\n\t- a\n", 4, "YAML does not allow tabs for indenting: indent with spaces"),
    ('---\ntitle: "Fed holds\ndate: 2026-11-20\n', 2, 'the quote opened in `title: "Fed holds` is not closed'),
    ("---\ntitle: x\ntags: [a, b\ndate: 2026-11-20\n", 3, "the '[' opened in `tags: [a, b` is not closed"),
    ("---\ntitle: x\n  date: 2026-11-20\n", 3, "this line is indented, but the line above does not open"),
])
def test_malformed_yaml_is_placed_where_the_parser_stopped_with_a_hint(front: str, line: int, hint: str) -> None:
    _, problems = parse(front + "---\nBody\n")
    assert len(problems) == 1, problems
    assert problems[0].line == line and problems[0].message.startswith("malformed YAML: ")
    assert hint in problems[0].message


def test_a_standalone_page_and_an_image_caption_and_credit() -> None:
    a, problems = parse("---\ntitle: About us\ndate: 2026-11-01\ntype: page\nimage: /images/a.png\n"
                        "image_alt: A newsroom\nimage_caption: Our newsroom.\n"
                        "image_credit: \"Photo: Staff\"\n---\nBody\n")
    assert a is not None and a.is_page and a.kind == "page"
    assert (a.image_caption, a.image_credit) == ("Our newsroom.", "Photo: Staff")
    assert not [p for p in problems if p.severity == "error"]
    b, problems = parse("---\ntitle: X\ndate: 2026-11-01\ntype: blog\n---\nBody\n")
    assert b is None and "content/story.md:4: type: expected one of article, page, got 'blog'" in messages(problems)
    c, problems = parse("---\ntitle: X\ndate: 2026-11-01\ntype: page\nslug: markets\n---\nBody\n")
    assert c is None and "content/story.md:5: slug: a page at /markets/ would take the place" in messages(problems)[0]

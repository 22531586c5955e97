"""netlify.toml, loaded as TOML and checked rule by rule against the files of a built site."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from typing import Any

from tests.sitebuild import REPO, url_of

CONFIG = tomllib.loads((REPO / "netlify.toml").read_text(encoding="utf-8"))
RULES: list[dict[str, Any]] = CONFIG["headers"]


def matches(pattern: str, path: str) -> bool:
    """Netlify's path matching: `*` matches anything (slashes too), `:name` one path segment."""
    regex = "".join(
        ".*" if part == "*" else "[^/]+" if part.startswith(":") else re.escape(part)
        for part in re.split(r"(\*|:[A-Za-z_]+)", pattern)
    )
    return re.fullmatch(regex, path) is not None


def headers_for(path: str) -> dict[str, list[str]]:
    """Every header value the rules give `path`, by header name (lower case)."""
    found: dict[str, list[str]] = {}
    for rule in RULES:
        if matches(rule["for"], path):
            for name, value in rule["values"].items():
                found.setdefault(name.lower(), []).append(value)
    return found


def csp(path: str) -> dict[str, list[str]]:
    values = headers_for(path)["content-security-policy"]
    assert len(values) == 1
    policy: dict[str, list[str]] = {}
    for directive in values[0].split(";"):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


def test_the_matcher_follows_netlify_rules() -> None:
    assert matches("/*", "/") and matches("/*", "/a/b/c.html")
    assert matches("/assets/*", "/assets/css/site.0123456789.css")
    assert not matches("/assets/*", "/css/site.css")
    assert matches("/tags/:tag/feed.xml", "/tags/nato/feed.xml")
    assert not matches("/tags/:tag/feed.xml", "/tags/a/b/feed.xml")


def test_build_settings() -> None:
    build = CONFIG["build"]
    assert build["publish"] == "public"
    assert "pip install" in build["command"] and "build.py" in build["command"]
    # A deploy preview is a cold build: with the fast extra where it installs, else without.
    fast, plain = build["command"].split(" || ")
    assert "--only-binary markdown-it-pyrs '.[fast]'" in fast and plain.endswith("&& python build.py")
    assert build["environment"]["PYTHON_VERSION"] == "3.11"


def test_no_path_gets_cache_control_from_two_rules(built_example: dict[str, bytes]) -> None:
    for path in built_example:
        assert len(headers_for(url_of(path)).get("cache-control", [])) <= 1, path


def test_fingerprinted_assets_are_immutable_for_a_year(built_example: dict[str, bytes]) -> None:
    assets = [p for p in built_example if p.startswith("assets/")]
    assert assets
    for path in assets:
        assert headers_for(url_of(path))["cache-control"] == ["public, max-age=31536000, immutable"]


def test_pages_feeds_and_original_static_files_revalidate_every_time(built_example: dict[str, bytes]) -> None:
    """They get no Cache-Control from a rule, so Netlify sends its default: max-age=0, must-revalidate."""
    others = [p for p in built_example if not p.startswith("assets/") and p != "snapshot.json"]
    assert "index.html" in others and "feed.xml" in others and "css/site.css" in others
    for path in others:
        assert "cache-control" not in headers_for(url_of(path)), path


def test_snapshot_json_is_cached_briefly(built_example: dict[str, bytes]) -> None:
    assert "snapshot.json" in built_example
    (value,) = headers_for("/snapshot.json")["cache-control"]
    max_age = int(re.search(r"max-age=(\d+)", value).group(1))  # type: ignore[union-attr]
    assert 0 < max_age <= 3600
    assert "immutable" not in value


def test_security_headers_on_every_file(built_example: dict[str, bytes]) -> None:
    for path in built_example:
        h = headers_for(url_of(path))
        assert h["x-content-type-options"] == ["nosniff"]
        assert h["x-frame-options"] == ["DENY"]
        assert h["referrer-policy"] == ["strict-origin-when-cross-origin"]
        policy = csp(url_of(path))
        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert "script-src" not in policy  # so scripts fall back to default-src 'none'
        assert policy["style-src"] == ["'self'"]
        assert policy["img-src"] == ["'self'", "https:"]


def test_not_found_page_is_at_the_publish_root(built_example: dict[str, bytes]) -> None:
    assert b"Page not found" in built_example["404.html"]
    assert not any(r.get("to") == "/404.html" for r in CONFIG.get("redirects", []))


class Uses(HTMLParser):
    """What a page loads or runs: what the Content-Security-Policy has to allow."""

    def __init__(self) -> None:
        super().__init__()
        self.styles: list[str] = []  # stylesheet URLs
        self.images: list[str] = []
        self.inline: list[str] = []  # anything the policy forbids: inline style, script, handlers

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "style" in a or any(k.startswith("on") for k in a):
            self.inline.append(f"<{tag} {a}>")
        if tag == "style" or tag in ("iframe", "object", "embed", "form", "base"):
            self.inline.append(tag)
        if tag == "script" and a.get("type") != "application/ld+json":
            self.inline.append(f"script {a}")
        if tag == "link" and a.get("rel") == "stylesheet":
            self.styles.append(a["href"])
        if tag == "img":
            self.images.append(a["src"])
        if tag == "a" and a.get("href", "").startswith("javascript:"):
            self.inline.append(a["href"])


def test_policy_allows_exactly_what_the_pages_use(built_example: dict[str, bytes]) -> None:
    pages = {p: d for p, d in built_example.items() if p.endswith(".html")}
    assert len(pages) > 30
    for path, data in pages.items():
        uses = Uses()
        uses.feed(data.decode("utf-8"))
        assert uses.inline == [], path  # 'unsafe-inline' is not in the policy
        assert uses.styles and all(s.startswith("/assets/") for s in uses.styles), path  # style-src 'self'
        for src in uses.images:  # img-src 'self' https:
            assert (src.startswith("/") and not src.startswith("//")) or src.startswith("https://"), (path, src)
            if src.startswith("/"):
                target = src.lstrip("/")
                assert url_of(target).lstrip("/") in built_example or target in built_example, (path, src)


def test_markdown_tables_use_classes_not_inline_styles() -> None:
    from marketnews.markup import render_body

    html = render_body("| a | b |\n|:-:|--:|\n| 1 | 2 |\n").html
    assert "style=" not in html
    assert '<th class="align-center">a</th>' in html and '<td class="align-right">2</td>' in html


def test_headers_only_name_paths_the_site_has(built_example: dict[str, bytes]) -> None:
    urls = [url_of(p) for p in built_example]
    for rule in RULES:
        assert any(matches(rule["for"], u) for u in urls), rule["for"]


"""Every page's head: canonical URL, description, Open Graph, Twitter card; NewsArticle JSON-LD on articles."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from marketnews.config import load_config
from marketnews.errors import ConfigError
from marketnews.seo import card_image, script_json
from tests.sitebuild import BASE_URL, Page, build_example, copy_site, url_of

ARTICLE = re.compile(r"\d{4}/\d{2}/[^/]+/index\.html")


def pages(built_example: dict[str, bytes]) -> dict[str, Page]:
    return {p: Page(d.decode()) for p, d in built_example.items() if p.endswith(".html") and p != "404.html"}


def jsonld(page: Page) -> dict[str, Any]:
    (block,) = [text for attrs, text in page.scripts if attrs.get("type") == "application/ld+json"]
    doc = json.loads(block)
    assert isinstance(doc, dict)
    return doc


def aware(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    assert when.tzinfo is not None, text
    return when


def test_every_page_has_canonical_description_open_graph_and_card(built_example: dict[str, bytes]) -> None:
    for path, page in pages(built_example).items():
        url = BASE_URL + url_of(path)
        assert [a["href"] for a in page.link("canonical")] == [url], path
        assert page.one("og:url") == url
        assert page.one("description") and page.one("og:description") == page.one("description")
        assert page.one("og:title")
        assert page.one("og:type") == ("article" if ARTICLE.fullmatch(path) else "website")
        assert page.one("og:image").startswith(BASE_URL + "/") and page.one("og:image").endswith(".png")
        assert page.one("og:image").removeprefix(BASE_URL + "/") in built_example
        assert page.one("twitter:card") == "summary_large_image"
        assert "robots" not in page.meta


def test_not_found_page_has_no_canonical_and_is_not_indexed(built_example: dict[str, bytes]) -> None:
    page = Page(built_example["404.html"].decode())
    assert page.link("canonical") == [] and "og:url" not in page.meta
    assert page.one("robots") == "noindex"


def test_article_pages_carry_article_open_graph(built_example: dict[str, bytes]) -> None:
    page = Page(built_example["2026/11/nato-2027-conventional-defence-deadline/index.html"].decode())
    assert page.one("og:title") == "US presses allies to take over NATO's conventional defence by 2027"
    assert aware(page.one("article:published_time")) == aware("2026-11-20T09:30:00+00:00")
    assert aware(page.one("article:modified_time")) == aware("2026-11-20T14:00:00+00:00")
    assert page.meta["article:tag"] == ["NATO", "Europe", "Defence", "Russia"]  # as readers see them
    assert page.one("description").startswith("Pentagon officials")


def test_article_pages_have_news_article_json_ld(built_example: dict[str, bytes]) -> None:
    articles = {p: pg for p, pg in pages(built_example).items() if ARTICLE.fullmatch(p)}
    assert len(articles) == 6
    for path, page in articles.items():
        doc = jsonld(page)
        url = BASE_URL + url_of(path)
        assert doc["@context"] == "https://schema.org" and doc["@type"] == "NewsArticle"
        assert doc["headline"] == page.one("og:title")
        assert aware(doc["datePublished"]) <= aware(doc["dateModified"])
        assert doc["datePublished"] == page.one("article:published_time")
        assert doc["author"] and all(a["name"] for a in doc["author"])
        assert doc["image"] and all(i.startswith(BASE_URL + "/") for i in doc["image"])
        assert doc["publisher"]["@type"] == "Organization" and doc["publisher"]["name"] == "The Market Ledger"
        assert doc["mainEntityOfPage"] == {"@type": "WebPage", "@id": url}
    nato = jsonld(articles["2026/11/nato-2027-conventional-defence-deadline/index.html"])
    assert nato["author"] == [{"@type": "Person", "name": "Marta Lindqvist"}]
    assert nato["image"] == [BASE_URL + "/images/nato-map.svg"]


def test_other_pages_have_no_json_ld(built_example: dict[str, bytes]) -> None:
    for path, page in pages(built_example).items():
        if not ARTICLE.fullmatch(path):
            assert page.scripts == [], path


def test_json_ld_cannot_break_out_of_its_script_element(tmp_path: Path) -> None:
    root = copy_site(tmp_path / "site")
    title = "Markets & </script><script>alert(1)</script> <!-- odds"
    (root / "content" / "escape.md").write_text(
        f'---\ntitle: {json.dumps(title)}\ndate: 2026-11-21T08:00:00Z\nauthor: ["A </script>", "B"]\n---\nText.\n'
    )
    build_example(tmp_path / "public", tmp_path / "cache", root=root)
    html = (tmp_path / "public/2026/11/escape/index.html").read_text()
    block = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and ">" not in block and "&" not in block
    doc = json.loads(block)
    assert doc["headline"] == title
    assert [a["name"] for a in doc["author"]] == ["A </script>", "B"]
    assert html.count("<script") == 1  # nothing in the title became an element


def test_script_json_round_trips() -> None:
    value = {"a": "</script>", "b": "x & y", "c": "é"}
    text = script_json(value)
    assert "</" not in text and json.loads(text) == value


def test_social_card_uses_raster_article_images_else_the_site_image(tmp_path: Path) -> None:
    config, _ = load_config(Path(__file__).resolve().parent.parent / "site.yaml")
    assert card_image(config, "/images/photo.jpg", "A photo") == (BASE_URL + "/images/photo.jpg", "A photo")
    assert card_image(config, "https://cdn.example/p.PNG", "") == ("https://cdn.example/p.PNG", "")
    image, alt = card_image(config, "/images/nato-map.svg", "map")
    assert image == BASE_URL + "/images/card.png" and alt == config.image_alt


def test_site_image_setting_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("title: T\nbase_url: https://x.org\nimage: images/card.png\n")
    with pytest.raises(ConfigError, match=r"site.yaml:3: image: expected a path under static/"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text("title: T\nbase_url: https://x.org/\nimage: https://cdn.x.org/card.png\nimage_alt: Card\n")
    config, warnings = load_config(good)
    assert (config.image, config.image_alt, warnings) == ("https://cdn.x.org/card.png", "Card", ())

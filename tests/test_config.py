from pathlib import Path

import pytest

from marketnews.config import load_config
from marketnews.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def test_defaults_and_values(tmp_path: Path) -> None:
    text = "title: T\nbase_url: https://x.org/\nstale_after_hours: 3\nparams: {a: 1}\n"
    config, warnings = load_config(write(tmp_path, text))
    assert warnings == ()
    assert (config.base_url, config.per_page, config.timezone, config.stale_after_s, config.extra) == (
        "https://x.org", 20, "UTC", 3 * 3600, {"a": 1})


def test_every_error_at_once_with_lines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "title: [T]\nper_page: 0\ntimezone: Mars/Olympus\npermalink: /{year}/\n"))
    assert str(err.value).splitlines() == [
        "site.yaml:1: base_url: required setting is missing",
        "site.yaml:1: title: expected str, got ['T']",
        "site.yaml:2: per_page: expected a number of 1 or more",
        "site.yaml:3: timezone: expected an IANA zone like 'Europe/London', got 'Mars/Olympus'",
        "site.yaml:4: permalink: expected a pattern containing {slug}, got '/{year}/'",
    ]


def test_unknown_setting_is_a_warning_with_a_suggestion(tmp_path: Path) -> None:
    _, warnings = load_config(write(tmp_path, "title: T\nbase_url: https://x.org\ntaglin: hi\n"))
    assert [str(w) for w in warnings] == ["site.yaml:3: warning: taglin: unknown setting; did you mean 'tagline'?"]


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "site.yaml")
    with pytest.raises(ConfigError, match=r"site.yaml:2: malformed YAML"):
        load_config(write(tmp_path, "title: T\n  bad: [\n"))


@pytest.mark.parametrize("text", [
    '"title": T\n"base_url": https://x.org\n"timezone": Mars/Olympus\n"per_page": 0\n',  # quoted keys
    "{title: T, base_url: 'https://x.org', timezone: Mars/Olympus, per_page: 0}\n",  # a flow mapping
])
def test_errors_on_keys_whose_line_is_not_known_name_line_1(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert str(err.value).splitlines() == [
        "site.yaml:1: per_page: expected a number of 1 or more",
        "site.yaml:1: timezone: expected an IANA zone like 'Europe/London', got 'Mars/Olympus'",
    ]


def test_topic_names_by_tag(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("title: T\nbase_url: https://x.org\ntopics:\n  NATO: NATO\n  us-politics: U.S. Politics\n")
    config, _ = load_config(path)
    assert config.topics == (("nato", "NATO"), ("us-politics", "U.S. Politics"))
    path.write_text("title: T\nbase_url: https://x.org\ntopics:\n  nato: [a, b]\n")
    with pytest.raises(ConfigError, match="site.yaml:3: topics: expected 'tag: Display name' pairs"):
        load_config(path)


@pytest.mark.parametrize(("pattern", "message"), [
    ("/{foo}/{slug}/", "expected only the placeholders {year}, {month}, {day}, {slug}"),
    ("/{0}/{slug}/", "expected only the placeholders {year}, {month}, {day}, {slug}"),
    ("/{slug.__class__.__name__}/", "expected only the placeholders {year}, {month}, {day}, {slug}"),
    ("/{year:>6}/{slug}/", "expected only the placeholders {year}, {month}, {day}, {slug}"),
    ("/{slug/", "expected a pattern whose braces each hold a placeholder, like /{year}/{slug}/"),
    ("/../../evil/{slug}/", "expected a path from the site's root, like /{year}/{month}/{slug}/"),
    ("{year}/{slug}/", "expected a path from the site's root, like /{year}/{month}/{slug}/"),
    ("/{year}//{slug}/", "expected a path from the site's root, like /{year}/{month}/{slug}/"),
    ("/news/{slug}?page=1", "expected a path from the site's root, like /{year}/{month}/{slug}/"),
])
def test_a_permalink_holds_only_its_placeholders_on_a_path_from_the_root(
        tmp_path: Path, pattern: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"title: T\nbase_url: https://x.org\npermalink: '{pattern}'\n"))
    assert str(err.value) == f"site.yaml:3: permalink: {message}, got {pattern!r}"


@pytest.mark.parametrize("pattern", ["/{year}/{month}/{day}/{slug}/", "/news/{slug}", "/{slug}.html"])
def test_a_permalink_may_lead_to_a_folder_or_a_file(tmp_path: Path, pattern: str) -> None:
    config, _ = load_config(write(tmp_path, f"title: T\nbase_url: https://x.org\npermalink: '{pattern}'\n"))
    assert config.permalink == pattern


@pytest.mark.parametrize("hours", [".inf", ".nan", "-1", "100000"])
def test_stale_after_hours_is_a_number_of_hours_in_range(tmp_path: Path, hours: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"title: T\nbase_url: https://x.org\nstale_after_hours: {hours}\n"))
    assert str(err.value).startswith("site.yaml:3: stale_after_hours: expected a number of hours from 0 to 8,784, got ")


def test_a_byte_that_is_not_utf8_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(b"title: T\nbase_url: https://x.org\ntagline: caf\xe9\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == "site.yaml:3: the byte 0xe9 is not UTF-8 text: save the file as UTF-8"


def test_a_setting_written_twice_is_an_error_at_its_second_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "title: T\nper_page: 5\nbase_url: https://x.org\nper_page: x\n"))
    assert str(err.value) == \
        "site.yaml:4: malformed YAML: the key 'per_page' is written a second time here: keep one of the two"


def test_merge_keys_are_not_keys_written_twice_but_keys_equal_as_values_are(tmp_path: Path) -> None:
    text = ("title: T\nbase_url: https://x.org\nparams:\n  base: &base {bg: white, fg: black}\n"
            "  themes: {dark: &dark {<<: *base, bg: black}}\n  current: {<<: *dark}\n")
    config, _ = load_config(write(tmp_path, text))
    assert config.extra["current"] == {"bg": "black", "fg": "black"}
    for twice in ("1: a\n01: b\n", "true: a\nyes: b\n", "1: a\n'1': b\n"):
        with pytest.raises(ConfigError, match="site.yaml:4: malformed YAML: the key .* is written a second time"):
            load_config(write(tmp_path, "title: T\nbase_url: https://x.org\n" + twice))

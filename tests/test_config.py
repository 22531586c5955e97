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

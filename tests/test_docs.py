"""README.md and docs/*.md as GitHub shows them: parsed with markdown-it-py (CommonMark, as
GitHub's renderer is), no heading swallowed by a code block, no link to a missing file, and
the README's test command is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.sitebuild import REPO

DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S")
# A code block may show Markdown on purpose (an example article); its headings are content.
MARKDOWN_INFO = {"markdown", "md"}


def md() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def swallowed_headings(text: str) -> list[tuple[int, str]]:
    """(line, text) of every line inside a code block that is written as a heading: `# Title`
    with a blank line (or the block's edge) before and after it. A shell or YAML comment
    sits among the lines it explains; a heading swallowed by a fence closed too early (or
    never closed) stands alone, as headings are written."""
    lines = text.split("\n")
    found = []
    for token in md().parse(text):
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        if token.type == "fence" and token.info.strip().split(" ")[0].lower() in MARKDOWN_INFO:
            continue
        start, end = token.map
        inner = range(start + 1, end - 1) if token.type == "fence" else range(start, end)
        for n in inner:
            if n >= len(lines) or not HEADING.match(lines[n]):
                continue
            before = lines[n - 1].strip() if n - 1 in inner else ""
            after = lines[n + 1].strip() if n + 1 in inner else ""
            if not before and not after:
                found.append((n + 1, lines[n]))
    return found


def links(tokens: list[Token]) -> list[tuple[int, str]]:
    """(line, target) of every link and image in the parsed document."""
    found = []
    for token in tokens:
        for child in token.children or []:
            target = child.attrGet("href") if child.type == "link_open" else child.attrGet("src")
            if child.type in ("link_open", "image") and isinstance(target, str):
                found.append(((token.map or (0, 0))[0] + 1, target))
    return found


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_heading_is_swallowed_by_a_code_block(path: Path) -> None:
    assert swallowed_headings(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_point_at_files_in_the_repository(path: Path) -> None:
    missing = []
    for line, target in links(md().parse(path.read_text(encoding="utf-8"))):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:
            continue  # a web address, or a link within the page
        resolved = (path.parent / unquote(parts.path)).resolve()
        if not resolved.exists() or REPO not in resolved.parents:
            missing.append(f"{path.name}:{line}: {target}")
    assert missing == []


def test_a_nested_fence_closed_too_early_is_found() -> None:
    """The README's old article example: the inner ```market fence closes the outer one, and
    the next ``` opens a block that swallows the following sections."""
    broken = (
        "```markdown\n---\ntitle: x\n---\nText:\n\n```market\nsome-slug\n```\n```\n\n"
        "A **reference** is:\n\n## URLs\n\n| page | URL |\n\n## Building\n\n```\nmarketnews build\n```\n"
    )
    assert [line for _, line in swallowed_headings(broken)] == ["## URLs", "## Building"]
    fixed = "`" + broken.replace("```\n```\n", "```\n````\n", 1)
    assert swallowed_headings(fixed) == []


def test_an_unclosed_fence_swallows_the_rest_and_is_found() -> None:
    assert swallowed_headings("# Title\n\n```sh\nmake\n\n## Next\n\nText.\n") == [(6, "## Next")]


def test_comments_in_shell_and_yaml_blocks_are_not_headings() -> None:
    text = "```sh\n# install it\npip install .\n```\n\n```yaml\nkey: 1\n# a comment\n```\n"
    assert swallowed_headings(text) == []


def test_the_readme_shows_its_sections_as_headings() -> None:
    tokens = md().parse((REPO / "README.md").read_text(encoding="utf-8"))
    sections = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    for wanted in ("Quick start", "Writing an article", "Command line", "Deploying", "Troubleshooting"):
        assert wanted in sections, sections


def readme_commands() -> list[str]:
    """The shell lines of the README's Quick start block, comments dropped."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1]
    block = next(t for t in md().parse(quick) if t.type == "fence" and t.info.strip() == "sh")
    return [line.split("  #", 1)[0].strip() for line in block.content.splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command() -> None:
    (test_line,) = [c for c in readme_commands() if "pytest" in c]
    pytest_command = test_line.split("&&")[-1].strip()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert pytest_command in ci_lines
    assert ci_lines[-1] == pytest_command  # the last thing CI does, so its exit code is CI's


def test_the_readme_makes_a_virtualenv_builds_and_tests() -> None:
    commands = readme_commands()
    assert commands[0].startswith("python3 -m venv ")
    assert any("build.py" in c for c in commands) and any("pytest" in c for c in commands)

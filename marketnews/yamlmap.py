"""Load a YAML mapping and the line of each top-level key. No I/O.

Uses libyaml's C loader when PyYAML has it (several times faster per article), else
the pure-Python safe loader; both build the same values. Key lines come from a scan of
the text for `key:` at the start of a line, which is what frontmatter looks like; a
key written some other way (a flow mapping, a quoted key) falls back to line 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    """The safe loader, less YAML's implicit timestamps: dates stay text, and the caller
    parses them with datetime.fromisoformat, which is C code (PyYAML's timestamp
    constructor is Python, and was the largest part of loading a frontmatter)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()
    }
_TOP_KEY = re.compile(r"^([^\s#:'\"-][^:\n]*?)[ \t]*:(?:[ \t]|$)", re.M)


@dataclass(frozen=True)
class YamlMapping:
    data: dict[str, Any]
    lines: dict[str, int]  # key -> 1-based line within the YAML text

    def line(self, key: str) -> int:
        """A top-level key's line; 1 for a key not written plainly at a line's start
        (quoted, or inside a flow mapping), whose line is not known."""
        return self.lines.get(key, 1)


class YamlProblem(ValueError):
    def __init__(self, line: int, message: str):
        self.line, self.message = line, message
        super().__init__(line, message)


def key_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for m in _TOP_KEY.finditer(text):
        lines.setdefault(m.group(1), text.count("\n", 0, m.start()) + 1)
    return lines


def load_mapping(text: str) -> YamlMapping:
    """Parse `text` as one YAML mapping; raise YamlProblem(line, message) otherwise."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        # The context mark is where the broken construct began ("while parsing a flow
        # sequence" started at `tags: [`); the problem mark is where the parser gave up,
        # often the line after. The first is the line to fix.
        mark = exc.context_mark or exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise YamlProblem(line, f"malformed YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"malformed YAML: {exc}") from None
    if data is None:
        return YamlMapping({}, {})
    if not isinstance(data, dict):
        raise YamlProblem(1, f"expected a mapping of 'key: value' lines, found a {type(data).__name__}")
    return YamlMapping({str(k): v for k, v in data.items()}, key_lines(text))

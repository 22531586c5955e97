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

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An integer, or an error at its line for one longer than Python turns text into."""
        try:
            return int(super().construct_yaml_int(node))
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a number of {len(node.value):,} digits is too long to be a value",
                node.start_mark) from None

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """Merge keys (`<<: *base`) put in, once each mapping's own keys are checked: a key
        written twice in one mapping is refused, as YAML would keep the last silently and an
        author who wrote a key again meant one of the two. Checked before the merge, which
        rewrites a merged mapping's node with the keys it takes in (and overrides)."""
        checked = self.__dict__.setdefault("_checked", set())
        if id(node) not in checked:
            checked.add(id(node))
            seen: set[str] = set()
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                # As the value the key stands for (01 is 1, yes is true), and as text: the
                # top level's keys are read as their text (load_mapping), so 1 is "1" there.
                name = str(self.construct_object(key))
                if name in seen:  # said at the second: the first's line here would be the YAML's, not the file's
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key '{key.value}' is written a second time here: keep one of the two",
                        key.start_mark)
                seen.add(name)
        super().flatten_mapping(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_LEFT_OPEN = ("quoted scalar", "flow sequence", "flow mapping")

# Aliases let a few bytes of YAML stand for a huge value (`a: &a [x, x]`, `b: &b [*a, *a]`,
# ...: 465 bytes made billions of nodes). A document whose aliases expand to more nodes
# than this is refused before it is built; frontmatter and settings need a few dozen.
MAX_NODES = 10_000
_TOP_KEY = re.compile(r"^([^\s#:'\"-][^:\n]*):(?:[ \t]|$)", re.M)  # the key: group 1 without its trailing blanks


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
    line, counted = 1, 0
    for m in _TOP_KEY.finditer(text):  # (line ends counted from the key before: a key per line cost their square)
        line += text.count("\n", counted, m.start())
        counted = m.start()
        lines.setdefault(m.group(1).rstrip(" \t"), line)
    return lines


def _located(text: str, exc: yaml.MarkedYAMLError) -> tuple[int, str]:
    """The line to fix, and what went wrong there with a hint for the common mistakes.
    That line is where the parser stopped, except for a quote or bracket left open (and
    anything left open to the end of the text): the line that opened it, which the parser
    only noticed lines later."""
    lines = text.split("\n")
    last = max((n for n, t in enumerate(lines) if t.strip()), default=0)
    stop = _line(text, exc.problem_mark) if exc.problem_mark is not None else 0
    opened = _line(text, exc.context_mark) if exc.context_mark is not None else None
    left_open = any(what in (exc.context or "") for what in _LEFT_OPEN) or stop > last
    line = opened if opened is not None and left_open else stop
    hint = _hint(exc, lines, min(stop, len(lines) - 1), opened)
    if hint:  # the hint says more than the parser's context ("while parsing a block mapping")
        return line + 1, f"malformed YAML: {exc.problem}; {hint}"
    return line + 1, "malformed YAML: " + "; ".join(x for x in (exc.problem, exc.context) if x)


def _line(text: str, mark: Any) -> int:
    """The 0-based line of a parser's `mark` (libyaml's or PyYAML's), counted as marketnews counts
    lines: YAML also breaks lines at U+0085, U+2028 and U+2029, which are text here."""
    return text.count("\n", 0, mark.index) if mark.index <= len(text) else mark.line


def _hint(exc: yaml.MarkedYAMLError, lines: list[str], stop: int, opened: int | None) -> str:
    """What to do about the mistakes people make most in frontmatter."""
    problem, context = exc.problem or "", exc.context or ""
    at = lines[stop]
    start = lines[opened].strip()[:60] if opened is not None and opened < len(lines) else ""
    if "\t" in at[: len(at) - len(at.lstrip())] or "'\\t'" in problem:
        return "YAML does not allow tabs for indenting: indent with spaces"
    if "quoted scalar" in context:
        return f"the quote opened in `{start}` is not closed: close it at the end of the value"
    if "flow sequence" in context or "flow mapping" in context:
        bracket = "[" if "sequence" in context else "{"
        return f"the '{bracket}' opened in `{start}` is not closed: close it on its line"
    if "mapping values are not allowed" in problem:
        if at[:1].isspace() and at.count(": ") + at.rstrip().endswith(":") < 2:
            return "this line is indented, but the line above does not open a list or mapping: unindent it"
        return 'a value holding ": " must be quoted, like title: "Fed: no cut in December"'
    if "block" in context or "block end" in problem:
        return ("check this line's indentation: the '- ' items of a list line up with each other, "
                "and a key of its own starts at the beginning of the line")
    return ""


def _expanded_size(text: str) -> tuple[int, int]:
    """(nodes the document stands for once every alias is expanded, line of the alias that
    passed MAX_NODES or 0), from the parser's events alone: nothing is built."""
    anchors: dict[str, int] = {}
    stack: list[list[Any]] = [[None, 0]]  # [anchor, size so far] of each open collection
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            size = anchors.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            stack.append([event.anchor, 1])
            continue
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = stack.pop()
            if anchor:
                anchors[anchor] = size
        else:
            continue
        stack[-1][1] += size
        if stack[0][1] + sum(s for _, s in stack[1:]) > MAX_NODES:
            mark = event.start_mark
            return MAX_NODES + 1, (_line(text, mark) + 1 if mark is not None else 1)
    return stack[0][1], 0


def load_mapping(text: str) -> YamlMapping:
    """Parse `text` as one YAML mapping; raise YamlProblem(line, message) otherwise."""
    try:
        if "*" in text:  # an alias, perhaps: bound what the document expands to
            _, line = _expanded_size(text)
            if line:
                raise YamlProblem(line, f"aliases expand this YAML to more than {MAX_NODES:,} values; "
                                        "write the values out, without '&anchor' and '*alias'")
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line, message = _located(text, exc)
        raise YamlProblem(line, message) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"malformed YAML: {exc}") from None
    if data is None:
        return YamlMapping({}, {})
    if not isinstance(data, dict):
        raise YamlProblem(1, f"expected a mapping of 'key: value' lines, found a {type(data).__name__}")
    return YamlMapping({str(k): v for k, v in data.items()}, key_lines(text))

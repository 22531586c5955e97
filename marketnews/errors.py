"""The exception tree and the `Problem` record every stage reports with. No I/O.

    MarketnewsError            anything the command line turns into a message and exit code
     +-- ConfigError           site.yaml is missing or invalid
     +-- ContentError          one or more articles are invalid (carries every Problem)
     +-- TemplateError         a layout failed to load or render (template name and line)
     +-- SnapshotError         a snapshot file is unreadable or of the wrong shape
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located as `path:line: field: message`."""

    path: str
    line: int
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        label = "" if self.severity == "error" else "warning: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {label}{field}{self.message}"


class MarketnewsError(Exception):
    """Base of every error marketnews reports to the user."""


class ConfigError(MarketnewsError):
    """site.yaml cannot be used: its `problems`, each at its line, when it could be read
    (a build reads the articles anyway, to say their problems with these), else none."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()):
        super().__init__(message)
        self.problems = problems


class SnapshotError(MarketnewsError):
    pass



class ContentError(MarketnewsError):
    """Invalid input; `problems` lists every problem found, errors and warnings."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(sorted(problems))
        errors = sum(1 for p in self.problems if p.severity == "error")
        super().__init__(f"{errors} error(s) in content")

    def __reduce__(self) -> tuple[type[ContentError], tuple[tuple[Problem, ...]]]:
        return (ContentError, (self.problems,))  # worker processes send it back whole


class TemplateError(MarketnewsError):
    def __init__(self, template: str, line: int, message: str):
        self.template, self.line, self.message = template, line, message
        super().__init__(f"{template}:{line}: template error: {message}")

    def __reduce__(self) -> tuple[type[TemplateError], tuple[str, int, str]]:
        return (TemplateError, (self.template, self.line, self.message))

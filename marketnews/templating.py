"""The one Jinja environment factory, its filters, and template errors with file and line.

Loading templates reads `layouts/`; rendering is pure. Autoescaping is on for every
template, so text from articles and from the market API is escaped unless a template
marks it safe (only rendered Markdown bodies and widget HTML are).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, MutableMapping
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from marketnews.charts import pct, price_chart, sparkline
from marketnews.errors import Problem, TemplateError
from marketnews.markets.model import format_time
from marketnews.seo import iso

_MONTHS = ("January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December")


def points(change: float | None) -> str:
    """A price change (0.018) as signed percentage points ("+1.8"); "0.0" when flat."""
    if change is None:
        return ""
    value = round(change * 100, 1)
    if value == 0:
        return "0.0"
    return f"{value:+.1f}"


def money(value: float | None) -> str:
    if value is None:
        return ""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            return f"${value / limit:.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"${value:,.0f}"


def date_long(dt: datetime, tz: tzinfo) -> str:
    """21 November 2026, in `tz`."""
    d = dt.astimezone(tz)
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def datetime_long(dt: datetime, tz: tzinfo) -> str:
    """21 November 2026, 16:00 UTC, in `tz`."""
    d = dt.astimezone(tz)
    return f"{date_long(d, tz)}, {d:%H:%M} {d.tzname()}"


def dateline(dt: datetime, tz: tzinfo) -> str:
    """Date and time, or the date alone for midnight (how a bare `date:` is read)."""
    d = dt.astimezone(tz)
    return date_long(d, tz) if (d.hour, d.minute) == (0, 0) else datetime_long(d, tz)


def make_date_filters(tz: ZoneInfo) -> dict[str, Callable[..., str]]:
    """The templates' date filters, in the site's timezone."""
    return {name: partial(f, tz=tz) for name, f in (("date_long", date_long), ("datetime_long", datetime_long),
                                                   ("dateline", dateline), ("iso", iso))} | {"rfc3339": format_time}


class _Environment(jinja2.Environment):
    """Jinja's environment, with the environment's own globals as every template's globals.

    A layout has no globals of its own (marketnews never gives a template any), so Jinja's
    ChainMap of the template's and the environment's is only ever the environment's seen
    through a Python-level mapping that each render copies key by key; the dict itself
    copies at C speed (a sixth of a small template's render). It is the same dict, so a
    template still sees the globals the renderer sets for each build. (So no one may call
    `get_template(name, globals=...)` for a layout already loaded: Jinja would update the
    environment's globals with them, for every layout.)"""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return self.globals if not d else super().make_globals(d)


def make_environment(layouts: Path, tz: ZoneInfo) -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(str(layouts)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=-1,  # every layout kept, in a plain dict: no LRU bookkeeping at each render's lookup
    )
    env.filters.update(pct=pct, points=points, money=money, sparkline=sparkline, price_chart=price_chart,
                       **make_date_filters(tz))
    return env


def layout_problems(layouts: Path) -> list[Problem]:
    """An error for each layout that does not parse, each at its line: all at once, where
    a build stops at the first it renders. What a template does when it runs (a name it
    lacks, a filter it misuses) only rendering finds."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(layouts)), trim_blocks=True, lstrip_blocks=True)
    problems: list[Problem] = []
    for name in env.list_templates() if layouts.is_dir() else ():
        if any(part.startswith(".") for part in name.split("/")):  # an editor's swap file, a .git folder
            continue
        try:
            source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
            env.parse(source, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(Problem(f"layouts/{name}", exc.lineno or 0, "", f"template error: {exc.message}"))
        except UnicodeDecodeError:  # not text (an image kept there): no page renders it, as the build finds
            continue
    return problems


def failed_layouts(exc: TemplateError, layouts: Path) -> list[Problem]:
    """What to say when a build stopped on `exc`: with every layout that does not parse
    (`layout_problems`), not only the first a page rendered; [] when all of them parse
    (then `exc` alone says it: a template that failed as it ran)."""
    broken = layout_problems(layouts)
    return sorted({*broken, Problem(exc.template, exc.line, "", f"template error: {exc.message}")}) if broken else []


def template_error(exc: BaseException, layouts: Path) -> TemplateError:
    """Locate an exception raised while loading or rendering a template."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(f"layouts/{exc.name or exc.filename or '?'}", exc.lineno or 0, exc.message or str(exc))
    if isinstance(exc, jinja2.TemplateNotFound):
        return TemplateError(f"layouts/{exc.name}", 0, "template not found")
    # A template's frames name its file as the loader found it, under layouts/ as given
    # (relative, under a relative --root); layouts/ may itself be reached through a link.
    roots = {os.path.abspath(layouts) + os.sep, str(layouts.resolve()) + os.sep}
    where, line = "layouts/?", 0
    for frame in traceback.extract_tb(exc.__traceback__):
        filename = os.path.abspath(frame.filename)
        root = next((r for r in roots if filename.startswith(r)), None)
        if root is not None:
            where, line = "layouts/" + Path(filename[len(root):]).as_posix(), frame.lineno or 0
    return TemplateError(where, line, f"{type(exc).__name__}: {exc}")


def render(env: jinja2.Environment, name: str, layouts: Path, **context: Any) -> str:
    try:
        return env.get_template(name).render(**context)
    except TemplateError:
        raise
    except Exception as exc:  # any failure inside a template is the template's error
        raise template_error(exc, layouts) from exc

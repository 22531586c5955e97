"""OutputFiles -> the output folder, changed files only, after everything rendered. Disk I/O.

The files of a build are compared with what the folder already holds as they stream
in; only new and changed files are kept (in memory) and nothing is written until the
whole site has rendered. Then each is written beside its target under a temporary
name, and only when all of those writes succeeded are they renamed into place and the
files the site no longer has removed. So a build that fails (bad input, a template
error, a full disk) leaves the previous output exactly as it was, and an hourly build
where few prices moved rewrites few files: unchanged files keep their bytes and mtime.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketnews.errors import MarketnewsError
from marketnews.output import OutputFile

_TMP_SUFFIX = ".mn-tmp"


@dataclass(frozen=True)
class WriteReport:
    written: int
    added: int
    changed: int
    unchanged: int
    removed: int
    touched: tuple[str, ...] = ()  # the files written or removed

    def churn(self) -> str:
        return f"{self.changed} changed, {self.added} added, {self.removed} removed"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace one file whole: written beside it under a temporary name, then renamed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _same(old: Path, data: bytes) -> bool:
    try:
        if old.stat().st_size != len(data):
            return False
        return old.read_bytes() == data
    except OSError:
        return False


def existing_files(out: Path) -> set[str]:
    """Every file under `out`, relative and "/"-separated (no stat calls: names only)."""
    found: set[str] = set()

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, prefix + entry.name + "/")
                else:
                    found.add(prefix + entry.name)

    if out.is_dir():
        walk(str(out), "")
    return found


def _guard(out: Path, old: Collection[str]) -> None:
    """Refuse to take over a folder that holds files but is not a previous site build."""
    if old and "index.html" not in old and "404.html" not in old:
        raise MarketnewsError(
            f"{out}: the output folder is not empty and does not look like a built site "
            "(no index.html); refusing to replace its files. Choose another --out or empty it."
        )


def _make_folder(folder: Path, made: list[Path], known: set[Path]) -> None:
    """mkdir -p that remembers which folders it created (a failed build removes them).

    `known` holds folders already seen to exist, so a site's thousands of page folders
    cost one mkdir each rather than a stat of every ancestor."""
    if folder in known:
        return
    missing: list[Path] = []
    while folder not in known and not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    known.add(folder)
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        made.append(path)
        known.add(path)


def _undo(temps: list[tuple[Path, Path]], made: list[Path]) -> None:
    for tmp, _ in temps:
        tmp.unlink(missing_ok=True)
    for folder in reversed(made):
        with suppress(OSError):
            folder.rmdir()


def _prune(out: Path, removed: list[str]) -> None:
    """Remove folders the removed files leave empty, deepest first."""
    for path in removed:
        parent = (out / path).parent
        while parent != out:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def _check_folders_in_the_way(out: Path, temps: list[tuple[Path, Path]], removed: set[str]) -> None:
    """A file to be put where the last build has a folder: fine when everything in that
    folder goes (it is removed first), else an error before anything is renamed."""
    for _, target in temps:
        if target.is_dir():
            inside = {p.relative_to(out).as_posix() for p in target.rglob("*") if not p.is_dir()}
            if not inside <= removed:
                raise MarketnewsError(f"{target}: this build writes a file where a folder of other files is")


def write_site(files: Iterable[OutputFile], out: Path, existing: Collection[str] | None = None, *,
               partial: bool = False, lock: AbstractContextManager[Any] | None = None) -> WriteReport:
    """Write what changed; `existing` is `existing_files(out)` if the caller already has it.

    `partial`: `files` are only the files that may have changed, the others are kept (and
    none removed). `lock` is held while files are renamed into place and removed, so a
    reader holding it (the dev server, opening a file) sees the site before or after.
    """
    out = out.resolve()
    old = existing_files(out) if existing is None else set(existing)
    _guard(out, old)
    seen: set[str] = set()
    pending: list[str] = []
    temps: list[tuple[Path, Path]] = []
    made: list[Path] = []  # folders this build created, parents first
    known: set[Path] = set()
    unchanged = changed = 0
    try:
        for f in files:
            parts = f.path.split("/")
            if f.path in seen or f.path.startswith("/") or ".." in parts or "" in parts:
                raise MarketnewsError(f"output path {f.path!r} is written twice or is not a plain relative path")
            seen.add(f.path)
            if f.data is None:
                if f.path not in old:
                    raise MarketnewsError(f"output path {f.path!r} was to be kept from the last build, which lacks it")
                unchanged += 1
                continue
            if f.path in old:
                if _same(out / f.path, f.data):
                    unchanged += 1
                    continue
                changed += 1
            # Written now under a temporary name, so memory holds one page at a time;
            # renamed into place only once every file of the build was written.
            target = out / f.path
            try:
                _make_folder(target.parent, made, known)
            except (FileExistsError, NotADirectoryError):
                raise MarketnewsError(
                    f"output path {f.path!r} needs a folder where the last build wrote a file; "
                    f"remove {out} and build again") from None
            tmp = target.with_name(f".{target.name}{_TMP_SUFFIX}")
            temps.append((tmp, target))
            tmp.write_bytes(f.data)
            pending.append(f.path)
        removed = [] if partial else sorted(old - seen)
        _check_folders_in_the_way(out, temps, set(removed))
    except BaseException:
        _undo(temps, made)
        raise
    with lock or nullcontext():
        # Files the site no longer has go first: one may be a folder's last file where this
        # build writes a file of that name (a permalink changed from /a/ to /a).
        for path in removed:
            (out / path).unlink(missing_ok=True)
        _prune(out, removed)
        for n, (tmp, target) in enumerate(temps):
            try:
                os.replace(tmp, target)
            except BaseException as exc:
                _undo(temps[n:], [])
                raise MarketnewsError(f"{target}: could not be put in place ({exc}); build again") from exc
    touched = tuple(sorted(pending + removed))
    return WriteReport(len(seen), len(pending) - changed, changed, unchanged, len(removed), touched)

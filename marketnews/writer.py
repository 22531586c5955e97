"""OutputFiles -> the output folder, changed files only, after everything rendered. Disk I/O.

The files of a build are compared with what the folder already holds as they stream
in; each new or changed file is written at once beside its target under a temporary
name (by the writer, or already by the worker process that rendered it: `Stager`).
Only when the whole site has rendered are they renamed into place and the files the
site no longer has removed. So a build that fails (bad input, a template error, a full
disk) leaves the previous output exactly as it was, its temporary files and new
folders removed, and an hourly build where few prices moved rewrites few files:
unchanged files keep their bytes and mtime.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable, Sequence
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


def write_atomic(path: Path, data: bytes | str | Sequence[bytes]) -> None:
    """Replace one file whole: written beside it under a temporary name, then renamed.
    `data` may be a sequence of byte strings, written one after another."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        with open(tmp, "wb") as fh:
            for chunk in [data] if isinstance(data, bytes) else data:
                fh.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def _undo(temps: list[tuple[Path, Path]]) -> None:
    for tmp, _ in temps:
        tmp.unlink(missing_ok=True)


# File system clocks run a tick behind the system's: a folder made just after a build
# started may carry a time just before it.
_CLOCK_SLACK_S = 0.05


def _sweep(out: Path, keep_out: bool, old: Collection[str], since: float) -> None:
    """Remove every temporary file under `out`, and every folder left empty that the
    last build (`old`, its files) did not have and that was made `since` (a time.time()):
    a failed build's workers may have staged files and made folders the writer never
    heard of (their results were lost with the failure, or they were stopped between
    making a folder and writing into it). Older empty folders (someone's own) stay, and
    `out` itself stays when `keep_out`."""
    kept = {""}  # the last build's folders, relative to out
    for path in old:
        parts = path.split("/")[:-1]
        kept.update("/".join(parts[: n + 1]) for n in range(len(parts)))
    root = str(out)
    for folder, _, names in os.walk(out, topdown=False):  # deepest first
        for name in names:
            if name.startswith(".") and name.endswith(_TMP_SUFFIX):  # Stager.temp's names only
                with suppress(OSError):
                    os.unlink(os.path.join(folder, name))
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        if rel == ".":
            rel = ""
        with suppress(OSError):  # gone, or not empty: something else is in it
            if (folder == root and not keep_out) or (
                    rel not in kept and os.stat(folder).st_ctime >= since - _CLOCK_SLACK_S):
                os.rmdir(folder)


def _remove_empty_between(folder: Path, base: Path) -> None:
    """Remove `folder` and its parents while empty, up to `base` (which stays)."""
    while folder != base and base in folder.parents:
        try:
            folder.rmdir()
        except FileNotFoundError:  # gone already (the sweep took it): on to its parent
            pass
        except OSError:
            return
        folder = folder.parent


def check_path(path: str) -> None:
    parts = path.split("/")
    if path.startswith("/") or ".." in parts or "" in parts:
        raise MarketnewsError(f"output path {path!r} is not a plain relative path")


class Stager:
    """Writes files beside their targets under a temporary name, for `write_site` to
    rename into place once the whole build rendered. One per process: worker processes
    stage the pages they render, so pages travel to the parent as names, not bytes."""

    def __init__(self, out: Path, old: Collection[str]):
        self.out, self.old = out, old
        self.known: set[Path] = set()  # folders seen to exist: one mkdir each, not a stat of every ancestor

    def temp(self, path: str) -> tuple[Path, Path]:
        target = self.out / path
        return target.with_name(f".{target.name}{_TMP_SUFFIX}"), target

    def stage(self, path: str, data: bytes) -> str:
        """"unchanged" (the folder has these bytes: nothing written), else "changed" or
        "added" once the bytes are written to the temporary name."""
        check_path(path)
        tmp, target = self.temp(path)
        status = "added"
        if path in self.old:
            if _same(target, data):
                return "unchanged"
            status = "changed"
        try:
            self._make_folder(target.parent)
        except (FileExistsError, NotADirectoryError):
            raise MarketnewsError(
                f"output path {path!r} needs a folder where the last build wrote a file; "
                f"remove {self.out} and build again") from None
        tmp.write_bytes(data)
        return status

    def staged_file(self, path: str, data: bytes) -> OutputFile:
        """`path` staged, as an OutputFile for the writer."""
        status = self.stage(path, data)
        return OutputFile(path, None, staged="" if status == "unchanged" else status)

    def _make_folder(self, folder: Path) -> None:
        """mkdir -p that remembers which folders exist (a failed build's sweep removes the new ones)."""
        if folder in self.known:
            return
        missing: list[Path] = []
        while folder not in self.known and not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        self.known.add(folder)
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:  # made meanwhile by another worker, or a file is there
                if not path.is_dir():
                    raise
            self.known.add(path)


def _prune(out: Path, removed: list[str]) -> None:
    """Remove folders the removed files leave empty, deepest first."""
    for path in removed:
        _remove_empty_between((out / path).parent, out)


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

    `files` may include files that worker processes already staged (`OutputFile.staged`,
    written by a `Stager` for this folder and `existing`). `partial`: `files` are only the
    files that may have changed, the others are kept (and none removed). `lock` is held
    while files are renamed into place and removed, so a reader holding it (the dev
    server, opening a file) sees the site before or after.
    """
    out = out.resolve()
    old = existing_files(out) if existing is None else set(existing)
    _guard(out, old)
    had_out = out.is_dir()  # before `files` runs: its workers may make it
    base = out  # the nearest folder that exists: a failed build leaves none made under it
    while not base.is_dir() and base != base.parent:
        base = base.parent
    started = time.time()
    stager = Stager(out, old)
    seen: set[str] = set()
    pending: list[str] = []
    temps: list[tuple[Path, Path]] = []
    unchanged = changed = 0
    try:
        for f in files:
            if f.path in seen:
                raise MarketnewsError(f"output path {f.path!r} is written twice")
            seen.add(f.path)
            if f.staged:
                status = f.staged
            elif f.data is None:
                if f.path not in old:
                    raise MarketnewsError(f"output path {f.path!r} was to be kept from the last build, which lacks it")
                status = "unchanged"
            else:  # written now under a temporary name, so memory holds one page at a time
                status = stager.stage(f.path, f.data)
            if status == "unchanged":
                unchanged += 1
                continue
            changed += status == "changed"
            temps.append(stager.temp(f.path))
            pending.append(f.path)
        removed = [] if partial else sorted(old - seen)
        _check_folders_in_the_way(out, temps, set(removed))
    except BaseException:
        # Stop whatever makes `files` first (its worker processes may still be staging),
        # then remove what they and this loop wrote.
        close = getattr(files, "close", None)
        if close is not None:
            close()
        _sweep(out, keep_out=had_out, old=old, since=started)  # the temporary files and new folders
        if not had_out:
            _remove_empty_between(out, base)
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
                _undo(temps[n:])
                raise MarketnewsError(f"{target}: could not be put in place ({exc}); build again") from exc
    touched = tuple(sorted(pending + removed))
    return WriteReport(len(seen), len(pending) - changed, changed, unchanged, len(removed), touched)

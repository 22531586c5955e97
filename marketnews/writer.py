"""OutputFiles -> an output folder, swapped in only when every file was written. Disk I/O.

Files are written into a staging folder beside the output. A file whose bytes equal the
previous build's is hard-linked from it instead (it keeps its inode and mtime), and the
report counts what was added, changed and removed. If anything fails on the way, the
staging folder is deleted and the previous output is left exactly as it was.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from marketnews.site import OutputFile


@dataclass(frozen=True)
class WriteReport:
    written: int
    added: int
    changed: int
    unchanged: int
    removed: int

    def churn(self) -> str:
        return f"{self.changed} changed, {self.added} added, {self.removed} removed"


def _same(old: Path, data: bytes) -> bool:
    try:
        if old.stat().st_size != len(data):
            return False
        return old.read_bytes() == data
    except OSError:
        return False


def _old_files(out: Path) -> set[str]:
    if not out.is_dir():
        return set()
    found: set[str] = set()
    for dirpath, _, names in os.walk(out):
        rel = os.path.relpath(dirpath, out)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        found.update(prefix + n for n in names)
    return found


def write_site(files: Iterable[OutputFile], out: Path) -> WriteReport:
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    trash = out.parent / f".{out.name}.old-{os.getpid()}"
    for leftover in (staging, trash):
        shutil.rmtree(leftover, ignore_errors=True)
    old = _old_files(out)
    seen: set[str] = set()
    made: set[Path] = set()
    added = changed = unchanged = 0
    try:
        staging.mkdir()
        for f in files:
            if f.path in seen or f.path.startswith("/") or ".." in f.path.split("/"):
                raise ValueError(f"output path {f.path!r} is written twice or leaves the output folder")
            seen.add(f.path)
            target = staging / f.path
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            previous = out / f.path
            if f.path in old and _same(previous, f.data):
                unchanged += 1
                try:
                    os.link(previous, target)
                    continue
                except OSError:
                    pass
            elif f.path in old:
                changed += 1
            else:
                added += 1
            target.write_bytes(f.data)
        if out.exists():
            os.rename(out, trash)
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(trash, ignore_errors=True)
    return WriteReport(len(seen), added, changed, unchanged, len(old - seen))

"""OutputFiles -> the output folder, switched in whole; files the build did not write left alone. Disk I/O.

How a build publishes (docs/guarantees.md says it for users):

- The output folder holds a record, `.marketnews-files`, of the files the last build wrote.
  Any other file in it is someone's own: it is carried into every new build as it is and
  never removed or overwritten. A folder that holds files but no record is refused.
- Beside the output folder is the build's own folder, `.marketnews-<name>/`: the build
  lock and the spare tree, the build before last. A build makes the spare into the new
  site while the output folder stays untouched: each file unchanged since the current
  build is hard-linked to it (same bytes, same mtime, no copy), a new or changed file is
  written over the spare's own file at its path (a file nothing else links to: see
  `Stager`), or under a temporary name and renamed in, anything else is removed.
- Then one rename, renameat2(RENAME_EXCHANGE), swaps the spare and the output folder: a
  reader sees the whole old site or the whole new one. The old one becomes the spare.
- A build that changes nothing (no file added, changed or removed, the same record)
  switches nothing: the links of unchanged files are made only once something changed,
  so the output folder and the spare are left exactly as they are.

A crash at any moment leaves the output folder as one whole build, and the next build
makes the spare right from whatever the crash left in it. The dev server's private
folder is written in place instead (`write_site`'s `lock`), file by file under its lock.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketnews.errors import MarketnewsError
from marketnews.output import OutputFile
from marketnews.readahead import readahead

RECORD = ".marketnews-files"  # in the output folder: the files the last build wrote
_RECORD_HEAD = "# marketnews: the files its last build wrote here, one a line; it leaves any other file alone\n"
_TMP_SUFFIX = ".mn-tmp"
TAIL = 8192  # the last two pages of a file, asked for before it is written over: where its new end falls
CACHE_LOCK = "build.lock"  # in the cache folder


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


def file_bytes(path: str | os.PathLike[str], limit: int) -> bytes:
    """A plain file's bytes; OSError for anything else there: a FIFO (a file someone
    replaced with one, in the cache folder or at a page's path) is never waited on, nor
    a folder or a device read, nor a file of more than `limit` bytes read into memory (one
    grown or planted there: a sparse file of 40 GB is a few bytes on disk)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a plain file", str(path))
        if st.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
        with open(fd, "rb", closefd=False) as f:
            data = f.read(st.st_size + 1)  # (asked for the whole limit, read() would reserve it at once)
            if len(data) > st.st_size:  # it grew while read: read on, up to the limit
                data += f.read(limit + 1 - len(data))
        if len(data) > limit:  # (it grew while read)
            raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
        return data
    finally:
        os.close(fd)


# --- the output folder and its own folder ------------------------------------------------


def state_folder(out: Path) -> Path:
    """The build's folder beside `out` (same file system, so the switch is one rename):
    the lock and the spare tree."""
    return out.parent / f".marketnews-{out.name}"


def _spare(out: Path) -> Path:
    return state_folder(out) / "spare"


def _parked(out: Path) -> Path:
    """Where the fallback switch (two renames) parks the old tree for a moment."""
    return state_folder(out) / "old"


def check_path(path: str) -> None:
    parts = path.split("/")
    if path.startswith("/") or ".." in parts or "" in parts or "." in parts or any(c in path for c in "\n\r\0"):
        raise MarketnewsError(f"output path {path!r} is not a plain relative path")


def read_record(out: Path) -> frozenset[str] | None:
    """The files the last build recorded writing into `out`; None when there is no record."""
    try:
        text = (out / RECORD).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise MarketnewsError(f"{out / RECORD}: cannot read the record of the last build ({exc})") from None
    found = set()
    for n, line in enumerate(text.splitlines(), 1):
        if line and not line.startswith("#"):
            try:
                check_path(line)
            except MarketnewsError:
                raise MarketnewsError(f"{out / RECORD}:{n}: {line!r} is not a plain relative path; this record "
                                      "was changed by hand: restore it, or move the folder away") from None
            found.add(line)
    return frozenset(found)


def existing_files(out: Path) -> set[str]:
    """The files the last build wrote into `out` (its record): the only ones a build
    may compare against, keep, replace or remove."""
    return set(read_record(out) or ())


def _entries(out: Path) -> Iterator[tuple[str, bool]]:
    """Every entry under `out` as (relative "/"-separated path, is an empty folder);
    folders with something in them are not listed, their contents are. No stat calls."""

    def walk(folder: str, prefix: str) -> Iterator[tuple[str, bool]]:
        with os.scandir(folder) as it:
            entries = list(it)
        if not entries and prefix:
            yield prefix[:-1], True
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from walk(entry.path, prefix + entry.name + "/")
            else:
                yield prefix + entry.name, False

    if out.is_dir():
        yield from walk(str(out), "")


def folder_identity(out: Path) -> tuple[int, int] | None:
    """Which folder is at `out` now (a switch puts another there); None when none is."""
    try:
        st = os.stat(out)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _not_a_build(out: Path) -> MarketnewsError:
    shown = sorted(path + ("/" if folder else "") for path, folder in _entries(out))
    some = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    return MarketnewsError(
        f"{out}: refusing to build into this folder: it holds files ({some}) but no record that a marketnews "
        f"build wrote them ({RECORD}). A build only writes into an empty or new folder, or over its own last "
        "build. Choose another --out; if this is a build of an older marketnews, remove the folder and build "
        "again. To keep files of your own in the output (a CNAME, say), add them after the first build: later "
        "builds leave them alone.")


def check_output(out: Path, keep_clear: Iterable[tuple[str, Path]] = ()) -> None:
    """Refuse an output folder that is `/`, the home folder, or holds (or is) any of
    `keep_clear` ((what, folder): the site root, content, the cache...), or lies in
    content; a file; a mount point (the switch renames the folder); a folder that holds
    files but is not a previous build."""
    out = out.resolve()
    guarded = [("the root of the file system", Path("/")), ("your home folder", Path.home()), *keep_clear]
    for what, folder in guarded:
        folder = folder.resolve()
        if out == folder or out in folder.parents:
            held = "is" if out == folder else "holds"
            raise MarketnewsError(f"--out {out}: refusing to build into a folder that {held} {what} ({folder}); "
                                  "choose a folder of its own for the site, such as <site>/public")
        if what == "the content folder" and folder in out.parents:
            raise MarketnewsError(f"--out {out}: refusing to build into the content folder; choose a folder of "
                                  "its own for the site, such as <site>/public")
    _check_folder(out)
    if out.is_dir() and read_record(out) is None and any(True for _ in _entries(out)):
        raise _not_a_build(out)


def _check_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise MarketnewsError(f"--out {out}: is a file, not a folder")
    if out.is_dir() and os.path.ismount(out):
        raise MarketnewsError(f"--out {out}: is a mount point, which cannot be renamed; a build switches the "
                              "whole folder at once, by a rename: build into a folder inside it, or mount "
                              "its parent")
    state = state_folder(out)
    for folder in (state, _spare(out)):
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise MarketnewsError(f"{folder}: is the build's own folder but not a folder; remove it")


# --- one build at a time -----------------------------------------------------------------


def _flock(path: Path, what: str, waiting: Callable[[str], None] | None) -> int:
    """An exclusive flock on `path` (made if missing); waits when `waiting` is given, else refuses.
    The lock file is opened where it is, never through a link (the build writes its process
    number into it: a link planted there must not lead that write to another file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MarketnewsError(f"{path}: the lock of {what} is a symbolic link; remove it") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MarketnewsError(f"{path}: the lock of {what} is not a file; remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            by = f" (process {holder})" if holder.isdigit() else ""
            if waiting is None:
                raise MarketnewsError(f"another build is using {what}{by}; try again when it is done") from None
            waiting(f"waiting for another build to finish with {what}{by} ...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def build_lock(out: Path, cache: Path | None, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the cache folder's lock, then the output folder's, for a whole build: a second
    build of either waits (told through `waiting`) or, without `waiting`, is refused.
    The locks are flock(2) locks: they go when the process ends, however it ends (a
    worker process a killed build leaves behind holds them until it exits)."""
    out = out.resolve()
    with ExitStack() as stack:
        places = ([(cache / CACHE_LOCK, f"the cache folder {cache}")] if cache is not None else []) + [
            (state_folder(out) / "lock", f"the output folder {out}")]
        for path, what in places:  # always in this order: two builds never wait for each other
            fd = _flock(path, what, waiting)
            stack.callback(os.close, fd)
        _recover(out)  # before anyone reads the folder: a crash may have left it parked
        yield


# --- the switch --------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2() -> Any:
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not Linux, or a C library without it
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


_EXCHANGE = _renameat2()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step; False where the system cannot."""
    if _EXCHANGE is None:
        return False
    if _EXCHANGE(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def _switch(out: Path) -> None:
    """Put the spare in the place of `out`; the old `out` becomes the spare."""
    spare = _spare(out)
    if not out.exists():
        os.rename(spare, out)
    elif not _exchange(spare, out):
        # Two renames: between them there is no `out` for a moment (never a mixed one);
        # a crash there is mended by `_recover`.
        parked = _parked(out)
        os.rename(out, parked)
        os.rename(spare, out)
        os.rename(parked, spare)


def _recover(out: Path) -> None:
    """Mend what a crash in the middle of the fallback switch left: the old tree parked."""
    parked = _parked(out)
    if not parked.exists():
        return
    if not out.exists():
        os.rename(parked, out)  # the last whole build back in its place
    elif not _spare(out).exists():
        os.rename(parked, _spare(out))
    else:
        shutil.rmtree(parked)


# --- staging -----------------------------------------------------------------------------


def _same(old: str | os.PathLike[str], data: bytes) -> bool:
    """Whether the plain file `old` holds `data`. It is looked at first: nothing else there
    is opened (a FIFO, a device), nor a file of another size read."""
    try:
        st = os.stat(old)
        return stat.S_ISREG(st.st_mode) and st.st_size == len(data) and file_bytes(old, len(data)) == data
    except OSError:
        return False


def _clear(path: Path) -> None:
    """Remove whatever is at `path` in the build's own folder (a file or a whole folder)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except (IsADirectoryError, PermissionError):
        shutil.rmtree(path, ignore_errors=True)


class Stager:
    """Compares a file with the output folder's and, when new or changed, writes it into
    the build's own folder, the spare tree, at its path there (`staged`), for the writer
    to switch in with the whole tree (or, in the dev server's folder, to rename into
    place). One per process: worker processes stage the pages they render, so pages
    travel to the parent as names, not bytes.

    A file of the spare tree that is its own (no link to it from the output folder) is
    written over where it is: the build before last made it, nothing reads it; a file
    the spare tree lacks is made at its path. Anything else (a file linked into the
    output folder, a folder, a link) is replaced by a file written under a temporary
    name and renamed. Writing into an existing file's blocks
    rather than freeing them and taking others is most of what makes an hourly build's
    writing cheap: on a file system that discards freed blocks, replacing 13,000 files
    costs ten times more than rewriting them."""

    def __init__(self, out: Path, old: Collection[str]):
        self.out, self.old = Path(os.path.abspath(out)), old
        self.spare = _spare(self.out)
        # The paths of the files staged are joined as strings (a page is a few joins and one
        # dirname, where Path objects cost as much as the page's stat, open and write together).
        self.known: set[str] = set()  # folders seen to exist: one mkdir each, not a stat of every ancestor

    def temp(self, path: str) -> Path:
        target = self.spare / path
        return target.with_name(f".{target.name}{_TMP_SUFFIX}")

    def staged(self, path: str) -> Path:
        """Where `stage` put the file of `path`."""
        return self.spare / path

    def ahead(self, paths: Iterable[str]) -> None:
        """Have the kernel fetch the end of the spare tree's file at each of `paths`, which
        this build is about to write over. Writing over a file reads the page its new end
        falls in (unless the new bytes fill it) and the page cut off after it; where the
        spare's files have left the page cache, each of those reads waits for the disk in
        turn, and told beforehand the kernel fetches them all at once."""
        readahead((self.spare / path for path in paths), tail=TAIL)

    def stage(self, path: str, data: bytes) -> str:
        """"unchanged" (the output folder has these bytes: nothing written), else "changed"
        or "added" once the bytes are written at `staged(path)`."""
        check_path(path)
        status = "added"
        if path in self.old:
            if _same(f"{self.out}/{path}", data):
                return "unchanged"
            status = "changed"
        self.put(path, data)
        return status

    def put(self, path: str, data: bytes) -> None:
        """Write `data` as the spare tree's file at `path` (see the class's docstring)."""
        target = f"{self.spare}/{path}"
        self.make_folder(os.path.dirname(target))
        if _write_at(target, data):
            return
        tmp = self.temp(path)
        try:
            _clear(tmp)
            tmp.write_bytes(data)
        except OSError as exc:
            with suppress(OSError):
                tmp.unlink()
            raise _unwritable(target, exc) from None
        _put(tmp, Path(target))

    def staged_file(self, path: str, data: bytes) -> OutputFile:
        """`path` staged, as an OutputFile for the writer."""
        status = self.stage(path, data)
        return OutputFile(path, None, staged="" if status == "unchanged" else status)

    def make_folder(self, where: str | os.PathLike[str]) -> None:
        """mkdir -p inside the build's own folder, removing a file of the spare tree in the
        way (a page that becomes a folder of pages) or a link (someone's, carried in from
        the output folder). Each folder below the spare is looked at itself, from the top
        down: none is taken for a folder through a link higher up."""
        folder = os.fspath(where)
        if folder in self.known:
            return
        inside = f"{self.spare}/"
        below: list[str] = []  # inside the spare, not yet looked at, deepest first
        while folder not in self.known and folder.startswith(inside):
            below.append(folder)
            folder = os.path.dirname(folder)
        above: list[str] = []  # the spare and its ancestors that are missing
        while folder not in self.known and not os.path.isdir(folder) and os.path.dirname(folder) != folder:
            above.append(folder)
            folder = os.path.dirname(folder)
        self.known.add(folder)
        for path in reversed(above):
            with suppress(FileExistsError):  # made meanwhile by another worker
                os.mkdir(path)
            self.known.add(path)
        for path in reversed(below):  # its parent is a real folder by now
            if not self._is_folder(path):
                try:
                    os.mkdir(path)
                except FileExistsError:  # made meanwhile by another worker, or a file or a link is there
                    if not self._is_folder(path):
                        _clear(Path(path))
                        with suppress(FileExistsError):
                            os.mkdir(path)
            self.known.add(path)

    @staticmethod
    def _is_folder(path: str) -> bool:
        """Whether `path`, inside the spare tree, is a folder itself and not a link to one (a
        link of someone's carried in from the output folder): nothing is ever written through
        a link."""
        try:
            return stat.S_ISDIR(os.lstat(path).st_mode)
        except OSError:
            return False


# O_NONBLOCK: a FIFO there (someone's, linked in from the output folder) fails to open, not waits.
_OPEN = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _write_at(target: str, data: bytes) -> bool:
    """Write `data` as the file `target` of the spare tree, in one open: into the file
    there when it is a plain file no other name links to (see Stager), or as a new file
    when there is none. False, writing nothing, when there is something else (a folder,
    a link, a linked file) or the file cannot be opened: `Stager.put` then writes under
    a temporary name, and says why that fails."""
    try:
        fd = os.open(target, _OPEN, 0o666)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            return False
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if st.st_size > len(data):
            os.ftruncate(fd, len(data))
    except OSError as exc:
        raise _unwritable(target, exc) from None
    finally:
        try:
            os.close(fd)
        except OSError as exc:  # a file system that reports a failed write only here
            raise _unwritable(target, exc) from None
    return True


def _unwritable(target: str | Path, exc: OSError) -> MarketnewsError:
    return MarketnewsError(f"{target}: could not be written ({exc.strerror}); the output folder is unchanged")


def _put(src: Path, target: Path) -> None:
    """Rename `src` to `target`, replacing a folder in the way (in the spare tree only)."""
    try:
        os.replace(src, target)
        return
    except OSError as exc:
        failed = exc
    if target.is_dir() and not target.is_symlink():
        try:
            shutil.rmtree(target)
            os.replace(src, target)
            return
        except OSError as exc:
            failed = exc
    with suppress(OSError):
        src.unlink()
    raise MarketnewsError(f"{target}: could not be put in place ({failed}); build again") from failed


def _link(src: Path, target: Path, stager: Stager) -> None:
    """Make `target` (in the spare) the very file `src` is (in the output folder): a hard
    link, unless it is one already."""
    stager.make_folder(target.parent)  # a real folder: not a file, nor a link carried in earlier
    try:
        there = os.lstat(target)
        here = os.lstat(src)
        if (there.st_ino, there.st_dev) == (here.st_ino, here.st_dev):
            return
        _clear(target)
    except FileNotFoundError:
        pass
    try:
        os.link(src, target, follow_symlinks=False)
    except FileExistsError:  # a folder of the spare tree where this file goes
        _clear(target)
        os.link(src, target, follow_symlinks=False)
    except OSError as exc:
        raise MarketnewsError(f"{src}: cannot be carried into the new build ({exc.strerror}); the output "
                              "folder is unchanged") from None


def _as_theirs(src: Path, folder: Path) -> None:
    """Someone's folder, made again in the spare tree (its files are linked: they keep their
    own mode, owner and times), as it is in the output folder: its owner, its times and its
    mode, with its owner's read, write and search kept on (the next build must carry new
    files into it: a folder of theirs that no one may write gains that for its owner alone).
    Called when everything is in it, so that its times are not moved after."""
    st = os.lstat(src)
    with suppress(OSError):  # (only root may give a folder to another user)
        os.chown(folder, st.st_uid, st.st_gid, follow_symlinks=False)
    os.chmod(folder, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def ancestors(paths: Iterable[str]) -> set[str]:
    """The folders each of `paths` ("/"-separated, relative) is in: "a/b/c" gives "a" and "a/b"."""
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        found.update("/".join(parts[: n + 1]) for n in range(len(parts)))
    return found


def _prune_spare(spare: Path, files: Collection[str], folders: Collection[str]) -> None:
    """Remove from the spare tree every entry that is not one of `files` or `folders`."""

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as it:
            entries = list(it)
        for entry in entries:
            rel = prefix + entry.name
            real = entry.is_dir(follow_symlinks=False)  # a folder, not a link to one
            if real and rel in folders:
                walk(entry.path, rel + "/")
            elif rel not in files:
                try:  # what stays would be taken for someone's file by the next build
                    shutil.rmtree(entry.path) if real else os.unlink(entry.path)
                except OSError as exc:
                    raise MarketnewsError(f"{exc.filename or entry.path}: could not be removed from the build's "
                                          f"own folder ({exc.strerror}); the output folder is unchanged") from None

    walk(str(spare), "")


class _Foreign:
    """What the output folder holds that the last build did not write."""

    def __init__(self, out: Path, ours: Collection[str]):
        self.files: list[str] = []
        self.folders: list[str] = []  # empty ones
        for path, empty in _entries(out):
            if path == RECORD or path in ours:
                continue
            (self.folders if empty else self.files).append(path)
        self.file_set = set(self.files)
        self.around = ancestors(self.files + self.folders) | set(self.folders)

    def own_folders(self, ours: Collection[str]) -> list[str]:
        """The folders that hold someone's files (or are empty) and none of the site's."""
        if not self.around:
            return []
        return sorted(self.around - ancestors(ours))

    def check(self, out: Path, path: str) -> None:
        """Refuse to write `path` where it would replace, or be, someone's file or folder."""
        if not self.file_set and not self.around:
            return
        theirs = path if path in self.file_set or path in self.around else next(
            (a for a in ancestors([path]) if a in self.file_set), None)
        if theirs is not None:
            raise MarketnewsError(
                f"{out / theirs}: this build writes {path!r}, in the place of a file it did not write; a build "
                "never removes or overwrites files it did not write: move it away, then build again")


def _record_bytes(files: Iterable[str]) -> bytes:
    return (_RECORD_HEAD + "".join(f"{p}\n" for p in sorted(files))).encode("utf-8")


def _write_record(stager: Stager, data: bytes) -> None:
    """The record of the new site's files, written into the spare tree."""
    stager.put(RECORD, data)


def _close(files: Iterable[OutputFile]) -> None:
    """Stop whatever makes `files` (its worker processes may still be staging)."""
    close = getattr(files, "close", None)
    if close is not None:
        close()


def _statuses(files: Iterable[OutputFile], old: Collection[str], stager: Stager, seen: set[str],
              check: Callable[[str], None] | None = None) -> Iterator[tuple[str, str]]:
    """Each of `files` as (path, "unchanged", "changed" or "added"), a new or changed one
    staged under its temporary name (by `stager`, unless a worker process did); `seen`
    receives the paths. A path written twice, not plain, or refused by `check` is an error."""
    for f in files:
        if f.path in seen:
            raise MarketnewsError(f"output path {f.path!r} is written twice")
        check_path(f.path)
        if check is not None:
            check(f.path)
        seen.add(f.path)
        if f.staged:
            yield f.path, f.staged
        elif f.data is None:
            if f.path not in old:
                raise MarketnewsError(f"output path {f.path!r} was to be kept from the last build, which lacks it")
            yield f.path, "unchanged"
        else:  # written now under a temporary name, so memory holds one page at a time
            yield f.path, stager.stage(f.path, f.data)


def write_site(files: Iterable[OutputFile], out: Path, existing: Collection[str] | None = None, *,
               partial: bool = False, lock: AbstractContextManager[Any] | None = None,
               before_switch: Callable[[], None] | None = None, gone: Collection[str] = ()) -> WriteReport:
    """Publish `files` as the site in `out`; `existing` is `existing_files(out)` if the
    caller already has it.

    `files` may include files that worker processes already staged (`OutputFile.staged`,
    written by a `Stager` for this folder and `existing`), and files kept from the last
    build (data None). `partial`: `files` are only the files that may have changed, the
    others are kept, and none removed but the last build's files named in `gone`.
    `before_switch` runs once everything is staged, just before the new site is switched
    in: a failure there leaves `out` as it was. It runs too when nothing changed, and then
    nothing is switched: `out` is left exactly as it is (nothing linked into the spare, no
    record written), and the report has every file unchanged.

    Without `lock`, the new site is made beside `out` and switched in whole (see the
    module's docstring); the caller holds `build_lock`. With `lock`, for a private folder
    that only its owner reads (the dev server's): the files are renamed into place one by
    one while `lock` is held, so a reader holding it sees the site before or after.
    """
    out = out.resolve()
    old = existing_files(out) if existing is None else set(existing)
    dropped = old & set(gone) if partial else set()
    if lock is not None:
        return _write_in_place(files, out, old, partial, lock, before_switch, dropped)
    _check_folder(out)
    _recover(out)
    record = read_record(out)
    foreign = _Foreign(out, record or ())
    if record is None and (foreign.files or foreign.folders):
        raise _not_a_build(out)
    spare = _spare(out)
    # No spare tree yet (a first build, a deploy's): all it will hold is what this build puts
    # there, and there is nothing in it to prune.
    made_here = not os.path.lexists(spare)
    stager = Stager(out, old)
    seen: set[str] = set()
    same: list[str] = []  # unchanged: linked into the spare only when the build switches
    touched: list[str] = []
    changed = 0
    try:
        for path, status in _statuses(files, old, stager, seen, lambda path: foreign.check(out, path)):
            if status == "unchanged":
                same.append(path)
                continue
            changed += status == "changed"
            touched.append(path)  # staged in the spare tree already
        clash = sorted(seen & ancestors(seen))
        if clash:
            raise MarketnewsError(f"output path {clash[0]!r} is both a file and a folder of other files")
        kept = sorted(old - seen - dropped) if partial else []
        removed = sorted(dropped - seen) if partial else sorted(old - seen)
        ours = seen | set(kept)
        record_data = _record_bytes(ours)
        # Nothing added, changed or removed, and the record as it is: `out` already is this build.
        switch = bool(touched or removed) or not _same(out / RECORD, record_data)
        if switch:
            stager.make_folder(spare)
            for path in same + kept + foreign.files:
                _link(out / path, spare / path, stager)
            for folder in foreign.folders:
                stager.make_folder(spare / folder)
            _write_record(stager, record_data)
            keep = ours | set(foreign.files) | {RECORD}
            if not made_here:
                _prune_spare(spare, keep, ancestors(keep) | set(foreign.folders) | ancestors(foreign.folders))
            for folder in foreign.own_folders(ours):
                _as_theirs(out / folder, spare / folder)
            if out.is_dir():
                os.chmod(spare, stat.S_IMODE(out.stat().st_mode))
        if before_switch is not None:
            before_switch()
    except BaseException:
        _close(files)
        if not out.exists():  # a first build: leave nothing behind (over a build, the spare stays for the next)
            shutil.rmtree(spare, ignore_errors=True)
            with suppress(OSError):
                state_folder(out).rmdir()
        raise
    if switch:
        _switch(out)
    added = len(touched) - changed
    return WriteReport(len(seen), added, changed, len(same), len(removed), tuple(sorted(touched + removed)))


# --- in place, for the dev server's private folder ---------------------------------------


def _remove_empty_between(folder: Path, base: Path) -> None:
    """Remove `folder` and its parents while empty, up to `base` (which stays)."""
    while folder != base and base in folder.parents:
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            return
        folder = folder.parent


def _write_in_place(files: Iterable[OutputFile], out: Path, old: set[str], partial: bool,
                    lock: AbstractContextManager[Any], before_switch: Callable[[], None] | None,
                    dropped: set[str]) -> WriteReport:
    stager = Stager(out, old)
    seen: set[str] = set()
    pending: list[str] = []
    unchanged = changed = 0
    try:
        for path, status in _statuses(files, old, stager, seen):
            if status == "unchanged":
                unchanged += 1
                continue
            changed += status == "changed"
            pending.append(path)
        removed = sorted(dropped - seen) if partial else sorted(old - seen)
        for path in pending:  # a file where the last build has a folder: fine when all of it goes
            target = out / path
            if target.is_dir():
                inside = {p.relative_to(out).as_posix() for p in target.rglob("*") if not p.is_dir()}
                if not inside <= set(removed):
                    raise MarketnewsError(f"{target}: this build writes a file where a folder of other files is")
        if before_switch is not None:
            before_switch()
    except BaseException:
        _close(files)
        shutil.rmtree(stager.spare, ignore_errors=True)  # only temporary files: the spare is not a tree here
        raise
    with lock:
        for path in removed:  # first: one may be a folder's last file where a file now goes
            (out / path).unlink(missing_ok=True)
            _remove_empty_between((out / path).parent, out)
        for n, path in enumerate(pending):
            target = out / path
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(stager.staged(path), target)
            except BaseException as exc:
                for rest in pending[n:]:
                    stager.staged(rest).unlink(missing_ok=True)
                raise MarketnewsError(f"{target}: could not be put in place ({exc}); build again") from exc
    return WriteReport(len(seen), len(pending) - changed, changed, unchanged, len(removed),
                       tuple(sorted(pending + removed)))

"""The build memo: one content-addressed store of what earlier builds made. Disk I/O (sqlite3).

A value (a parsed article, a rendered body, an article page's shell, the record of a
page written) is kept under the digest of everything that produced it, the code
version (`CODE_VERSION`) included, so a key that is found is a value that is right.
One pruning rule: saving keeps what this build used and drops the rest.

The CLI keeps the memo in `<cache>/memo.sqlite`; the dev server keeps what it makes in
memory and only reads that file. The file holds JSON text (a value's long strings after
its JSON, `TEXTS`) and checksums, never code: nothing in it can run when it is loaded (no
pickle). A damaged, truncated, foreign or other version's file, or an entry of the wrong
shape, costs one warning line and the work of making its values again, never a wrong
page or a crash.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sqlite3
import stat
import sys
import types
import typing
import zlib
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import marketnews
from marketnews.readahead import readahead

try:  # LZ4's block format, with the `fast` extra: compresses 4-5 times and inflates 5 times as fast as zlib
    _lz4: Any = importlib.import_module("lz4.block")
except ImportError:  # pragma: no cover - depends on the extras installed
    _lz4 = None

MEMO_FILE = "memo.sqlite"
# Files of earlier versions' caches (pickles): removed unread, as nothing may load them.
LEGACY_FILES = ("articles-*.pickle", "bodies-v*.pickle", "pages-v*.pickle", "shells-*.pickle")
# What the output of the code depends on besides its own source: the libraries that
# parse, render and word messages, and Python (Unicode data).
_LIBRARIES = ("PyYAML", "markdown-it-py", "mdit-py-plugins", "markdown-it-pyrs", "Jinja2", "MarkupSafe")


def _code_version() -> str:
    """Digest of the package's source and the versions of what it builds with."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{marketnews.__version__}|{sys.version_info[:2]}".encode())
    for name in _LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        h.update(f"|{name}={version}".encode())
    # Whether `pack` compresses with LZ4 (its block format does not change with its version):
    # a memo made with it is another version's to a build without, and the other way round.
    h.update(b"|lz4" if _lz4 is not None else b"|zlib")
    with suppress(ImportError):  # libyaml's loader words errors its own way
        import yaml

        h.update(str(getattr(yaml, "__with_libyaml__", False)).encode())
    root = Path(marketnews.__file__).parent
    for file in sorted(root.rglob("*.py")):  # a frozen install without sources: the versions decide
        with suppress(OSError):
            h.update(file.relative_to(root).as_posix().encode() + b"\x00" + file.read_bytes())
    return h.hexdigest()


CODE_VERSION = _code_version()


def memo_key(kind: str, *parts: str | bytes) -> str:
    """The key of a value of this `kind` made from `parts` by this version of the code."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{CODE_VERSION}\x00{kind}".encode())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        h.update(b"\x00" + str(len(data)).encode() + b"\x00" + data)
    return h.hexdigest()


def _checksum(key: str, value: bytes) -> bytes:
    """An entry's checksum: of its key and value, so that a row found under another key's
    place in the file (a file damaged where its index and rows disagree) does not pass."""
    h = hashlib.blake2b(key.encode() + b"\x00", digest_size=8)
    h.update(value)
    return h.digest()


# --- values: frozen dataclasses, tuples and plain data as JSON ------------------------------

class WrongShape(ValueError):
    """A memo value that is not what its kind holds."""


# A value with long strings (a page's frame, a rendered body) keeps them after its JSON,
# as they are: JSON would escape every quote and line end of their HTML, and reading
# those escapes back was most of the time it took to load a frame. The value is then
# TEXTS, the JSON list of their lengths, a line end, the JSON in which each is
# {"$": its number}, a line end, and the strings one after the other. (JSON as
# json.dumps writes it has no line end of its own, and never starts with a NUL byte.)
TEXTS = b"\x00text\x00"
LONG_TEXT = 256  # characters; a shorter string stays in the JSON


def encode(value: Any) -> bytes:
    """A value as compact JSON (dataclasses as lists of their fields, datetimes with their
    zone), its long strings after it (see TEXTS)."""
    texts: list[str] = []
    doc = _plain(value, texts)
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if texts:
        text = f"{json.dumps([len(t) for t in texts])}\n{text}\n{''.join(texts)}"
    return (TEXTS if texts else b"") + text.encode("utf-8", "surrogatepass")


def document(data: bytes) -> Any:
    """The JSON document of `encode`, its long strings put back."""
    if not data.startswith(TEXTS):
        return json.loads(data)
    head, _, rest = data[len(TEXTS):].partition(b"\n")
    doc, _, tail = rest.partition(b"\n")
    lengths = json.loads(head)
    _expect(type(lengths) is list and all(type(n) is int and n >= 0 for n in lengths), "lengths of texts")
    joined = tail.decode("utf-8", "surrogatepass")
    _expect(sum(lengths) == len(joined), "texts of the lengths given")
    texts, at = [], 0
    for n in lengths:
        texts.append(joined[at : at + n])
        at += n

    def text(obj: dict[str, Any]) -> Any:
        if "$" not in obj:
            return obj
        i = obj["$"]
        _expect(len(obj) == 1 and type(i) is int and 0 <= i < len(texts), "a text's number")
        return texts[i]
    return json.loads(doc, object_hook=text)


def _plain(value: Any, texts: list[str]) -> Any:
    """`value` as JSON data, each string of LONG_TEXT characters or more put in `texts`
    and {"$": its number} in its place."""
    kind = type(value)
    if kind is str:
        if len(value) < LONG_TEXT:
            return value
        texts.append(value)
        return {"$": len(texts) - 1}
    if value is None or isinstance(value, (bool, int, float)):
        return value
    make = _encoders.get(kind)
    if make is not None:
        return make(value, texts)
    if isinstance(value, str):  # a subclass (Markup): as the string it is
        return _plain(str.__str__(value), texts)
    if isinstance(value, datetime):
        zone = value.tzinfo
        return {"t": value.isoformat(), "z": zone.key if isinstance(zone, ZoneInfo) else None}
    if is_dataclass(value) and not isinstance(value, type):
        make = _encoders[kind] = _dataclass_encoder(kind)
        return make(value, texts)
    if isinstance(value, (tuple, list)):
        return [_plain(v, texts) for v in value]
    raise TypeError(f"cannot keep a {type(value).__name__} in the memo")


_encoders: dict[type, Callable[[Any, list[str]], Any]] = {}
_JSON_AS_IS = (bool, int, float, type(None))  # (a string may be long: see TEXTS)


def _as_is(kind: Any) -> bool:
    """Whether json.dumps writes a value of type `kind` as `_plain` would have it: a plain
    value, or a tuple of plain values (which JSON writes as a list)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return all(_as_is(a) for a in args)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0] in _JSON_AS_IS
    return kind in _JSON_AS_IS


def _dataclass_encoder(tp: type) -> Callable[[Any, list[str]], Any]:
    """`_plain` of the dataclass `tp` (the list of its fields) as one function written out
    for it, like `_fields_decoder`: a field of a plain type, or a tuple of them, is
    passed to JSON as it is, the others through `_plain`."""
    hints = typing.get_type_hints(tp)
    parts = [f"v.{f.name}" if _as_is(hints.get(f.name)) else f"plain(v.{f.name}, texts)" for f in fields(tp)]
    return _written_out(f"def make(v, texts):\n    return [{', '.join(parts)}]\n", {"plain": _plain})


def _written_out(text: str, scope: dict[str, Any]) -> Callable[..., Any]:
    """The function `make` that `text` (made from a type's fields alone, never from data) defines."""
    exec(text, scope)  # noqa: S102 (see above)
    return cast(Callable[..., Any], scope["make"])


# A large value is kept compressed (a page's frame is most of a page). With LZ4 where the
# `fast` extra installs it, else with zlib at level 1. On the frames and bodies of the
# benchmark's 10,000-article memo, LZ4 compressed at 594 MB/s and inflated at 1,467 MB/s
# here, zlib at 131 and 288 MB/s; the memo keeps 42% of their bytes with LZ4, 29% with
# zlib. A value deflated already (a share card) is put as it is (`Memo.put(..., packed=True)`).
# Each kind is marked by a prefix: JSON never starts with a NUL byte.
ZLIB = b"\x00zlib\x00"
LZ4 = b"\x00lz4\x00"  # then the size of the value (4 bytes, little-endian) and its LZ4 block
PACK_MIN = 2048  # bytes; below this, compressing saves little
FETCH_BATCH = 500  # keys a query of `Memo.fetch` asks for (SQLite takes up to 32,766 parameters)
# SQLite's page in a new memo file: most values (a few KB: frames, bodies, records) fit in
# one, where with 4 KB pages many spilled into a second page that held little else. Writing
# a 10,000-article site's values took two thirds of the time, in a file a fifth smaller.
PAGE_SIZE = 16384
HOLD_MAX = 4 * 2**20  # bytes of new values the memo holds before `put` writes them to its file
MAX_VALUE = 256 * 2**20  # no value unpacks to more (a damaged or hostile cache cannot fill memory)
LZ4_MAX_RATIO = 256  # an LZ4 block inflates to less than this many times its length (255 for a run of one byte)


def pack(value: bytes) -> bytes:
    """`value` as the memo keeps it (LZ4 where lz4 is installed, else zlib); `unpack` gives it back."""
    if len(value) < PACK_MIN:
        return value
    if _lz4 is not None:
        block: bytes = _lz4.compress(value, store_size=True)
        return LZ4 + block
    return ZLIB + zlib.compress(value, 1)


def unpack(stored: bytes) -> bytes:
    """What `pack` was given (by this or the other compressor); WrongShape when `stored`
    does not unpack."""
    if stored.startswith(LZ4):
        return _unpack_lz4(stored[len(LZ4):])
    if not stored.startswith(ZLIB):
        return stored
    inflate = zlib.decompressobj()
    try:
        value = inflate.decompress(stored[len(ZLIB):], MAX_VALUE)
    except (zlib.error, MemoryError) as exc:
        raise WrongShape(f"a compressed value that does not inflate ({exc or 'out of memory'})") from None
    if not inflate.eof or inflate.unconsumed_tail or inflate.unused_data:
        raise WrongShape("a compressed value that is cut short, too large or followed by more")
    return value


def _unpack_lz4(block: bytes) -> bytes:
    """An LZ4 block after the size it inflates to. That size is checked before any memory
    is taken: at most MAX_VALUE, and at most what a block of this length can inflate to
    (LZ4 shrinks a value 255 times at the very most), so that a few forged bytes cannot
    make a build take 256 MB. The block must inflate to exactly that size."""
    if _lz4 is None:
        raise WrongShape("a value compressed with LZ4, which is not installed")
    size = int.from_bytes(block[:4], "little") if len(block) >= 4 else -1
    if size < 0 or size > MAX_VALUE or size > LZ4_MAX_RATIO * (len(block) - 4) + 64:
        raise WrongShape("a compressed value that is cut short or too large")
    try:
        value: bytes = _lz4.decompress(block)
    except (_lz4.LZ4BlockError, MemoryError) as exc:
        raise WrongShape(f"a compressed value that does not inflate ({exc or 'out of memory'})") from None
    return value


_decoders: dict[Any, Callable[[Any], Any]] = {}


def decode(kind: Any, data: bytes) -> Any:
    """The value of type `kind` that `encode` gave `data` as; WrongShape when it is not one."""
    try:
        doc = document(data)
        return _decoder(kind)(doc)
    except WrongShape:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise WrongShape(str(exc)) from exc


def _decoder(tp: Any) -> Callable[[Any], Any]:
    """A function from JSON data to a value of type `tp`, checking every part of it."""
    found = _decoders.get(tp)
    if found is None:
        found = _decoders[tp] = _make_decoder(tp)
    return found


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise WrongShape(f"expected {what}")


def _make_decoder(tp: Any) -> Callable[[Any], Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return lambda d: _expect(d is None, "null")
    if tp in (str, bool, int):  # exactly: JSON's true is not an int here
        return lambda d: d if type(d) is tp else _expect(False, tp.__name__)
    if tp is float:
        return lambda d: float(d) if isinstance(d, (int, float)) and not isinstance(d, bool) else _expect(
            False, "number")
    if tp is datetime:
        def when(d: Any) -> datetime:
            _expect(isinstance(d, dict) and isinstance(d.get("t"), str), "a time")
            value = datetime.fromisoformat(d["t"])
            _expect(value.tzinfo is not None, "a time with its zone")
            zone = d.get("z")
            return value.astimezone(ZoneInfo(zone)) if isinstance(zone, str) else value
        return when
    if origin is typing.Literal:
        return lambda d: d if d in args else _expect(False, f"one of {args}")
    if origin in (typing.Union, types.UnionType):
        if len(args) == 2 and type(None) in args:  # X | None, the common case: no trial and error
            some = _decoder(next(a for a in args if a is not type(None)))
            return lambda d: None if d is None else some(d)
        options = [_decoder(a) for a in args]

        def either(d: Any) -> Any:
            for option in options:
                with suppress(WrongShape):
                    return option(d)
            raise WrongShape(f"expected {tp}")
        return either
    if origin in (tuple, list):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            if args[0] in (str, int):
                kind = args[0]

                def plain(d: Any) -> tuple[Any, ...]:
                    _expect(type(d) is list and all(type(v) is kind for v in d), f"a list of {kind.__name__}")
                    return tuple(d)
                return plain
            item = _decoder(args[0])
            return lambda d: tuple(map(item, d)) if isinstance(d, list) else _expect(False, "a list")
        if origin is list:
            item = _decoder(args[0])
            return lambda d: list(map(item, d)) if isinstance(d, list) else _expect(False, "a list")
        return _fields_decoder(None, list(args))
    if is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        names = [f.name for f in fields(tp) if f.init]
        _expect(len(names) == len(fields(tp)), f"{tp.__name__} with every field in its constructor")
        return _fields_decoder(tp, [hints[n] for n in names])
    raise TypeError(f"no memo decoder for {tp!r}")


def _bad(what: str) -> Any:
    raise WrongShape(f"expected {what}")


def _fields_decoder(tp: type | None, kinds: list[Any]) -> Callable[[Any], Any]:
    """A decoder of the dataclass `tp` (None: of a tuple) whose fields are of `kinds`, as
    one function written out for it, the way `dataclasses` writes a class's __init__: a
    field of a plain type (or that or None) is checked where it is read, the others by
    their decoder. Its text is made from the type alone; the data it decodes is only
    passed to it. An article's entry decodes in about half the time a call per field
    took, and a shell's slots (tuples of three strings) in a fifth."""
    name = tp.__name__ if tp is not None else f"{len(kinds)} items"
    scope: dict[str, Any] = {"tp": tp, "bad": _bad}
    parts = []
    for i, kind in enumerate(kinds):
        args = typing.get_args(kind)
        maybe = typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 2 \
            and type(None) in args
        plain = next(a for a in args if a is not type(None)) if maybe else kind
        if plain in (str, bool, int):
            scope[f"t{i}"] = plain
            none = f"d[{i}] is None or " if maybe else ""
            parts.append(f"(d[{i}] if {none}type(d[{i}]) is t{i} else bad({str(kind)!r}))")
        else:
            scope[f"m{i}"] = _decoder(kind)
            parts.append(f"m{i}(d[{i}])")
    made = f"tp({', '.join(parts)})" if tp is not None else f"({''.join(p + ', ' for p in parts)})"
    text = (f"def make(d):\n    if type(d) is not list or len(d) != {len(kinds)}:\n        bad({name!r})\n"
            f"    return {made}\n")
    return _written_out(text, scope)


# --- the store ---------------------------------------------------------------------------

_SCHEMA = {
    ("table", "entries", "CREATE TABLE entries (key TEXT PRIMARY KEY, sum BLOB NOT NULL, value BLOB NOT NULL)"),
    ("index", "sqlite_autoindex_entries_1", None),
    ("table", "about", "CREATE TABLE about (name TEXT PRIMARY KEY, value TEXT NOT NULL)"),
    ("index", "sqlite_autoindex_about_1", None),
}


BUSY_TIMEOUT_S = 5.0  # how long a build waits for another program that holds the memo file locked


class Memo:
    """The one memo of a build (and, in the dev server, of every rebuild).

    `get` finds a value by key (this process's new ones, then the file's; `fetch` reads
    many of the file's at once for the `get`s about to ask), `put` adds one; both count
    the key as used, and `use` counts a key found elsewhere (by a worker
    process, which forks with this object and reads the file through its own
    connection). `save` writes the new values to the file and drops every entry this
    build did not use; with `writes` off (the dev server) it only prunes the memory.
    The first problem with the file becomes `warning`; the build goes on without it.
    """

    def __init__(self, folder: Path | None, *, writes: bool = True, shown: str | None = None) -> None:
        self.file = folder / MEMO_FILE if folder is not None else None
        self.shown = shown or (str(self.file) if self.file is not None else MEMO_FILE)
        self.writes = writes
        self.new: dict[str, bytes] = {}
        self.held = 0  # the bytes in `new` not yet written, when this process writes the file
        self.used: set[str] = set()
        self.faults: list[str] = []  # keys whose entries were damaged: replaced on saving
        self.notes: dict[str, str | None] = {}  # facts about the memo to write (None: to remove)
        self.warning: str | None = None
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        # Rows read ahead by `fetch` for the `get`s about to ask for them (None: not in the file).
        self._fetched: dict[str, tuple[Any, Any] | None] = {}
        self._usable = self.file is not None  # False after a problem with the file: rebuilt on saving
        self._owner = os.getpid()  # the process that writes the file (a forked worker only reads it)
        odd = _not_a_file(self.file) if self.file is not None else None
        if odd:  # neither read (a FIFO would never answer) nor removed (not the build's to remove)
            self.file, self._usable = None, False
            self.warning = f"{odd}: left as it is; this build keeps no memo"

    # --- reading ---

    def _connection(self) -> sqlite3.Connection | None:
        if not self._usable or self.file is None:
            return None
        if self._pid == os.getpid() and self._db is not None:
            return self._db
        first = self._pid == 0
        self._pid = os.getpid()
        self._db = None  # a worker forked with the parent's connection: never use it, open its own
        if not self.file.exists():
            self._usable = False
            return None
        readahead([self.file])  # its pages are read all over it: have them fetched at once
        try:
            db = sqlite3.connect(f"{self.file.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                 timeout=BUSY_TIMEOUT_S)
            db.execute("PRAGMA trusted_schema = OFF")
            if first and not db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                # No table yet: the file another process is making (a worker opening it before
                # the parent's first write has committed), or one left empty. No memo to read
                # in this process, and nothing foreign to warn of.
                db.close()
                self._usable = False
                return None
            if first:
                self._check(db)
        except sqlite3.Error as exc:
            self._read_failed(exc, f"not a memo this version can read ({exc})")
            return None
        except _Foreign as exc:
            self._problem(str(exc))
            return None
        self._db = db
        return db

    def _check(self, db: sqlite3.Connection) -> None:
        schema = set(db.execute("SELECT type, name, sql FROM sqlite_master").fetchall())
        if schema != _SCHEMA:
            raise _Foreign("not a marketnews memo (its tables differ)")
        version = db.execute("SELECT value FROM about WHERE name = 'version'").fetchone()
        if version is None or version[0] != CODE_VERSION:
            raise _Foreign("made by another version of marketnews")

    def note(self, name: str) -> str | None:
        """A fact written with `set_note` (by this build, or one before it)."""
        if name in self.notes:
            return self.notes[name]
        db = self._connection()
        if db is None:
            return None
        try:
            row = db.execute("SELECT value FROM about WHERE name = ?", ("note " + name,)).fetchone()
        except sqlite3.Error as exc:
            self._read_failed(exc, f"damaged ({exc})")
            return None
        return row[0] if row is not None else None

    def set_note(self, name: str, value: str | None) -> None:
        """Write (None: remove) a fact about the memo on the next `flush` or `save`."""
        self.notes[name] = value

    def get(self, key: str) -> bytes | None:
        """The value under `key`, or None (not there, or damaged: then noted in `faults`)."""
        value = self.new.get(key)
        if value is not None:
            self.used.add(key)
            return unpack(value)
        if key in self._fetched:
            row = self._fetched.pop(key)
        else:
            db = self._connection()
            if db is None:
                return None
            try:
                row = db.execute("SELECT sum, value FROM entries WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                self._read_failed(exc, f"damaged ({exc})", key)
                return None
        if row is None:
            return None
        if not isinstance(row[1], bytes) or row[0] != _checksum(key, row[1]):
            self._problem("damaged (an entry does not match its checksum)", key)
            return None
        try:
            value = unpack(row[1])
        except WrongShape as exc:
            self._problem(f"damaged ({exc})", key)
            return None
        self.used.add(key)
        return value

    def fetch(self, keys: Iterable[str]) -> set[str]:
        """Read the file's entries under `keys` at once, for the `get`s about to ask for them:
        a few queries rather than one a key (each query takes the file's lock, and a worker
        process that asks while the parent writes the file waits for it). `get` checks what
        was fetched as it checks any entry; what was fetched and not asked for is held until
        `forget_fetched` (or until the file is written or found unusable). The keys of the
        entries found, in the file or held new; after a problem with the file, only those
        held new (each `get` then asks the file on its own, and says what is wrong)."""
        keys = list(dict.fromkeys(keys))
        wanted = [k for k in keys if k not in self.new]
        db = self._connection() if wanted else None
        if db is None:
            return {k for k in keys if k in self.new}
        fetched: dict[str, tuple[Any, Any] | None] = dict.fromkeys(wanted)
        try:
            for i in range(0, len(wanted), FETCH_BATCH):
                part = wanted[i : i + FETCH_BATCH]
                query = f"SELECT key, sum, value FROM entries WHERE key IN ({','.join('?' * len(part))})"
                for key, checksum, value in db.execute(query, part):
                    if key in fetched:
                        fetched[key] = (checksum, value)
        except sqlite3.Error:  # each `get` asks on its own, and finds the problem (and says it) itself
            return {k for k in keys if k in self.new}
        self._fetched.update(fetched)
        return {k for k in keys if k in self.new or fetched.get(k) is not None}

    def forget_fetched(self) -> None:
        """Drop what `fetch` read and no `get` asked for."""
        self._fetched = {}

    def load(self, key: str, kind: Any, fits: Callable[[Any], bool] | None = None) -> Any:
        """The value under `key` decoded as a `kind`; None when missing or of another shape,
        or when `fits` says it is not what its key names (then it is replaced too)."""
        data = self.get(key)
        if data is None:
            return None
        try:
            value = decode(kind, data)
            if fits is not None and not fits(value):
                raise WrongShape("a value that is not what its key names")
            return value
        except WrongShape as exc:
            self.used.discard(key)
            self._problem(f"an entry of the wrong shape ({exc})", key)
            return None

    # --- writing ---

    def put(self, key: str, value: bytes, packed: bool = False) -> None:
        """Keep `value` (JSON from `encode`) under `key`, deflated by `pack`; with `packed`, as
        given: what `pack` made of it, or JSON not worth deflating (a share card's)."""
        kept = self.new[key] = value if packed else pack(value)
        self.used.add(key)
        if self.file is not None and self.writes and os.getpid() == self._owner:
            self.held += len(kept)
            if self.held > HOLD_MAX:
                self.flush()  # what a build makes need not all be in memory at once

    def use(self, keys: Iterable[str]) -> None:
        """Count keys a worker process found as used."""
        self.used.update(keys)

    def take_faults(self) -> tuple[list[str], str | None]:
        """What went wrong in this process (a worker's) since the last call, for `add_faults`."""
        faults, warning = self.faults, self.warning
        self.faults, self.warning = [], None
        return faults, warning

    def add_faults(self, found: tuple[list[str], str | None]) -> None:
        faults, warning = found
        self.faults += faults
        if self.warning is None:
            self.warning = warning

    def _problem(self, what: str, key: str | None = None) -> None:
        if key is not None:
            self.faults.append(key)
        else:
            self._usable = False
            self._fetched = {}
        if self.warning is None:
            self.warning = f"{what}; made again what it held"

    def flush(self) -> None:
        """Write the new values to the file (none is dropped), so as not to hold them."""
        if self.file is not None and self.writes and (self.new or self.faults or self.notes):
            self._save(prune=False)
            self.new, self.faults, self.notes, self.held = {}, [], {}, 0

    def save(self) -> None:
        """Write the new values and keep only the entries this build used (in memory
        without a file to write); the next build starts counting again."""
        if self.file is None or not self.writes:
            self.new = {k: v for k, v in self.new.items() if k in self.used}
        else:
            self._save(prune=True)
            self.new, self.faults, self.notes, self.held = {}, [], {}, 0
        self.used = set()

    def _read_failed(self, exc: sqlite3.Error, what: str, key: str | None = None) -> None:
        """SQLite could not read the file (or the entry under `key`): damage to make again
        (`_problem`), or a reason that says nothing of the file (`_leave`)."""
        if _damaged(exc):
            self._problem(what, key)
        else:
            self._leave(exc)

    def _leave(self, exc: BaseException) -> None:
        """The file cannot be read or written for a reason that says nothing of what it holds
        (a full disk, a file or folder this process may not write, one that another program
        holds locked, an I/O error): left as it is, and this build goes on without it, as
        it would without a memo (one warning). The memo only ever saves work."""
        if self.warning is None:
            self.warning = (f"cannot be used ({exc}); left as it is, and this build keeps no memo"
                            if os.getpid() == self._owner else  # a worker's: this process still saves it
                            f"a worker process could not read it ({exc}); it did its share without it")
        self.file, self._usable, self._fetched, self._db = None, False, {}, None

    def _save(self, prune: bool) -> None:
        try:
            self._write(prune)
        except (sqlite3.Error, OSError) as exc:
            if isinstance(exc, sqlite3.Error) and _damaged(exc):  # found damaged only now: start the file again
                if self.warning is None:
                    self.warning = f"damaged ({exc}); made again what it held"
                self._usable = False
                try:
                    self._write(prune)
                    return
                except (sqlite3.Error, OSError) as again:
                    exc = again
            self._leave(exc)

    def _write(self, prune: bool) -> None:
        assert self.file is not None
        self._fetched = {}  # read before this write: pruned, or from a file started again, they are not the file's
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db, self._pid = None, 0
        self.file.parent.mkdir(parents=True, exist_ok=True)
        for pattern in LEGACY_FILES if prune else ():  # once a build, when it saves
            for old in self.file.parent.glob(pattern):
                old.unlink(missing_ok=True)
        fresh = not self._usable or not self.file.exists()
        if fresh:  # damaged, foreign or of another version: a new file
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{self.file}{suffix}").unlink(missing_ok=True)
        db = sqlite3.connect(self.file, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        try:
            db.execute("PRAGMA trusted_schema = OFF")
            # Not synced to the disk, as no file a build writes is (docs/guarantees.md): a
            # process that stops leaves the file whole, and a machine that lost power may
            # leave it damaged, which the next build finds and starts again. Each sync of
            # it made the kernel write out every page the workers had written so far.
            db.execute("PRAGMA synchronous = OFF")
            if fresh:
                db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            db.execute("BEGIN IMMEDIATE")
            if fresh:
                for _, _, sql in sorted(_SCHEMA, key=lambda s: (s[0] != "table", s[1])):
                    if sql:
                        db.execute(sql)
                db.execute("INSERT INTO about VALUES ('version', ?)", (CODE_VERSION,))
            else:
                self._check(db)
            for name, value in self.notes.items():
                if value is None:
                    db.execute("DELETE FROM about WHERE name = ?", ("note " + name,))
                else:
                    db.execute("INSERT OR REPLACE INTO about VALUES (?, ?)", ("note " + name, value))
            db.executemany("DELETE FROM entries WHERE key = ?", ((k,) for k in self.faults))
            # Content-addressed: a key already there should hold this very value, but it may be
            # damaged where this build never read it (a page record it did not trust): this
            # build's value, just made, takes its place. (Seldom: what the memo had is not made.)
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)",
                           ((k, _checksum(k, v), v) for k, v in self.new.items()))
            if prune:
                db.execute("CREATE TEMP TABLE used (key TEXT PRIMARY KEY)")
                db.executemany("INSERT OR IGNORE INTO used VALUES (?)", ((k,) for k in self.used | self.new.keys()))
                db.execute("DELETE FROM entries WHERE key NOT IN (SELECT key FROM temp.used)")
            db.execute("COMMIT")
        except _Foreign:
            db.execute("ROLLBACK")
            raise sqlite3.DatabaseError("not a marketnews memo") from None
        except BaseException:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()
        self._usable = True


class _Foreign(Exception):
    pass


# What SQLite says of a file it cannot use that says nothing of what the file holds (and
# their extended codes, SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT, ...): the file is left as
# it is (Memo._leave). Anything else (SQLITE_CORRUPT and its extended codes, SQLITE_NOTADB,
# a value that cannot be decoded) is damage: the memo is made again.
_NOT_DAMAGE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN",
               "SQLITE_PERM", "SQLITE_NOMEM", "SQLITE_INTERRUPT", "SQLITE_AUTH", "SQLITE_NOLFS")


def _damaged(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", None)
    return not (isinstance(name, str) and name.startswith(_NOT_DAMAGE))


def _not_a_file(memo: Path) -> str | None:
    """What stands where the memo or one of SQLite's files beside it belongs, when it is
    neither a plain file nor a link (a link to something else is too): a folder, a FIFO,
    a socket or a device, which no build made and none may remove; None otherwise."""
    for path in (memo, *(Path(f"{memo}{suffix}") for suffix in ("-journal", "-wal", "-shm"))):
        try:
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                mode = os.stat(path).st_mode
        except (OSError, ValueError):  # none there, or a link that leads nowhere
            continue
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
                "a socket" if stat.S_ISSOCK(mode) else "a device"
            return f"{path.name} is {kind}, not a file"
    return None

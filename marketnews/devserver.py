"""`marketnews serve`: build into a private folder, serve it, rebuild on change, reload the page.
Disk, local HTTP, file-system watching and threads.

Three threads share one `DevServer`:
  watcher   watchdog reports changed paths under content/, layouts/, static/ and site.yaml;
  builder   waits until the paths have been quiet for `settle` seconds (an editor's temp
            file, rename and second save make one rebuild), then rebuilds incrementally
            (pipeline.build with the last BuildState) and tells the browsers;
  server    a threaded HTTP server for the built folder, plus an event stream
            (Server-Sent Events) that the script it adds to every HTML response listens to.
The snapshot is taken once, with the clock, and reused by every rebuild until the odds
are refreshed (`refresh_odds`: a key press, or POST /__marketnews/refresh).

Never a half-built site: the writer renames files into place only after the whole build
rendered, under `swap`, which a request also holds while it opens its file; a build that
fails leaves the folder as it was and the pages show the error until a build succeeds.
Production output never contains the reload script: it is added to responses here.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import html
import ipaddress
import json
import mimetypes
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from marketnews.cache import Memo
from marketnews.errors import ConfigError, ContentError, MarketnewsError, Problem, TemplateError
from marketnews.headers import security_headers
from marketnews.markets.snapshots import SnapshotSource, Wanted
from marketnews.names import MAX_SEGMENT_BYTES
from marketnews.pipeline import BuildOptions, BuildReport, BuildState, SitePaths, build, editors_file
from marketnews.templating import failed_layouts
from marketnews.writer import write_site

PREFIX = "/__marketnews/"
EVENTS = PREFIX + "events"
SETTLE_S = 0.05  # editors' bursts (temp file, rename, second save) land within a few ms of each other
KEEPALIVE_S = 15.0
SEND_CHUNK = 1 << 20  # a file of the site is sent this many bytes at a time
MAX_PATH_BYTES = 4096

# The one piece of script the dev server adds to HTML pages (never written to disk).
# `gen` is the build the page came from: a stream that (re)connects to a newer build
# reloads, so a save that lands between the page load and the connection is not missed.
RELOAD_SCRIPT = """<script data-marketnews-dev>(function () {
  var gen = %d, es = new EventSource("%s");
  es.addEventListener("hello", function (e) { if (+e.data !== gen) location.reload(); });
  es.addEventListener("reload", function () { location.reload(); });
  es.addEventListener("css", function (e) {
    gen = +e.data;
    document.querySelectorAll('link[rel="stylesheet"]').forEach(function (link) {
      var url = new URL(link.href); url.searchParams.set("mn", e.data); link.href = url.toString();
    });
  });
})();</script>
"""

Log = Callable[[str], None]


def _silent(message: str) -> None:
    pass


class DevServer:
    """Builds `paths` (output into a temporary folder it owns) and serves it until `stop`."""

    def __init__(
        self,
        paths: SitePaths,
        snapshot_source: SnapshotSource,
        clock: Callable[[], datetime],
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        settle: float = SETTLE_S,
        options: BuildOptions | None = None,
        log: Log = _silent,
    ):
        root = paths.root.resolve()
        # The site goes in a folder of its own inside: the writer keeps its temporary files beside it.
        self._home = Path(tempfile.mkdtemp(prefix="marketnews-serve-", dir=_memory_folder()))
        self.out = self._home / "site"
        self.out.mkdir()
        self.paths = SitePaths(root=root, content=paths.content.resolve(), out=self.out, cache=paths.cache)
        # Drafts and future articles shown (labelled); static files under their own names, so
        # a stylesheet edit changes that file alone and the page swaps it in without reloading.
        self.options = options or BuildOptions(drafts=True, future=True, asset_hashes=False)
        self._source, self._clock = snapshot_source, clock
        self.host, self.port, self.settle, self.log = host, port, settle, log

        self.swap = threading.Lock()  # held while files are renamed into place, and while a request opens one
        self._cond = threading.Condition()
        self._pending: set[Path] = set()  # changed since the builder last looked
        self._last_event = 0.0
        self._refresh = False
        self._stopping = False
        # What the browsers see: the build generation, and the problems of a failed build.
        self.generation = 0
        self.event = "reload"  # what the last generation asks pages to do: reload, or css
        self.problems: tuple[str, ...] = ()
        self.builds = 0  # rebuilds attempted after the first build, for tests and the status endpoint
        self.last_report: BuildReport | None = None

        self._state: BuildState | None = None
        self._unbuilt: set[Path] = set()  # changed since the last successful build
        self._odds: Any = None
        self._now = clock()
        self._said: set[Problem] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._observer: Any = None
        self._collector: _Collector | None = None
        self._watches: dict[Path, Any] = {}  # each of the site's folders -> its watch, while it is a folder
        # Each followed link -> the file outside the site's folders it leads to (content/a.md ->
        # drafts/a.md); the folders of such files are watched too (`_follow`).
        self._link_targets: dict[Path, Path] = {}
        self._link_folders: dict[Path, Any] = {}
        self._threads: list[threading.Thread] = []
        self.headers = security_headers(root)  # what netlify.toml sends for "/*" (see headers.py)

    # --- life cycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Build once, then watch, build and serve in background threads."""
        self._rebuild(set(), first=True)
        handler = partial(_Handler, self)
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._observer = self._watch()
        for target, name in ((self._httpd.serve_forever, "http"), (self._build_loop, "builder")):
            thread = threading.Thread(target=target, name=f"marketnews-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._observer is not None:
            self._observer.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        shutil.rmtree(self._home, ignore_errors=True)

    def refresh_odds(self) -> None:
        """Take a new snapshot (and read the clock again), then rebuild everything."""
        with self._cond:
            self._refresh = True
            self._cond.notify_all()

    # --- watching ------------------------------------------------------------------------

    @property
    def folders(self) -> tuple[Path, Path, Path]:
        """The site's folders whose files make the site: content/, layouts/ and static/."""
        return (self.paths.content, self.paths.layouts, self.paths.static)

    def _watch(self) -> Any:
        observer = self._observer = Observer()
        self._collector = _Collector(self)
        for folder in self.folders:
            self._rewatch(folder)
        for folder in (self.paths.content, self.paths.static):
            self._follow(p for p in folder.rglob("*") if p.is_symlink())
        # site.yaml, and the site's folders themselves: made, removed or moved (a checkout of
        # another branch, a copy put back), each is watched again (`changed`).
        observer.schedule(self._collector, str(self.paths.root), recursive=False)
        observer.daemon = True
        observer.start()
        return observer

    def _rewatch(self, folder: Path) -> None:
        """Watch one of the site's folders anew: the folder now at its path, if it is one."""
        old = self._watches.pop(folder, None)
        if old is not None:
            with suppress(Exception):  # (its folder gone, watchdog may have dropped it already)
                self._observer.unschedule(old)
        if folder.is_dir():
            with suppress(OSError):  # gone again meanwhile, or out of inotify watches: its next event retries
                self._watches[folder] = self._observer.schedule(self._collector, str(folder), recursive=True)

    def _follow(self, links: Iterable[Path]) -> None:
        """Watch the folder of each file these links lead to outside the site's folders: an
        edit there changes the linked article (or static file) as a build reads it."""
        for link in links:
            try:
                target = link.resolve(strict=True)
            except (OSError, RuntimeError):  # leads nowhere (yet: its file may come back), or in a loop
                continue
            if self._link_targets.get(link) == target:
                continue
            self._unfollow(link)  # it led elsewhere before
            if target.is_dir() or any(f == target or f in target.parents for f in self.folders):
                continue
            self._link_targets[link] = target
            # (The site's own folder is watched already, not recursively: a watch of it here
            # would be that same watch, and forgetting the link would end it.)
            if target.parent not in self._link_folders and target.parent != self.paths.root.resolve():
                with suppress(OSError):
                    self._link_folders[target.parent] = self._observer.schedule(
                        self._collector, str(target.parent), recursive=False)

    def _unfollow(self, link: Path) -> None:
        """Forget where `link` led (removed, or led elsewhere since), and stop watching that
        file's folder when no other followed link leads into it."""
        target = self._link_targets.pop(link, None)
        if target is None or any(t.parent == target.parent for t in self._link_targets.values()):
            return
        watch = self._link_folders.pop(target.parent, None)
        if watch is not None:
            with suppress(Exception):
                self._observer.unschedule(watch)

    def relevant(self, path: Path, folder: bool = False) -> bool:
        """Whether a change to `path` (a `folder`?) can change the site: not an editor's swap,
        backup or autosave file, which a build neither reads nor publishes (the same test)."""
        if editors_file(path.name):
            return False
        if path == self.paths.config_file or path in self.folders:
            return True
        if self.paths.content in path.parents:
            return folder or path.suffix == ".md"  # an article, or a folder of them
        return any(f in path.parents for f in (self.paths.layouts, self.paths.static))

    def changed(self, paths: Iterable[Path], folder: bool = False) -> None:
        """Called by the watcher (and tests): these paths changed on disk."""
        paths = list(paths)
        changed = set(paths)
        paths += [link for link, target in self._link_targets.items() if target in changed]  # (a linked file: its link)
        if self._observer is not None:
            # A followed link among the changes, or in a folder that changed, that is a link no
            # more (removed, or a file now): the only ones looked at on disk.
            gone = [link for link in self._link_targets if (link in changed or not changed.isdisjoint(link.parents))
                    and not link.is_symlink()]
            for link in gone:
                self._unfollow(link)
            self._follow(p for p in paths if p.is_symlink())
        wanted = {p for p in paths if self.relevant(p, folder)}
        if not wanted:
            return
        if self._observer is not None:
            for site_folder in wanted & set(self.folders):
                self._rewatch(site_folder)
        with self._cond:
            self._pending |= wanted
            self._last_event = time.monotonic()
            self._cond.notify_all()

    # --- building ------------------------------------------------------------------------

    def _build_loop(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._refresh or self._stopping):
                    self._cond.wait()
                while not self._stopping:  # wait until the files have been quiet for `settle`
                    remaining = self._last_event + self.settle - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if self._stopping:
                    return
                changed, self._pending = self._pending, set()
                refresh, self._refresh = self._refresh, False
            self._rebuild(changed, refresh=refresh)

    def _snapshot(self, wanted: Wanted, now: datetime) -> Any:
        """The snapshot source, asked once: every rebuild reuses its answer."""
        if self._odds is None:
            self._odds = self._source(wanted, now)
        return self._odds

    def _rebuild(self, changed: set[Path], first: bool = False, refresh: bool = False) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        if refresh:
            self._odds = None
            self._now = self._clock()
        self._unbuilt |= changed
        state = self._state or BuildState(store=Memo(self.paths.cache, writes=False))
        full = first or refresh or state.gathered is None or bool(self._unbuilt & set(self.folders))
        write = partial(write_site, lock=self.swap)
        try:
            report = build(self.paths, self.options, self._now, self._snapshot, write=write, previous=state,
                           changed=None if full else set(self._unbuilt))
        except (ContentError, ConfigError, MarketnewsError) as exc:
            problems = [str(p) for p in exc.problems] if isinstance(exc, ContentError) else \
                [str(p) for p in failed_layouts(exc, self.paths.layouts)] if isinstance(exc, TemplateError) else []
            problems = problems or str(exc).splitlines()
            if not isinstance(exc, (ContentError, ConfigError)):  # failed while rendering: the memo may be
                self._state = replace(state, memo=None)  # half updated; the next build looks at every page
            self._failed(problems)
            return
        except Exception as exc:  # a bug, not the author's: say so, and start afresh next time
            self.log("".join(traceback.format_exception(exc)).rstrip())
            self._state = BuildState(store=state.store)
            self._failed([f"internal error: {type(exc).__name__}: {exc}"])
            return
        finally:
            if not first:
                self.builds += 1
        self._state, self._unbuilt = report.state, set()
        self.last_report = report
        ms, cpu_ms = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000
        new = [w for w in report.warnings if w not in self._said]
        self._said = set(report.warnings)
        for w in new:
            self.log(str(w))
        touched = report.written.touched if report.written else ()
        if first:
            self.log(f"built {report.pages:,} pages from {report.articles:,} articles in {ms / 1000:.2f} s; "
                     f"{report.snapshot_note}")
        else:
            shown = ", ".join(sorted({self.paths.shown(p) for p in changed})[:3]) or "odds refreshed"
            self.log(f"rebuilt in {ms:.0f} ms, {cpu_ms:.0f} ms CPU ({shown}): "
                     f"{len(touched)} file{'s' if len(touched) != 1 else ''} changed")
            if refresh:
                self.log(report.snapshot_note)
            if self.problems or touched:
                css_only = not self.problems and all(t.endswith(".css") for t in touched)
                self._publish("css" if css_only else "reload", ())
        # The site stays in memory between rebuilds: collect this build's garbage, then
        # keep the collector from walking what survived on every later rebuild.
        gc.collect()
        gc.freeze()

    def _failed(self, problems: list[str]) -> None:
        self.log("build failed; the browser shows these until a save fixes them:")
        for line in problems:
            self.log(f"  {line}")
        self._publish("reload", tuple(problems))

    def _publish(self, event: str, problems: tuple[str, ...]) -> None:
        with self._cond:
            self.generation += 1
            self.event, self.problems = event, problems
            self._cond.notify_all()

    def wait_for_event(self, generation: int, timeout: float) -> tuple[int, str] | None:
        """Block until a build newer than `generation` (or stop); (generation, event) or None."""
        with self._cond:
            self._cond.wait_for(lambda: self.generation > generation or self._stopping, timeout)
            if self.generation > generation:
                return self.generation, self.event
            return None

    @property
    def stopping(self) -> bool:
        return self._stopping

    # --- what a request gets -------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._cond:
            return {"generation": self.generation, "builds": self.builds, "problems": list(self.problems),
                    "odds": self.last_report.snapshot_note if self.last_report else ""}

    def error_page(self) -> bytes:
        items = "\n".join(f"<li><code>{html.escape(p)}</code></li>" for p in self.problems)
        return ERROR_PAGE.format(count=len(self.problems), s="s" if len(self.problems) != 1 else "",
                                 items=items).encode("utf-8")

    def inject(self, page: bytes, generation: int) -> bytes:
        script = (RELOAD_SCRIPT % (generation, EVENTS)).encode("utf-8")
        at = page.rfind(b"</body>")
        return page + script if at == -1 else page[:at] + script + page[at:]


ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Build failed — marketnews</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}}
h1{{color:#b00020}}li{{margin:.4rem 0}}code{{white-space:pre-wrap;font-size:.95rem}}</style></head>
<body><h1>Build failed</h1>
<p>{count} problem{s}. The page reloads by itself when a save fixes them.</p>
<ul>
{items}
</ul>
</body></html>
"""


def _memory_folder() -> str | None:
    """/dev/shm when there is one (and TMPDIR does not say otherwise): a rebuild renames files
    over old ones, which a disk file system may flush to disk first, a few ms each."""
    shm = Path("/dev/shm")
    if "TMPDIR" in os.environ or not shm.is_dir() or not os.access(shm, os.W_OK):
        return None
    st = os.statvfs(shm)
    return str(shm) if st.f_bavail * st.f_frsize > 1 << 30 else None


class _Collector(FileSystemEventHandler):
    """Hands watchdog's events to the server as paths."""

    def __init__(self, server: DevServer):
        self.server = server

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write") or (event.is_directory and event.event_type == "modified"):
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        try:
            self.server.changed((Path(os.fsdecode(p)) for p in paths if p), folder=event.is_directory)
        except Exception as exc:  # raised here it would end watchdog's thread, and every later rebuild with it
            self.server.log(f"watching: {type(exc).__name__}: {exc}")


mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/json", ".json")


_BYTE_RANGE = re.compile(r"bytes=[ \t]*([0-9]*)-([0-9]*)[ \t]*", re.IGNORECASE)
UNSATISFIABLE = (-1, -1)


def _offset(digits: str) -> int:
    """A byte offset as written; past any file's size when it has more digits than any size
    (int() refuses thousands of digits)."""
    return int(digits) if len(digits) <= 18 else 10**18


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range of bytes (first, last) a `Range` header asks of a file of `size` bytes;
    None to send the whole file (no header, one that cannot be read, several ranges); or
    UNSATISFIABLE, a range that starts past the end (or an empty one at the end)."""
    if header is None:
        return None
    m = _BYTE_RANGE.fullmatch(header.strip())
    if m is None or not (m.group(1) or m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # the last n bytes
        n = _offset(last)
        if n and not size:  # of an empty file: all of it, which is nothing
            return None
        return (size - min(n, size), size - 1) if n else UNSATISFIABLE
    start = _offset(first)
    if last and _offset(last) < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return start, min(_offset(last), size - 1) if last else size - 1


def content_type(path: str) -> str:
    # The site's feeds are all named feed.xml; its other XML files are sitemaps.
    kind = "application/atom+xml" if path.endswith("feed.xml") else mimetypes.guess_type(path)[0]
    kind = kind or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/json", "application/xml", "application/atom+xml",
                                            "image/svg+xml"):
        kind += "; charset=utf-8"
    return kind


class _Handler(BaseHTTPRequestHandler):
    server_version = "marketnews-serve"

    def __init__(self, dev: DevServer, *args: Any, **kwargs: Any):
        self.dev = dev
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the terminal is for builds and problems, not for every request

    def do_HEAD(self) -> None:
        if self._allowed(head=True):
            self._get(head=True)

    def do_GET(self) -> None:
        if self._allowed(head=False):
            self._get(head=False)

    def _allowed(self, head: bool) -> bool:
        """Refuse a request for another host name (DNS rebinding: a page of evil.example whose
        name now resolves to 127.0.0.1 must not read drafts) or for a path no file can have."""
        host = self.headers.get("Host")
        if host is not None and not allowed_host(host, self.dev.host):
            self._send(HTTPStatus.MISDIRECTED_REQUEST, f"this server answers for {self.dev.url} only\n".encode(),
                       "text/plain; charset=utf-8", head)
            return False
        path = urlsplit(self.path).path
        if len(path.encode()) > MAX_PATH_BYTES or any(
                len(unquote(p).encode("utf-8", "surrogateescape")) > MAX_SEGMENT_BYTES for p in path.split("/")):
            self._send(HTTPStatus.REQUEST_URI_TOO_LONG, b"path too long\n", "text/plain; charset=utf-8", head)
            return False
        return True

    def _same_origin(self) -> bool:
        """A state-changing request must come from this server's own pages, or from no page at
        all (curl, a script): browsers send Origin with every cross-site POST."""
        origin = self.headers.get("Origin")
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return False
        if origin is None:
            return True
        parts = urlsplit(origin)
        return parts.scheme == "http" and parts.port == self.dev.port and \
            allowed_host(parts.netloc, self.dev.host)

    def do_POST(self) -> None:
        if not self._allowed(head=False):
            return
        if urlsplit(self.path).path == PREFIX + "refresh":
            if not self._same_origin():
                self._send(HTTPStatus.FORBIDDEN, b"cross-origin requests may not refresh the odds\n",
                           "text/plain; charset=utf-8")
                return
            self.dev.refresh_odds()
            self._send(HTTPStatus.ACCEPTED, b"refreshing the odds; the pages reload when done\n",
                       "text/plain; charset=utf-8")
        else:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"", "text/plain")

    def _get(self, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path == EVENTS:
            if head:  # the stream's headers alone: a HEAD that streamed would never end
                self._send(HTTPStatus.OK, b"", "text/event-stream", head)
            else:
                self._events()
            return
        if path == PREFIX + "status":
            self._send(HTTPStatus.OK, json.dumps(self.dev.status()).encode(), "application/json", head)
            return
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
            self._send(HTTPStatus.BAD_REQUEST, b"bad path\n", "text/plain", head)
            return
        rel = "/".join(parts)
        target = self.dev.out / rel if rel else self.dev.out
        if path.endswith("/") or not rel:
            rel = f"{rel}/index.html" if rel else "index.html"
        elif _is_dir(target):
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            # From the path's own parts, quoted again: an encoded slash (/%2F%2Fhost) never
            # makes the redirect one to another host (//host/).
            self.send_header("Location", "/" + "/".join(quote(p) for p in parts) + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        generation = self.dev.generation
        is_page = rel.endswith(".html")
        if is_page and self.dev.problems:
            page = self.dev.inject(self.dev.error_page(), generation)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, page, "text/html; charset=utf-8", head)
            return
        fh = self._open(rel)
        if fh is not None and not is_page:
            with fh:
                self._send_file(fh, content_type(rel), head)
            return
        status, data = HTTPStatus.OK, self._read(fh)
        if data is None:
            status, rel, data = HTTPStatus.NOT_FOUND, "404.html", self._read(self._open("404.html"))
            if data is None:
                data = b"<!doctype html><title>Not found</title><h1>Not found</h1>"
        self._send(status, self.dev.inject(data, generation), content_type(rel), head)

    def _send_file(self, fh: BinaryIO, kind: str, head: bool) -> None:
        """A file of the site's own (audio, video, a PDF), or the part of it a browser asks
        for (not when it sends If-Range: this server gives no validator to compare it with),
        sent from the file a piece at a time: none is held whole in memory."""
        size = os.fstat(fh.fileno()).st_size
        part = byte_range(self.headers.get("Range"), size) if "If-Range" not in self.headers else None
        if part == UNSATISFIABLE:
            self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", kind, head,
                       {"Content-Range": f"bytes */{size}"})
            return
        status, (start, end), more = HTTPStatus.OK, (0, size - 1), {"Accept-Ranges": "bytes"}
        if part is not None:
            status, (start, end) = HTTPStatus.PARTIAL_CONTENT, part
            more = {"Content-Range": f"bytes {start}-{end}/{size}", **more}
        self._send(status, b"", kind, True, more, length=end + 1 - start)
        if head:
            return
        fh.seek(start)
        left = end + 1 - start
        while left > 0:
            chunk = fh.read(min(left, SEND_CHUNK))
            if not chunk:  # cut short since it was opened: the client sees the connection end early
                self.close_connection = True
                return
            self.wfile.write(chunk)
            left -= len(chunk)

    def _open(self, rel: str) -> BinaryIO | None:
        """A file of the built site, as of one build: opened while no build is swapping files."""
        try:
            with self.dev.swap:
                return open(self.dev.out / rel, "rb")  # noqa: SIM115 - read after the lock is released
        except OSError:  # not there, a folder, a name too long: none is a file of the site
            return None

    @staticmethod
    def _read(fh: BinaryIO | None) -> bytes | None:
        """What `_open` opened, whole (None: it found no file, or the file cannot be read)."""
        if fh is None:
            return None
        try:
            with fh:
                return fh.read()
        except OSError:  # a read error: no page of the site to send
            return None

    def _send(self, status: int, data: bytes, kind: str, head: bool = False,
              more: dict[str, str] | None = None, length: int | None = None) -> None:
        """A response: `data`, or, with `head`, its headers alone (`length`: the body's
        length when the caller sends it itself)."""
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.send_header("Cache-Control", "no-store")
        for name, value in (more or {}).items():
            self.send_header(name, value)
        for name, value in self.dev.headers.items():
            if name.lower() == "content-security-policy" and kind.startswith("text/html"):
                value = dev_policy(value, data)
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _events(self) -> None:
        """Server-Sent Events: `hello` with the current build, then one event per build."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        generation = self.dev.generation
        try:
            self.wfile.write(f"retry: 500\nevent: hello\ndata: {generation}\n\n".encode())
            self.wfile.flush()
            while not self.dev.stopping:
                news = self.dev.wait_for_event(generation, KEEPALIVE_S)
                if news is None:
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    generation, event = news
                    self.wfile.write(f"event: {event}\ndata: {generation}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away


def allowed_host(host: str, bound: str) -> bool:
    """Whether a Host header (name and optional port) names this server: a loopback name, an
    IP address (DNS rebinding needs a name), or the host the server was bound to."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    name = name.rstrip(".")
    if name in ("localhost", bound.lower().strip("[]")) or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


_INLINE = re.compile(rb"<(script|style)\b[^>]*>(.*?)</\1>", re.S | re.I)


def dev_policy(policy: str, page: bytes) -> str:
    """The site's Content-Security-Policy, opened just enough for what this server adds to a
    page: its reload script (by hash), the event stream it listens to, and the error page's
    inline styles (by hash). Nothing an article could write gets through."""
    hashes: dict[bytes, list[str]] = {b"script": [], b"style": []}
    for m in _INLINE.finditer(page):
        if m.group(1).lower() == b"script" and b"data-marketnews-dev" not in m.group(0)[:60]:
            continue  # only the server's own script
        digest = base64.b64encode(hashlib.sha256(m.group(2)).digest()).decode()
        hashes[m.group(1).lower()].append(f"'sha256-{digest}'")
    parts = [p.strip() for p in policy.split(";") if p.strip()]
    names = [p.split()[0] for p in parts]
    for directive, extra in (("script-src", hashes[b"script"]), ("style-src", hashes[b"style"]),
                             ("connect-src", ["'self'"] if hashes[b"script"] else [])):
        if not extra:
            continue
        if directive in names:
            i = names.index(directive)
            parts[i] = " ".join([parts[i]] + [e for e in extra if e not in parts[i].split()])
        else:
            parts.append(" ".join([directive] + extra))
    return "; ".join(parts)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(server: DevServer, interactive: bool = False) -> None:
    """Run `server` until Ctrl-C (or SIGTERM). With `interactive`, a line on stdin ("r")
    refreshes the odds."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly as on Ctrl-C: the temporary folder goes
    server.start()
    server.log(f"serving {server.url} (drafts and future articles included, labelled); Ctrl-C stops")
    if interactive:
        server.log("press r and Enter to refresh the odds")

        def keys() -> None:
            for line in sys.stdin:
                if line.strip().lower() in ("r", "refresh"):
                    server.log("refreshing the odds…")
                    server.refresh_odds()

        threading.Thread(target=keys, name="marketnews-keys", daemon=True).start()
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()

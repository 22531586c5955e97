"""The dev server over real HTTP: files change on disk, the event stream says so, pages follow."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from marketnews import devserver
from marketnews.devserver import UNSATISFIABLE, DevServer, byte_range
from marketnews.markets.snapshots import snapshot_from_file
from marketnews.pipeline import SitePaths
from tests.conftest import NOW_EPOCH, REPO, Run, Site, article, quote
from tests.devclient import Events, get, save

GUARD_S = 20.0  # failure guard only: nothing here waits this long when things work


def clock() -> datetime:
    return datetime.fromtimestamp(NOW_EPOCH, tz=UTC)


STORY = "2026/11/nato-deadline/index.html"


@pytest.fixture
def served(site: Site, tmp_path: Path) -> Iterator[Callable[..., DevServer]]:
    """Start a DevServer on port 0 for the `site`; stopped after the test."""
    started: list[DevServer] = []
    site.snapshot({"nato-2027": quote("Will NATO meet the 2027 deadline?", 0.31)})
    site.write("content/nato-deadline.md", article("NATO deadline looms", markets=["nato-2027"], tags=["nato"]))
    site.write("content/older.md", article("An older story", date="2026-11-19T08:00:00Z", tags=["nato"]))

    def start(settle: float = 0.05) -> DevServer:
        paths = SitePaths(root=site.root, content=site.root / "content", out=site.root / "public",
                          cache=tmp_path / "cache")
        logged: list[str] = []
        server = DevServer(paths, snapshot_from_file(site.root / "snapshot.json"), clock, port=0, settle=settle,
                           log=logged.append)
        server.logged = logged  # type: ignore[attr-defined]
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def edit(site: Site, rel: str, text: str) -> None:
    save(site.root / rel, text)


def test_a_save_reloads_the_page_and_serves_the_new_version(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    status, _, page = get(server.url + STORY)
    assert status == 200 and "NATO deadline looms" in page
    events = Events(server.url)
    assert events.next() == ("hello", "0")
    edit(site, "content/nato-deadline.md",
         article("NATO deadline draws near", markets=["nato-2027"], tags=["nato"], body="A new paragraph."))
    assert events.next() == ("reload", "1")
    for url in (STORY, "", "tags/nato/", "markets/nato-2027/"):
        status, _, page = get(server.url + url)
        assert status == 200 and "NATO deadline draws near" in page and "NATO deadline looms" not in page, url
    assert "A new paragraph." in get(server.url + STORY)[2]
    events.close()


def reloads_until(events: Events, done: Callable[[], bool]) -> None:
    """Read reload events until `done()`: where a test saves two files for one rebuild, a
    pause of this process between the saves can make it two, and the test asserts on
    where they end (Events gives up after its timeout, and this after as long in all)."""
    deadline = time.monotonic() + events.timeout
    while True:
        assert events.next()[0] == "reload"
        if done():
            return
        assert time.monotonic() < deadline, f"reloads for {events.timeout:.0f} s, and still not done"


def test_a_broken_file_shows_the_error_and_the_next_good_save_recovers(
    site: Site, served: Callable[..., DevServer]
) -> None:
    server = served(settle=1.0)  # the two files below are saved within it: one build, as a rule
    events = Events(server.url)
    events.next()
    site.write("content/nato-deadline.md", '---\ntitle: "NATO deadline looms"\ndate: tomorrow\n---\nBody.\n')
    site.write("content/older.md", "---\ntitle: [unclosed\n---\nBody.\n")
    reloads_until(events, lambda: all(any(name in p for p in server.problems) for name in ("deadline", "older")))
    for url in (STORY, "", "tags/nato/"):
        status, kind, page = get(server.url + url)
        assert status == 500 and kind.startswith("text/html")
        assert "Build failed" in page and "EventSource" in page  # it reloads itself when fixed
        assert "content/nato-deadline.md:3: date: expected an ISO 8601 date" in page
        assert "content/older.md:2: malformed YAML" in page
    assert get(server.url + "css/site.css")[0] == 200  # assets are still served
    assert any("content/older.md:2" in line for line in server.logged)  # type: ignore[attr-defined]

    site.write("content/nato-deadline.md", article("NATO deadline, fixed", markets=["nato-2027"], tags=["nato"]))
    site.write("content/older.md", article("An older story", date="2026-11-19T08:00:00Z", tags=["nato"]))
    reloads_until(events, lambda: not server.problems)
    status, _, page = get(server.url + STORY)
    assert status == 200 and "NATO deadline, fixed" in page and "Build failed" not in page
    events.close()


def test_a_template_error_names_the_layout_and_line(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    events = Events(server.url)
    events.next()
    layout = site.root / "layouts/article.html"
    good = layout.read_text()
    layout.write_text(good.replace("{{ a.title }}</h1>", "{{ a.headline }}</h1>"))
    assert events.next()[0] == "reload"
    status, _, page = get(server.url + STORY)
    assert status == 500 and re.search(r"layouts/article\.html:\d+: template error", page)
    layout.write_text(good)
    assert events.next()[0] == "reload"
    assert get(server.url + STORY)[0] == 200
    # Two layouts that do not parse: both shown, as the build command says them, not only
    # the first a page rendered.
    partial_ = site.root / "layouts/partials/odds_key.html"
    partial_.write_text("ok\n{{ oops }\n")
    layout.write_text(good.replace("{{ a.title }}</h1>", "{{ a.title }</h1>"))
    reloads_until(events, lambda: len(server.problems) == 2)
    status, _, page = get(server.url + STORY)
    assert status == 500 and re.search(r"layouts/article\.html:\d+: template error", page)
    assert "layouts/partials/odds_key.html:2: template error" in page


def test_a_burst_of_saves_makes_one_rebuild(site: Site, served: Callable[..., DevServer]) -> None:
    # The burst takes some 0.1 s, yet with a 0.3 s quiet time CI once saw two rebuilds: a
    # pause of this process between two saves (a collection late in a long suite, a busy
    # machine) can outlast that. A second's quiet time leaves such a pause room.
    server = served(settle=1.0)
    events = Events(server.url)
    events.next()
    for i in range(5):  # an editor's save twice over: temp file and rename, then a plain write
        edit(site, "content/nato-deadline.md", article(f"Draft {i}", markets=["nato-2027"], tags=["nato"]))
        site.write("content/nato-deadline.md", article(f"Save {i}", markets=["nato-2027"], tags=["nato"]))
        time.sleep(0.01)
    assert events.next() == ("reload", "1")
    time.sleep(2.0)  # time enough for a second rebuild, were one coming
    assert (server.builds, server.generation) == (1, 1)
    assert "Save 4" in get(server.url + STORY)[2]


def test_new_deleted_and_renamed_articles_are_picked_up(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    events = Events(server.url)
    events.next()
    site.write("content/breaking.md", article("Breaking: a new story", date="2026-11-21T12:00:00Z", tags=["nato"]))
    events.next()
    front = get(server.url)[2]
    assert "Breaking: a new story" in front
    assert front.index("Breaking: a new story") < front.index("NATO deadline looms")  # newest first
    assert get(server.url + "2026/11/breaking/")[0] == 200

    os.replace(site.root / "content/breaking.md", site.root / "content/renamed.md")
    events.next()
    assert get(server.url + "2026/11/breaking/")[0] == 404
    assert "Breaking: a new story" in get(server.url + "2026/11/renamed/")[2]

    (site.root / "content/renamed.md").unlink()
    events.next()
    assert get(server.url + "2026/11/renamed/")[0] == 404
    assert "Breaking: a new story" not in get(server.url)[2]
    assert "Breaking: a new story" not in get(server.url + "tags/nato/")[2]


def test_a_folder_of_articles_moved_in_and_out(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    events = Events(server.url)
    events.next()
    outside = site.root / "drafts"
    outside.mkdir()
    (outside / "deep.md").write_text(article("From a folder"), encoding="utf-8")
    os.replace(outside, site.root / "content/folder")
    events.next()
    assert "From a folder" in get(server.url)[2]
    os.replace(site.root / "content/folder", outside)
    events.next()
    assert "From a folder" not in get(server.url)[2]


def test_drafts_and_future_articles_are_shown_and_labelled(site: Site, served: Callable[..., DevServer]) -> None:
    site.write("content/draft.md", article("A draft story", date="2026-11-21T10:00:00Z", draft=True))
    site.write("content/later.md", article("A scheduled story", date="2026-12-01T10:00:00Z"))
    server = served()
    front = get(server.url)[2]
    assert "A draft story" in front and "A scheduled story" in front
    assert "label--draft" in front and "label--future" in front
    assert "Draft: not published" in get(server.url + "2026/11/draft/")[2]
    assert "Scheduled for" in get(server.url + "2026/12/later/")[2]


def test_http_basics(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    status, kind, page = get(server.url)
    assert (status, kind) == (200, "text/html; charset=utf-8") and "<!doctype html>" in page
    assert get(server.url + "css/site.css")[1] == "text/css; charset=utf-8"
    assert get(server.url + "snapshot.json")[1] == "application/json; charset=utf-8"
    assert get(server.url + "feed.xml")[1].startswith("application/atom+xml")
    status, kind, page = get(server.url + "no/such/page/")
    assert status == 404 and "Page not found" in page and "EventSource" in page
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD_S)
    conn.request("GET", "/tags")
    r = conn.getresponse()
    assert (r.status, r.getheader("Location")) == (301, "/tags/")
    conn.close()
    # An encoded slash does not make the folder's redirect one to another host ("//tags/").
    for path, location in (("/%2F%2Ftags", "/tags/"), ("/%2F/tags", "/tags/"), ("/tags/%C3%BC%20x", None)):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD_S)
        conn.request("GET", path)
        r = conn.getresponse()
        assert (r.status, r.getheader("Location")) == ((301, location) if location else (404, None)), path
        conn.close()
    # HEAD on the event stream: its headers, and the response ends.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD_S)
    conn.request("HEAD", "/__marketnews/events")
    r = conn.getresponse()
    assert (r.status, r.getheader("Content-Type"), r.read()) == (200, "text/event-stream", b"")
    conn.close()
    for bad in ("/../site.yaml", "/%2e%2e/site.yaml", "/css/../../site.yaml"):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD_S)
        conn.request("GET", bad)
        assert conn.getresponse().status in (400, 404)
        conn.close()


def test_byte_ranges_are_read_as_http_says() -> None:
    size = 100
    assert byte_range(None, size) is None
    assert byte_range("bytes=0-9", size) == (0, 9)
    assert byte_range("bytes=90-", size) == (90, 99)
    assert byte_range("bytes=-10", size) == (90, 99)
    assert byte_range("bytes=-500", size) == (0, 99)  # more than there is: all of it
    assert byte_range("bytes=95-500", size) == (95, 99)  # past the end: up to it
    assert byte_range("bytes=100-", size) == UNSATISFIABLE
    assert byte_range("bytes=-0", size) == UNSATISFIABLE
    assert byte_range("bytes=0-", 0) == UNSATISFIABLE
    assert byte_range("bytes=-5", 0) is None  # the last bytes of an empty file: the whole (empty) file
    assert byte_range("Bytes=0-0", size) == (0, 0)  # the unit's case does not matter
    assert byte_range("bytes=0-" + "9" * 5000, size) == (0, 99)  # a number too long for int()
    assert byte_range("bytes=" + "9" * 5000 + "-", size) == UNSATISFIABLE
    # Headers that cannot be read, and several ranges, are ignored: the whole file is sent.
    for header in ("bytes=9-0", "bytes=-", "items=0-9", "bytes=0-9,20-29", "bytes=a-b", "0-9"):
        assert byte_range(header, size) is None, header


def test_a_file_of_the_site_is_sent_in_parts_when_asked(site: Site, served: Callable[..., DevServer]) -> None:
    # A browser asks for parts of audio and video (and seeks in them that way); the server
    # once sent the whole file with 200, and Safari will not play a video served so.
    data = bytes(range(256)) * 40
    (site.root / "static/media").mkdir()
    (site.root / "static/media/clip.mp4").write_bytes(data)
    server = served()

    def ask(path: str, headers: dict[str, str], method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD_S)
        conn.request(method, path, headers=headers)
        r = conn.getresponse()
        answer = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        conn.close()
        return answer

    status, headers, body = ask("/media/clip.mp4", {"Range": "bytes=100-199"})
    assert (status, body) == (206, data[100:200])
    assert headers["content-range"] == f"bytes 100-199/{len(data)}" and headers["content-length"] == "100"
    assert headers["content-type"] == "video/mp4" and headers["accept-ranges"] == "bytes"
    status, headers, body = ask("/media/clip.mp4", {"Range": "bytes=-16"})
    size = len(data)
    assert (status, body, headers["content-range"]) == (206, data[-16:], f"bytes {size - 16}-{size - 1}/{size}")
    status, headers, body = ask("/media/clip.mp4", {"Range": f"bytes={len(data)}-"})
    assert (status, body, headers["content-range"]) == (416, b"", f"bytes */{len(data)}")
    status, headers, body = ask("/media/clip.mp4", {"Range": "bytes=0-9"}, "HEAD")
    assert (status, body, headers["content-length"]) == (206, b"", "10")
    # No Range, several ranges, or an If-Range this server cannot check: the whole file.
    for asked in ({}, {"Range": "bytes=0-9,20-29"}, {"Range": "bytes=0-9", "If-Range": '"v1"'}):
        status, headers, body = ask("/media/clip.mp4", asked)
        assert (status, body, headers["accept-ranges"]) == (200, data, "bytes"), asked
    # Pages are sent whole: the server adds its script to them.
    status, headers, body = ask("/", {"Range": "bytes=0-9"})
    assert status == 200 and b"EventSource" in body and "content-range" not in headers


def test_a_large_file_of_the_site_is_sent_a_piece_at_a_time(site: Site, served: Callable[..., DevServer],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # A video of a few hundred MB was read whole into memory for every request, a range of
    # ten bytes included. Now a file is read a piece at a time, and only the part asked for.
    data = bytes(range(251)) * 400  # 100,400 bytes, no piece of it like another
    (site.root / "static/media").mkdir()
    (site.root / "static/media/talk.webm").write_bytes(data)
    monkeypatch.setattr(devserver, "SEND_CHUNK", 4096)
    reads: list[int] = []
    real_open = open

    class Counted:  # the file the server opens, with each read's size noted
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def read(self, n: int = -1) -> bytes:
            reads.append(n)
            return cast(bytes, self.fh.read(n))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.fh, name)

        def __enter__(self) -> Counted:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

    monkeypatch.setattr(devserver, "open", lambda *a, **k: Counted(real_open(*a, **k)), raising=False)
    server = served()

    def ask(headers: dict[str, str]) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD_S)
        conn.request("GET", "/media/talk.webm", headers=headers)
        r = conn.getresponse()
        answer = (r.status, r.read())
        conn.close()
        return answer

    assert ask({}) == (200, data)
    assert reads and max(reads) == 4096 and -1 not in reads
    reads.clear()
    assert ask({"Range": "bytes=50000-50009"}) == (206, data[50000:50010])
    assert reads == [10]


def test_a_stylesheet_change_swaps_styles_without_a_reload(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    events = Events(server.url)
    events.next()
    css = site.root / "static/css/site.css"
    css.write_text(css.read_text() + "\n.test-marker { color: red }\n")
    assert events.next() == ("css", "1")
    assert ".test-marker" in get(server.url + "css/site.css")[2]


def test_the_odds_are_taken_once_and_refreshed_on_demand(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    assert "31%" in get(server.url + STORY)[2]
    events = Events(server.url)
    events.next()
    site.snapshot({"nato-2027": quote("Will NATO meet the 2027 deadline?", 0.64)})
    edit(site, "content/older.md", article("An older story, edited", date="2026-11-19T08:00:00Z", tags=["nato"]))
    events.next()
    assert "31%" in get(server.url + STORY)[2]  # a save does not fetch odds again
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD_S)
    conn.request("POST", "/__marketnews/refresh")
    assert conn.getresponse().status == 202
    conn.close()
    assert events.next()[0] == "reload"
    page = get(server.url + STORY)[2]
    assert "64%" in page and "31%" not in page
    assert json.loads(get(server.url + "__marketnews/status")[2])["problems"] == []


def test_served_pages_carry_the_script_but_no_file_on_disk_does(
    site: Site, served: Callable[..., DevServer], cli: Callable[..., Run]
) -> None:
    server = served()
    assert "/__marketnews/events" in get(server.url)[2]
    on_disk = [p for p in server.out.rglob("*") if p.is_file() and b"__marketnews" in p.read_bytes()]
    assert on_disk == []
    assert cli("build", "--root", site.root).code == 0
    built = [p for p in site.out.rglob("*") if p.is_file()]
    assert built and not [p for p in built if b"__marketnews" in p.read_bytes() or b"EventSource" in p.read_bytes()]


def test_ctrl_c_stops_cleanly(site: Site, tmp_path: Path) -> None:
    site.snapshot({})
    site.write("content/one.md", article("One"))
    env = dict(os.environ, PYTHONPATH=str(REPO), MARKETNEWS_CACHE=str(tmp_path / "cache"), TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketnews", "serve", "--root", str(site.root), "--port", "0",
         "--snapshot", str(site.root / "snapshot.json")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("serving "):
                break
        url = re.search(r"http://\S+/", lines[-1])
        assert url, lines
        assert get(url.group(0))[0] == 200
        assert list(tmp_path.glob("marketnews-serve-*"))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=GUARD_S)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "Traceback" not in err and "stopped" in err
    assert not list(tmp_path.glob("marketnews-serve-*"))  # the private output folder is gone


def raw_request(server: DevServer, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """(status, headers) of one request sent as written: http.client would add its own Host."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD_S)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}


def test_only_this_servers_host_names_are_answered(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    port = server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", f"app.localhost:{port}",
                 f"192.168.1.20:{port}"):
        assert raw_request(server, "GET", "/", {"Host": host})[0] == 200, host
    for host in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}", f"127.0.0.1.nip.io:{port}"):
        assert raw_request(server, "GET", "/", {"Host": host})[0] == 421, host
        assert raw_request(server, "GET", "/__marketnews/status", {"Host": host})[0] == 421, host
        assert raw_request(server, "POST", "/__marketnews/refresh", {"Host": host})[0] == 421, host


def test_a_cross_origin_post_may_not_refresh_the_odds(site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    host = {"Host": f"127.0.0.1:{server.port}"}
    for bad in ({"Origin": "https://evil.example"}, {"Origin": f"http://evil.example:{server.port}"},
                {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://127.0.0.1:1"}):
        assert raw_request(server, "POST", "/__marketnews/refresh", {**host, **bad})[0] == 403, bad
    assert server.builds == 0
    site.snapshot({"nato-2027": quote("Will NATO meet the 2027 deadline?", 0.64)})
    events = Events(server.url)
    events.next()
    assert raw_request(server, "POST", "/__marketnews/refresh",
                       {**host, "Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"})[0] == 202
    assert events.next()[0] == "reload"
    assert "64%" in get(server.url + STORY)[2]
    assert raw_request(server, "POST", "/__marketnews/refresh", host)[0] == 202  # curl sends no Origin


def test_a_path_too_long_for_a_file_is_an_http_error_not_a_dropped_connection(
        site: Site, served: Callable[..., DevServer]) -> None:
    server = served()
    for path in ("/" + "a" * 256, "/tags/" + "b" * 300 + "/", "/" + "%C3%A9" * 128 + "/", "/a/" * 2000):
        status, _ = raw_request(server, "GET", path, {"Host": f"127.0.0.1:{server.port}"})
        assert status == 414, path
    assert raw_request(server, "GET", "/" + "a" * 255, {"Host": f"127.0.0.1:{server.port}"})[0] == 404


def test_pages_carry_the_sites_security_headers_opened_only_for_the_servers_own_script(
        site: Site, served: Callable[..., DevServer]) -> None:
    import base64
    import hashlib

    from marketnews.devserver import RELOAD_SCRIPT
    from marketnews.headers import DEFAULT_HEADERS, netlify_headers

    assert netlify_headers(REPO / "netlify.toml") == DEFAULT_HEADERS  # one set of headers, the same for both
    (site.root / "netlify.toml").write_text((REPO / "netlify.toml").read_text())
    server = served()
    status, headers = raw_request(server, "GET", "/snapshot.json", {"Host": f"127.0.0.1:{server.port}"})
    assert status == 200
    for name, value in DEFAULT_HEADERS.items():
        assert headers[name.lower()] == value
    status, headers = raw_request(server, "GET", "/", {"Host": f"127.0.0.1:{server.port}"})
    assert status == 200
    csp = headers["content-security-policy"]
    script = (RELOAD_SCRIPT % (server.generation, "/__marketnews/events")).split(">", 1)[1].rsplit("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and csp.startswith("default-src 'none'; style-src 'self';")
    for name in ("x-frame-options", "x-content-type-options", "referrer-policy", "permissions-policy"):
        assert headers[name] == DEFAULT_HEADERS[{k.lower(): k for k in DEFAULT_HEADERS}[name]]


def test_links_that_come_and_go_leave_every_other_watch_in_place(
        site: Site, served: Callable[..., DevServer]) -> None:
    # Forgetting a link once ended watches still needed: the site folder's own, when the
    # link led to a file there, and a linked file's folder when the file was deleted and
    # made again (as a checkout does), after which its edits were never seen.
    site.write("notes.txt", "one")
    (site.root / "static/notes.txt").symlink_to("../notes.txt")
    site.write("drafts/a.md", article("A, first", tags=["nato"]))
    site.write("drafts/b.md", article("B, first", tags=["nato"]))
    (site.root / "content/a.md").symlink_to("../drafts/a.md")
    (site.root / "content/b.md").symlink_to("../drafts/b.md")
    server = served()
    events = Events(server.url)
    events.next()
    assert get(server.url + "notes.txt")[2] == "one"
    (site.root / "static/notes.txt").unlink()
    reloads_until(events, lambda: get(server.url + "notes.txt")[0] == 404)
    site.write("site.yaml", (site.root / "site.yaml").read_text().replace("title:", "title: Renamed", 1))
    reloads_until(events, lambda: "Renamed" in get(server.url)[2])
    (site.root / "drafts/a.md").unlink()
    reloads_until(events, lambda: bool(server.problems))  # a link to nothing
    site.write("drafts/a.md", article("A, back", tags=["nato"]))
    reloads_until(events, lambda: "A, back" in get(server.url + "2026/11/a/index.html")[2])
    (site.root / "content/b.md").unlink()  # one of two links into drafts/: the folder stays watched
    reloads_until(events, lambda: get(server.url + "2026/11/b/index.html")[0] == 404)
    site.write("drafts/a.md", article("A, edited", tags=["nato"]))
    reloads_until(events, lambda: "A, edited" in get(server.url + "2026/11/a/index.html")[2])
    events.close()


NAMES = ("notes.txt", "report.tmp", "#1.txt", "site.css~", "#site.css#", "notes.swp", "4913", ".hidden")


def test_the_dev_server_watches_exactly_the_files_a_build_reads_and_publishes(
        site: Site, served: Callable[..., DevServer], cli: Callable[..., Run]) -> None:
    # Once the server ignored names (`#1-story.md`, `report.tmp`) that a build reads or
    # publishes: its pages never showed them, and differed from the build's for good.
    for name in NAMES:
        site.write(f"static/{name}", name)
    site.write("content/#1-story.md", article("Number one", tags=["nato"]))
    site.write("content/#autosave.md#", article("An autosave"))
    site.write("content/story.md~", article("A backup"))
    assert cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json").code == 0
    published = {name for name in NAMES if (site.out / name).exists()}
    assert published == {"notes.txt", "report.tmp", "#1.txt"}
    assert (site.out / "2026/11/1-story/index.html").is_file()
    assert "An autosave" not in (site.out / "index.html").read_text() and "A backup" not in \
        (site.out / "index.html").read_text()
    server = served()
    assert {name for name in NAMES if server.relevant(site.root / "static" / name)} == published
    assert [name for name in ("#1-story.md", "#autosave.md#", "story.md~")
            if server.relevant(site.root / "content" / name)] == ["#1-story.md"]


def test_a_site_folder_removed_and_put_back_is_watched_again(site: Site, served: Callable[..., DevServer]) -> None:
    # As a checkout of another branch, or a copy put back, does: the server once kept
    # watching the folder that was gone, and never saw the new one or its edits.
    server = served()
    events = Events(server.url)
    events.next()
    content = site.root / "content"
    content.rename(site.root / "content-away")
    reloads_until(events, lambda: any("content folder not found" in p for p in server.problems))
    shutil.copytree(site.root / "content-away", content)
    reloads_until(events, lambda: not server.problems)
    assert get(server.url + STORY)[0] == 200
    site.write("content/nato-deadline.md", article("NATO deadline, in the new folder", markets=["nato-2027"],
                                                   tags=["nato"]))
    reloads_until(events, lambda: "NATO deadline, in the new folder" in get(server.url + STORY)[2])
    # static/ removed, then made again while the server runs, is watched again too.
    shutil.rmtree(site.root / "static")
    reloads_until(events, lambda: get(server.url + "css/site.css")[0] == 404)
    shutil.copytree(REPO / "static", site.root / "static")
    site.write("static/late.txt", "one")
    reloads_until(events, lambda: get(server.url + "late.txt")[2] == "one")
    site.write("static/late.txt", "two")
    reloads_until(events, lambda: get(server.url + "late.txt")[2] == "two")
    events.close()


def test_an_edit_to_a_file_an_article_or_a_static_file_links_to_is_seen(
        site: Site, served: Callable[..., DevServer]) -> None:
    # A link inside the site folder is read by a build; the server once watched only the
    # link, so an edit to the file it leads to never showed.
    site.write("drafts/linked.md", article("Linked, first", tags=["nato"]))
    (site.root / "content/linked.md").symlink_to("../drafts/linked.md")
    site.write("shared/note.txt", "one")
    (site.root / "static/note.txt").symlink_to("../shared/note.txt")
    server = served()
    events = Events(server.url)
    events.next()
    assert "Linked, first" in get(server.url + "2026/11/linked/index.html")[2]
    assert get(server.url + "note.txt")[2] == "one"
    site.write("drafts/linked.md", article("Linked, edited", tags=["nato"]))
    reloads_until(events, lambda: "Linked, edited" in get(server.url + "2026/11/linked/index.html")[2])
    site.write("shared/note.txt", "two")
    reloads_until(events, lambda: get(server.url + "note.txt")[2] == "two")
    # A link made while the server runs is followed as well.
    site.write("drafts/later.md", article("Later, first"))
    (site.root / "content/later.md").symlink_to("../drafts/later.md")
    reloads_until(events, lambda: get(server.url + "2026/11/later/index.html")[0] == 200)
    site.write("drafts/later.md", article("Later, edited"))
    reloads_until(events, lambda: "Later, edited" in get(server.url + "2026/11/later/index.html")[2])
    # A link removed, or led elsewhere, is forgotten: an edit to its old file changes nothing.
    # (The server once kept every link it had followed, and rebuilt for edits to their files.)
    (site.root / "content/later.md").unlink()
    reloads_until(events, lambda: get(server.url + "2026/11/later/index.html")[0] == 404)
    (site.root / "static/note.txt").unlink()
    (site.root / "static/note.txt").symlink_to("../drafts/linked.md")
    reloads_until(events, lambda: "Linked, edited" in get(server.url + "note.txt")[2])
    old_targets = [(site.root / "drafts/later.md").resolve(), (site.root / "shared/note.txt").resolve()]
    assert not set(old_targets) & set(server._link_targets.values())
    assert (site.root / "shared").resolve() not in server._link_folders
    builds = server.builds
    server.changed(old_targets)
    with server._cond:
        assert server._pending == set()
    assert server.builds == builds
    # A folder holding a followed link, moved out of the site in one step (one event, for
    # the folder): the link in it is forgotten too.
    (site.root / "content/sub").mkdir()
    (site.root / "content/sub/deep.md").symlink_to("../../drafts/later.md")
    reloads_until(events, lambda: (site.root / "content/sub/deep.md") in server._link_targets)
    (site.root / "content/sub").rename(site.root / "moved-out")
    reloads_until(events, lambda: (site.root / "content/sub/deep.md") not in server._link_targets)
    events.close()

"""A browser's side of the dev server, for its tests and bench/serve_bench.py: the event
stream, GETs, and saving a file the way editors do."""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TIMEOUT_S = 60.0  # a failure guard: nothing waits this long when things work


class Events:
    """A Server-Sent Events client over a real connection: `next()` -> (event, data)."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S):
        self.timeout = timeout
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        self.conn.request("GET", "/__marketnews/events")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream"

    def next(self) -> tuple[str, str]:
        """The next event; fails after `timeout` without one (the server's keep-alive lines,
        which arrive every few seconds, do not count: a test waiting for a reload that never
        comes fails rather than hangs)."""
        event, data = "message", ""
        deadline = time.monotonic() + self.timeout
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"no event in {self.timeout:.0f} s")
            line = self.response.readline().decode("utf-8")
            if not line:
                raise AssertionError("the event stream closed")
            line = line.rstrip("\n")
            if line == "" and data:
                return event, data
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]

    def close(self) -> None:
        self.conn.close()


def get(url: str, timeout: float = TIMEOUT_S) -> tuple[int, str, str]:
    """(status, content type, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers["Content-Type"], r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode("utf-8")


def save(path: Path, text: str) -> None:
    """Save like an editor does: write a temporary file beside the target, then rename it."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

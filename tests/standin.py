"""A local stand-in for Polymarket's Gamma and CLOB read APIs, for tests and benchmarks.

Serves, on 127.0.0.1 with a free port, from a real threaded HTTP server:
  GET /markets?slug=..&slug=..[&closed=true|false]   like Gamma, with its trap: no
      `closed` parameter means `closed=false`, so closed markets are left out;
  GET /events?slug=..[&closed=..]                    no `closed`: every event;
  GET /prices-history?market=TOKEN&(interval=1w|startTs=..&endTs=..)&fidelity=MINUTES
      (see `StandIn.history`: the parameters as the CLOB documents them)
  GET /snapshot.json                                 `site_snapshot`, when set (a live site)
  GET /_stats                                        request counts so far, by path (not logged)
Data: the recorded responses in tests/fixtures/gamma (see its README for where each came from) and
variants built from them. Faults can be queued per path prefix (see `Fault`), every
request is logged and counted, and `latency_s` delays each answer (for benchmarks).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gamma"  # recorded Gamma responses

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>cf</body></html>"
)


def fixture(name: str) -> dict[str, Any]:
    """One recorded Gamma object, e.g. fixture("market-binary-open")."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def squad_event(closed: bool = False, winner: int | None = None) -> dict[str, Any]:
    """A multi-outcome (neg-risk) event built from the recorded member market and its event.

    Members "0", "1", "2", "3+" (thresholds 0..3) priced 0.15, 0.275, 0.40, 0.175;
    `winner` (an index) makes that member resolved Yes and the others resolved No.
    """
    member = fixture("market-negrisk-member-open")
    event = copy.deepcopy(member["events"][0])
    del member["events"]
    prices = [0.15, 0.275, 0.40, 0.175]
    markets = []
    for i, (title, price) in enumerate(zip(["0", "1", "2", "3+"], prices, strict=True)):
        m = copy.deepcopy(member)
        m["id"] = str(500660 + i)
        m["slug"] = f"squad-primaries-{i}"
        m["question"] = f"Will {title} members of The Squad lose their primary?"
        m["groupItemTitle"] = title
        m["groupItemThreshold"] = str(i)
        m["clobTokenIds"] = json.dumps([f"9{i}001", f"9{i}002"])
        if winner is not None:
            price = 1.0 if i == winner else 0.0
            m["closed"] = True
        m["outcomePrices"] = json.dumps([str(price), str(round(1 - price, 6))])
        markets.append(m)
    event["markets"] = markets
    event["closed"] = closed or winner is not None
    return event


def synthetic_market(i: int, closed: bool = False) -> dict[str, Any]:
    """Market number i, shaped like the recorded open binary market."""
    m = fixture("market-binary-open")
    price = round(0.05 + (i * 37 % 90) / 100, 3)
    m["id"] = str(900000 + i)
    m["slug"] = f"bench-market-{i:05d}-will-this-synthetic-thing-happen-by-2027"
    m["question"] = f"Will synthetic thing #{i} happen by 2027?"
    m["outcomePrices"] = json.dumps([str(price), str(round(1 - price, 4))])
    m["bestBid"], m["bestAsk"] = round(price - 0.005, 4), round(price + 0.005, 4)
    m["clobTokenIds"] = json.dumps([f"{i}1", f"{i}2"])
    m["closed"] = closed
    return m


def market_slug(raw: dict[str, Any]) -> str:
    return str(raw["slug"])


@dataclass
class Fault:
    """A misbehaviour for requests whose path starts with `path`.

    kind: "500" | "503" | "429" (with `retry_after`) | "403" (Cloudflare HTML) |
          "hang" (sleep `hang_s` before answering) | "html" (200 with an HTML page) |
          "garbage" (200 with a JSON object, not a list) | "partial" (half the results) |
          "drop" (close the connection without answering).
    times: how many matching requests it hits; None for all of them.
    """

    kind: str
    path: str = ""
    times: int | None = 1
    retry_after: str | None = None
    hang_s: float = 3.0


class StandIn:
    def __init__(
        self,
        markets: Iterable[dict[str, Any]] = (),
        events: Iterable[dict[str, Any]] = (),
        *,
        latency_s: float = 0.0,
        max_url: int = 8192,
        now_ts: int = 1_763_740_800,
        history_days: int = 30,
    ):
        self.markets = {market_slug(m): m for m in markets}
        self.events = {market_slug(e): e for e in events}
        self.histories: dict[str, list[dict[str, float]]] = {}
        self.synthetic_histories = True
        self.history_days = history_days  # how far back the made-up histories go
        self.asked: list[tuple[str, int, int, int]] = []  # each history asked: (token, start, end, fidelity)
        self.site_snapshot: bytes | None = None  # served at /snapshot.json, like a built site
        self.latency_s, self.max_url, self.now_ts = latency_s, max_url, now_ts
        self.faults: list[Fault] = []
        self.log: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fault(self, kind: str, path: str = "", times: int | None = 1, **kw: Any) -> None:
        with self._lock:
            self.faults.append(Fault(kind, path, times, **kw))

    def count(self, path: str = "") -> int:
        with self._lock:
            return sum(1 for line in self.log if line.startswith(path))

    def requests(self, path: str = "") -> list[str]:
        with self._lock:
            return [line for line in self.log if line.startswith(path)]

    def start(self) -> StandIn:
        standin = self

        class Handler(_Handler):
            owner = standin

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour --------------------------------------------------------------------

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if path.startswith(f.path) and (f.times is None or f.times > 0):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

    def list_answer(
        self,
        table: dict[str, dict[str, Any]],
        query: dict[str, list[str]],
        closed_default: str | None,
    ) -> list[dict[str, Any]]:
        closed = query.get("closed", [closed_default])[-1]
        out = []
        for slug in query.get("slug", []):
            item = table.get(slug)
            if item is None:
                continue
            if closed is not None and bool(item.get("closed")) != (closed == "true"):
                continue
            out.append(item)
        return out

    def closed_tokens(self) -> set[str]:
        """The CLOB tokens of closed markets (own or inside an event): no history finer than 12 hours."""
        markets = list(self.markets.values())
        markets += [m for e in self.events.values() for m in e.get("markets", []) if isinstance(m, dict)]
        out: set[str] = set()
        for m in markets:
            if m.get("closed"):
                tokens = m.get("clobTokenIds")
                out.update(json.loads(tokens) if isinstance(tokens, str) else tokens or [])
        return out

    def history(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """(status, body) of /prices-history, as the CLOB documents its parameters:
        `interval` is a span ending now (1h 6h 1d 1w 1m max all), mutually exclusive with
        `startTs`/`endTs` (unix seconds, inclusive); `fidelity` is minutes per point
        (default 1). A closed market's token answers nothing below 12-hour fidelity."""
        token = query.get("market", [""])[0]
        interval = query.get("interval", [None])[0]
        ranged = "startTs" in query or "endTs" in query
        if not token or (interval is not None and ranged):
            return 400, {"error": "market is required; interval and startTs/endTs are mutually exclusive"}
        try:
            fidelity = int(query.get("fidelity", ["1"])[0])
            if interval is not None:
                spans = {"1h": 3600, "6h": 6 * 3600, "1d": 86400, "1w": 7 * 86400, "1m": 30 * 86400}
                if interval not in spans and interval not in ("max", "all"):
                    raise ValueError(interval)
                start, end = self.now_ts - spans.get(interval, self.now_ts), self.now_ts
            else:
                start = int(query.get("startTs", ["0"])[0])
                end = int(query.get("endTs", [str(self.now_ts)])[0])
        except ValueError:
            return 400, {"error": "bad parameter"}
        if fidelity < 1:
            return 400, {"error": "bad fidelity"}
        with self._lock:
            self.asked.append((token, start, end, fidelity))
        if fidelity < 720 and token in self.closed_tokens():
            return 200, {"history": []}
        step = fidelity * 60
        points = self.histories.get(token)
        if points is not None:  # one point per fidelity bucket: the first in it
            buckets: dict[int, dict[str, float]] = {}
            for pt in points:
                if start <= pt["t"] <= end:
                    buckets.setdefault(int(pt["t"]) // step, pt)
            return 200, {"history": [buckets[b] for b in sorted(buckets)]}
        if not self.synthetic_histories:
            return 200, {"history": []}
        # An hourly price made up from the token, over the last `history_days`, sampled
        # every `fidelity` minutes (on multiples of it), only for the range asked.
        seed, first = sum(map(ord, token)), self.now_ts - self.history_days * 86400
        lo = max(start, first)
        lo += -lo % step
        return 200, {"history": [
            {"t": t, "p": round(0.2 + ((seed + t // 3600) % 50) / 100, 3)}
            for t in range(lo, min(end, self.now_ts) + 1, step)
        ]}


class _Handler(BaseHTTPRequestHandler):
    owner: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def send(
        self,
        status: int,
        body: bytes,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (e.g. after a read timeout)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        owner = self.owner
        if self.path != "/_stats":
            with owner._lock:
                owner.log.append(self.path)
        if owner.latency_s:
            time.sleep(owner.latency_s)
        if len(self.path) > owner.max_url:
            self.send(414, b"<html><body>414 Request-URI Too Large</body></html>", "text/html")
            return
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        fault = owner.take_fault(parts.path)
        kind = fault.kind if fault else ""
        if kind in ("500", "503"):
            self.send(int(kind), b'{"error": "internal"}')
            return
        if kind == "429":
            headers = {"Retry-After": fault.retry_after} if fault and fault.retry_after else {}
            self.send(429, b'{"error": "too many requests"}', headers=headers)
            return
        if kind == "403":
            self.send(403, HTML_PAGE, "text/html")
            return
        if kind == "html":
            self.send(200, HTML_PAGE, "text/html")
            return
        if kind == "garbage":
            self.send(200, b'{"error": "slug is required", "data": null}')
            return
        if kind == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if kind == "hang" and fault:
            owner._stopping.wait(fault.hang_s)
        body: Any
        if parts.path == "/markets":
            body = owner.list_answer(owner.markets, query, "false")
        elif parts.path == "/events":
            body = owner.list_answer(owner.events, query, None)
        elif parts.path == "/prices-history":
            status, body = owner.history(query)
            if status != 200:
                self.send(status, json.dumps(body).encode())
                return
        elif parts.path == "/_stats":  # request counts, for a stand-in in another process
            paths = ("/markets", "/events", "/prices-history", "/snapshot.json")
            self.send(200, json.dumps({p: owner.count(p) for p in paths} | {"": owner.count()}).encode())
            return
        elif parts.path == "/snapshot.json" and owner.site_snapshot is not None:
            self.send(200, owner.site_snapshot)
            return
        else:
            self.send(404, b'{"error": "not found"}')
            return
        if kind == "partial" and isinstance(body, list):
            body = body[: len(body) // 2]
        self.send(200, json.dumps(body).encode())

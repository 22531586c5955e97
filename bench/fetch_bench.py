"""Benchmark: live odds for an archive from the local stand-in, cold cache then the next hourly build.

Serves M synthetic markets (shaped like the recorded Gamma market) from tests/standin.py
on 127.0.0.1 with added latency per request, in a process of its own (as a remote API
would be: it does not share this process's interpreter lock), writes a site of N
articles that reference them (4 markets an article, one article an hour going back, so
10,000 articles reach 14 months into the past and every market is cited across all of
it), and builds it twice with the real httpx client and the default request policies
and rate limits:
  cold    no cache: every quote, every 7-day history, the price at every article's date
  hourly  one hour later, with the cache the cold build left
For each it prints requests made (Gamma / CLOB), fetch time (the build's odds stage)
and total build time. Network: loopback only. Run:
  python bench/fetch_bench.py [--articles 10000] [--markets 2000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.connection
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from marketnews.markets.snapshots import LiveOptions, live_snapshot_source  # noqa: E402
from marketnews.pipeline import BuildOptions, SitePaths, build  # noqa: E402
from tests.standin import StandIn, synthetic_market  # noqa: E402

NOW = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
PER_ARTICLE = 4


def write_site(root: Path, slugs: list[str], articles: int) -> SitePaths:
    content = root / "content"
    content.mkdir(parents=True)
    for layout in ("layouts", "static"):
        shutil.copytree(REPO / layout, root / layout)
    (root / "site.yaml").write_text("title: Bench\nbase_url: http://127.0.0.1:9\n")
    for n in range(articles):
        date = NOW - timedelta(hours=1 + n)
        cited = [slugs[(n * PER_ARTICLE + k) % len(slugs)] for k in range(PER_ARTICLE)]
        refs = "\n".join(f"  - {s}" for s in cited)
        (content / f"story-{n:05d}.md").write_text(
            f'---\ntitle: "Story {n}"\ndate: {date:%Y-%m-%dT%H:%M:%SZ}\nmarkets:\n{refs}\n---\n'
            f"Story {n} about markets, with *some* text.\n\n```market\n{cited[0]}\n```\n",
            encoding="utf-8",
        )
    return SitePaths(root=root, content=content, out=root / "public", cache=root / ".cache")


def serve(markets: int, latency_s: float, days: int, conn: multiprocessing.connection.Connection) -> None:
    """The child process: serve the stand-in until the parent says stop."""
    with StandIn([synthetic_market(i) for i in range(markets)], latency_s=latency_s,
                 now_ts=int((NOW + timedelta(hours=1)).timestamp()), history_days=days) as server:
        conn.send(server.url)
        conn.recv()


def stats(client: httpx.Client, url: str) -> dict[str, int]:
    counts: dict[str, int] = json.loads(client.get(f"{url}/_stats").text)
    return counts


def run(paths: SitePaths, url: str, now: datetime, label: str) -> None:
    live = LiveOptions(gamma_url=url, clob_url=url)
    with httpx.Client(limits=httpx.Limits(max_connections=16, max_keepalive_connections=16)) as client:
        before = stats(client, url)
        started, cpu = time.perf_counter(), time.process_time()
        report = build(paths, BuildOptions(), now, live_snapshot_source(paths, client, live))
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        after = stats(client, url)
    d = {k: after[k] - before[k] for k in after}
    print(
        f"{label:6}  requests {d['']:5} (gamma {d['/markets'] + d['/events']}, clob {d['/prices-history']})  "
        f"fetch {report.timings['snapshot']:6.2f} s  build {total:6.2f} s ({cpu:.1f} s CPU here)  "
        f"stale {report.stale}  | {report.snapshot_note}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--markets", type=int, default=2000)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    args = ap.parse_args()
    slugs = [str(synthetic_market(i)["slug"]) for i in range(args.markets)]
    parent, child = multiprocessing.Pipe()
    days = args.articles // 24 + 30  # every market trades from before its first article
    server = multiprocessing.Process(target=serve, args=(args.markets, args.latency_ms / 1000, days, child),
                                     daemon=True)
    server.start()
    try:
        url = parent.recv()
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_site(Path(tmp) / "site", slugs, args.articles)
            print(f"{args.markets} markets, {args.articles} articles ({PER_ARTICLE} markets each, one an hour "
                  f"back to {NOW - timedelta(hours=args.articles):%Y-%m-%d}), {args.latency_ms:g} ms added per request")
            run(paths, url, NOW, "cold")
            run(paths, url, NOW + timedelta(hours=1), "hourly")
    finally:
        parent.send("stop")
        server.join(timeout=10)


if __name__ == "__main__":
    main()

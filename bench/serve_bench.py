"""Benchmark: save an article -> the browser has the new page, through `marketnews serve`.

    python3 bench/serve_bench.py --articles 1000 --markets 300
    python3 bench/serve_bench.py --articles 10000 --markets 2000 --edits 12

Generates the corpus (bench/corpus.py), starts `marketnews serve` on it in a subprocess
(port 0, odds from the corpus snapshot), listens to its event stream as a browser's
reload script does, and then, for each edit: saves an article the way editors do (a
temporary file renamed over it) with a new title and a new paragraph, waits for the
reload event, and fetches the article's page over HTTP, checking it has the edit.
Prints per edit: save -> reload event, save -> page fetched, and the server's own
rebuild time; then the median and worst of each. The first edit is included.

--profile runs the server in this process instead and prints where the rebuilds
spent their time (cProfile, the builder thread only).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))
from corpus import TAKEN_AT, corpus_arguments, generated  # noqa: E402

from tests.devclient import Events, get, save  # noqa: E402

NOW_EPOCH = int(TAKEN_AT.timestamp()) + 3600


def edited(text: str, n: int) -> str:
    """A new title and a new last paragraph: the page, its list item and the lists showing it change."""
    text = re.sub(r'^title: "Benchmark story (\d+)(?: \(edit \d+\))?:', rf'title: "Benchmark story \1 (edit {n}):',
                  text, count=1, flags=re.M)
    return text.rstrip("\n") + f"\n\nServe benchmark edit number {n}.\n"


def start_subprocess(root: Path) -> tuple[subprocess.Popen[str], str, int, list[str]]:
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(NOW_EPOCH), MARKETNEWS_CACHE=str(root / ".cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketnews", "serve", "--root", str(root), "--port", "0",
         "--snapshot", str(root / "snapshot.json")],
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )
    assert proc.stderr is not None
    log: list[str] = []
    for line in proc.stderr:
        log.append(line.rstrip())
        print(f"  server: {line.rstrip()}")
        m = re.match(r"serving http://([^:/]+):(\d+)/", line)
        if m:
            threading.Thread(target=lambda: log.extend(x.rstrip() for x in proc.stderr or ()), daemon=True).start()
            return proc, m.group(1), int(m.group(2)), log
    raise SystemExit("the server did not start:\n" + "\n".join(log))


def start_in_process(root: Path) -> tuple[Any, str, int, list[str], pstats.Stats | None]:
    sys.path.insert(0, str(REPO))
    from marketnews.devserver import DevServer
    from marketnews.markets.snapshots import snapshot_from_file
    from marketnews.pipeline import SitePaths

    log: list[str] = []
    paths = SitePaths(root, root / "content", root / "public", root / ".cache")
    server = DevServer(paths, snapshot_from_file(root / "snapshot.json"),
                       lambda: datetime.fromtimestamp(NOW_EPOCH, tz=UTC), port=0, log=log.append)
    server.start()
    stats: dict[str, pstats.Stats] = {}
    rebuild = server._rebuild

    def profiled(*args: Any, **kwargs: Any) -> None:
        profile = cProfile.Profile()
        profile.enable()
        try:
            rebuild(*args, **kwargs)
        finally:
            profile.disable()
            if "all" in stats:
                stats["all"].add(profile)
            else:
                stats["all"] = pstats.Stats(profile)

    server._rebuild = profiled  # type: ignore[method-assign]
    server.profile_stats = stats  # type: ignore[attr-defined]
    return server, "127.0.0.1", server.port, log, None


def main() -> None:
    ap = corpus_arguments(__doc__)
    ap.add_argument("--edits", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="reuse the corpus if it is already there")
    ap.add_argument("--profile", action="store_true", help="run the server in this process and profile rebuilds")
    args = ap.parse_args()

    root = (args.dir / f"serve-{args.articles}").resolve()
    content = root / "content"
    if not (args.keep and content.is_dir() and len(list(content.glob("*.md"))) == args.articles):
        generated(root, args)
    originals = {p: p.read_text(encoding="utf-8") for p in sorted(content.glob("*.md"))}

    t0 = time.perf_counter()
    proc = server = None
    if args.profile:
        server, host, port, log, _ = start_in_process(root)
    else:
        proc, host, port, log = start_subprocess(root)
    print(f"server up in {time.perf_counter() - t0:.1f} s (first build included)")

    base = f"http://{host}:{port}"
    events = Events(base)
    assert events.next()[0] == "hello"
    files = list(originals)
    rows: list[tuple[float, float, float | None, float | None]] = []
    try:
        for n in range(1, args.edits + 1):
            path = files[(n * 7919) % len(files)]  # spread over the site: front page and far back
            stem = path.stem
            url = get(base + "/sitemap.xml")[2]
            m = re.search(rf"<loc>[^<]*?(/\d{{4}}/\d{{2}}/{stem}/)</loc>", url)
            assert m, stem
            page = m.group(1)
            time.sleep(0.3)  # let the previous edit settle completely
            logged = len(log)
            start = time.perf_counter()
            save(path, edited(originals[path], n))
            event = events.next()
            got_event = time.perf_counter()
            body = get(base + page)[2]
            got_page = time.perf_counter()
            if event[0] != "reload" or f"edit number {n}." not in body:
                raise SystemExit(f"edit {n}: got {event}, page without the edit")
            time.sleep(0.05)
            found = next((x for line in log[logged:] if (x := re.search(r"rebuilt in (\d+) ms, (\d+) ms CPU", line))),
                         None)
            built, cpu = (float(found.group(1)), float(found.group(2))) if found else (None, None)
            rows.append(((got_event - start) * 1000, (got_page - start) * 1000, built, cpu))
            print(f"edit {n:2d} {stem}: reload event {rows[-1][0]:6.1f} ms, page {rows[-1][1]:6.1f} ms"
                  + (f" (server rebuild {built:.0f} ms, {cpu:.0f} ms CPU)" if found else ""))
    finally:
        for path, text in originals.items():
            if path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if server is not None:
            server.stop()

    events_ms = [r[0] for r in rows]
    pages_ms = [r[1] for r in rows]
    builds_ms = [r[2] for r in rows if r[2] is not None]
    cpu_ms = [r[3] for r in rows if r[3] is not None]
    print(f"\n{args.articles:,} articles, {len(rows)} edits; save -> page in the browser:")
    print(f"  reload event   median {statistics.median(events_ms):6.1f} ms, worst {max(events_ms):6.1f} ms")
    print(f"  page fetched   median {statistics.median(pages_ms):6.1f} ms, worst {max(pages_ms):6.1f} ms")
    if builds_ms:
        print(f"  server rebuild median {statistics.median(builds_ms):6.1f} ms, worst {max(builds_ms):6.1f} ms "
              f"(after the 50 ms settle); CPU median {statistics.median(cpu_ms):.1f} ms, worst {max(cpu_ms):.1f} ms")
    if server is not None and "all" in server.profile_stats:
        print("\nwhere the rebuilds spent their time (cumulative):")
        server.profile_stats["all"].sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()

"""The least a cold build of an N-article site can cost here, whatever marketnews does around it.

    python3 bench/floor.py --articles 10000 --markets 2000

Measures, one process, CPU seconds (user + system):
  markdown    markdown-it-py parsing and rendering every body: bare ("commonmark"
              preset) and as marketnews configures it (tables, footnotes, typographer,
              the ```market fence); where markdown-it-pyrs is installed (the `fast`
              extra), the same for it: bare, and markup_fast's whole path (what a
              build with the extra spends, checks and normalising included)
  yaml        PyYAML loading every frontmatter with its C loader
  files       writing the site's output (every file of a marketnews build of the
              corpus, from memory) into a new folder: folders, files, bytes
Then what an hourly build's writing costs at least, with wall time: every file of that
folder written again, (a) as a new file under a temporary name renamed over the old one,
(b) over the old file's own blocks (what marketnews does with the spare tree's files),
(c) the same with the files dropped from the kernel's page cache first (as an hour later
on a machine short of memory), and (d) that, with the end of each file asked for first
(what marketnews does: writer.Stager.ahead).
The sum, halved for two cores, is a floor for the wall time of a cold build on this
machine, before any page is rendered from a template and before any process is
started or any result passed between processes.

Last, each Markdown path's cost per article on the corpus and on the example site's
articles (content/): both have quotes, apostrophes, dashes and characters outside ASCII
(the corpus since 5 December 2026), which the fast path's smart quotes and checks pay for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from markdown_it import MarkdownIt

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from build_bench import build_command  # noqa: E402
from corpus import corpus_arguments, make_site  # noqa: E402

from marketnews import markup, markup_fast  # noqa: E402
from marketnews.content import split_frontmatter  # noqa: E402
from marketnews.markup import markdown  # noqa: E402
from marketnews.readahead import readahead  # noqa: E402
from marketnews.writer import TAIL  # noqa: E402


def cpu(run: Callable[[], object]) -> float:
    before = os.times()
    run()
    after = os.times()
    return (after.user - before.user) + (after.system - before.system)


def write_all(files: list[tuple[str, bytes]], out: Path) -> None:
    made: set[str] = set()
    for path, data in files:
        folder = os.path.dirname(os.path.join(out, path))
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        with open(os.path.join(out, path), "wb") as fh:
            fh.write(data)


def rewrite_renamed(files: list[tuple[str, bytes]], out: Path) -> None:
    for path, data in files:
        target = os.path.join(out, path)
        with open(target + ".tmp", "wb") as fh:
            fh.write(data)
        os.replace(target + ".tmp", target)


def rewrite_over(files: list[tuple[str, bytes]], out: Path) -> None:
    for path, data in files:
        fd = os.open(os.path.join(out, path), os.O_WRONLY)
        try:
            os.write(fd, data)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)


def drop(files: list[tuple[str, bytes]], out: Path) -> None:
    """Each file written back to the disk and its pages dropped from the page cache."""
    os.sync()
    for path, _ in files:
        fd = os.open(os.path.join(out, path), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def rewrite_over_asked(files: list[tuple[str, bytes]], out: Path) -> None:
    readahead((os.path.join(out, path) for path, _ in files), tail=TAIL)
    rewrite_over(files, out)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    start = time.perf_counter()
    spent = cpu(run)
    return time.perf_counter() - start, spent


def main() -> None:
    ap = corpus_arguments(__doc__)
    args = ap.parse_args()
    root = make_site(args.dir / f"floor-{args.articles}", args.articles, args.markets)
    cmd, env = build_command(root, root / "snapshot.json", None)
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    out = root / "public"
    files = sorted((p.relative_to(out).as_posix(), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    parts = []
    for p in sorted((root / "content").glob("*.md")):
        split = split_frontmatter(p.read_text(encoding="utf-8"))
        assert split is not None
        parts.append(split[:2])
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    bare, ours = MarkdownIt("commonmark"), markdown()
    costs = {
        "markdown, bare": cpu(lambda: [bare.render(body) for _, body in parts]),
        "markdown, as configured": cpu(lambda: [ours.render(body) for _, body in parts]),
        "yaml": cpu(lambda: [yaml.load(front, Loader=loader) for front, _ in parts]),
    }
    if markup_fast.AVAILABLE:
        rust = markup_fast._rust.MarkdownIt("commonmark")
        costs["markdown-it-pyrs, bare"] = cpu(lambda: [rust.render(body) for _, body in parts])
        costs["markdown-it-pyrs, ours"] = cpu(
            lambda: [markup_fast.render(body, False, markup.widget_block) for _, body in parts])
        declined = sum(markup_fast.render(body, False, markup.widget_block) is None for _, body in parts)
        print(f"markdown-it-pyrs declined {declined} of {len(parts)} bodies")
    copy = root / "floor-copy"
    for run in (1, 2):
        shutil.rmtree(copy, ignore_errors=True)
        os.sync()
        time.sleep(1)
        costs[f"files, run {run}"] = cpu(lambda: write_all(files, copy))
    rewrites = {}
    for run in (1, 2):
        for label, how in (("renamed over", rewrite_renamed), ("written over", rewrite_over)):
            os.sync()
            rewrites[f"rewrite, {label}, run {run}"] = timed(lambda how=how: how(files, copy))  # type: ignore[misc]
    for run in (1, 2):
        for label, how in (("over, out of cache", rewrite_over), ("over, ends asked for", rewrite_over_asked)):
            drop(files, copy)
            rewrites[f"rewrite, {label}, run {run}"] = timed(lambda how=how: how(files, copy))  # type: ignore[misc]
    shutil.rmtree(copy, ignore_errors=True)
    size = sum(len(data) for _, data in files) / 1e6
    print(f"{args.articles:,} articles, {args.markets:,} markets: {len(files):,} output files, {size:.0f} MB")
    for label, seconds in costs.items():
        print(f"  {label:24s} {seconds:6.2f} s CPU")
    for label, (wall, seconds) in rewrites.items():
        print(f"  {label:38s} {wall:6.2f} s wall, {seconds:6.2f} s CPU")
    lowest = sum(min(costs[a], costs[b]) for a, b in (("markdown, bare", "markdown, as configured"),
                                                      ("files, run 1", "files, run 2"))) + costs["yaml"]
    print(f"  floor on 2 cores (the faster Markdown and file runs): {lowest / 2:.2f} s wall")
    if markup_fast.AVAILABLE:
        fast = lowest - min(costs["markdown, bare"], costs["markdown, as configured"]) + costs["markdown-it-pyrs, ours"]
        print(f"  the same with markdown-it-pyrs as marketnews runs it: {fast / 2:.2f} s wall")
    example = Path(__file__).resolve().parents[1] / "content"
    texts = [split[1] for p in sorted(example.glob("*.md"))
             if (split := split_frontmatter(p.read_text(encoding="utf-8"))) is not None]
    for label, bodies in (("the corpus", [body for _, body in parts]), ("the example site", texts)):
        print(f"  per article, {label} ({len(bodies)} bodies, {sum(map(len, bodies)) // len(bodies):,} characters"
              " on average), best of 5 passes:")
        for name, render in per_article(bodies).items():
            print(f"    {name:30s} {render:7.1f} us")


def per_article(bodies: list[str]) -> dict[str, float]:
    """Microseconds an article for each Markdown path, the best of 5 passes over `bodies`."""
    paths: dict[str, Callable[[str], object]] = {"markdown-it-py, as configured": markdown().render}
    if markup_fast.AVAILABLE:
        paths["markdown-it-pyrs, bare"] = markup_fast._rust.MarkdownIt("commonmark").render
        paths["markdown-it-pyrs, ours"] = lambda body: markup_fast.render(body, False, markup.widget_block)
    passes = max(1, 2000 // len(bodies))
    found = {}
    for name, render in paths.items():
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(passes):
                for body in bodies:
                    render(body)
            best = min(best, time.perf_counter() - start)
        found[name] = best / (passes * len(bodies)) * 1e6
    return found


if __name__ == "__main__":
    main()

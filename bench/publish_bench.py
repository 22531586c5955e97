"""Benchmark: what publishing the whole site at once costs. Prints times and disk use.

    python3 bench/publish_bench.py --articles 10000 --markets 2000 --baseline /path/to/other/checkout

Makes the corpus once, builds it cold, then runs, in turns, the hourly build (every
price moved) and the no-op build (nothing changed) with this checkout's marketnews and,
with --baseline, another checkout's (e.g. one from before the whole-tree switch), each
into its own output and cache folders. Each build is a fresh `marketnews build`
process; its wall and CPU time (all processes) are printed. Then the disk the output
folder and the spare tree beside it take, counting a hard-linked file once.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import as_installed, measured  # noqa: E402
from corpus import TAKEN_AT, corpus_arguments, generated, write_snapshot  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def command(code: Path, root: Path, out: Path, cache: Path) -> tuple[list[str], dict[str, str]]:
    env = dict(as_installed(code), SOURCE_DATE_EPOCH=str(int(TAKEN_AT.timestamp()) + 3600), MARKETNEWS_CACHE=str(cache),
               PYTHONPATH=str(code))
    # -P: the checkout on PYTHONPATH runs, not a marketnews in the folder the bench was started from.
    cmd = [sys.executable, "-P", "-m", "marketnews", "build", "--root", str(root), "--snapshot",
           str(root / "snapshot.json"), "--out", str(out), "--quiet"]
    return cmd, env


def disk_mb(*folders: Path) -> tuple[int, float]:
    """(files, MB) under `folders`, each inode counted once."""
    seen: set[tuple[int, int]] = set()
    files, blocks = 0, 0
    for folder in folders:
        for base, dirs, names in os.walk(folder):
            for name in dirs + names:
                st = os.lstat(os.path.join(base, name))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    blocks += st.st_blocks
                    files += name in names
    return files, blocks * 512 / 1e6


def main() -> None:
    ap = corpus_arguments(__doc__)
    ap.add_argument("--baseline", type=Path, help="another checkout of marketnews to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    root = args.dir / f"site-{args.articles}"
    generated(root, args)
    codes = {"this": REPO} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    work = args.dir.resolve() / "publish"
    for label, code in codes.items():
        wall, _, cpu = measured(*command(code, root, work / f"{label}-out", work / f"{label}-cache"))
        print(f"{'cold':>6} {label:>8}: {wall:6.2f} s wall, {cpu:6.2f} s CPU", flush=True)
    for n in range(args.rounds):
        write_snapshot(root / "snapshot.json", args.markets, seed=2 + n, taken_at=TAKEN_AT + timedelta(hours=1))
        for run in ("hourly", "noop"):
            for label, code in codes.items():
                wall, _, cpu = measured(*command(code, root, work / f"{label}-out", work / f"{label}-cache"))
                print(f"{run:>6} {label:>8}: {wall:6.2f} s wall, {cpu:6.2f} s CPU", flush=True)
    out = work / "this-out"
    files, mb = disk_mb(out)
    both_files, both_mb = disk_mb(out, out.parent / f".marketnews-{out.name}")
    print(f"output folder: {files:,} files, {mb:.0f} MB; with the spare tree: {both_files:,} files, "
          f"{both_mb:.0f} MB ({both_mb - mb:.0f} MB more)")


if __name__ == "__main__":
    main()

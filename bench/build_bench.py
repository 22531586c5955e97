"""Benchmark: cold build and hourly rebuild of an N-article site. Prints times and peak memory.

    python3 bench/build_bench.py --articles 1000 --markets 300
    python3 bench/build_bench.py --articles 10000 --markets 2000

Each build runs `marketnews build` in a fresh subprocess, so its wall time includes
interpreter start-up, and its peak memory (the largest resident set of the build
process or of any one worker, as the OS counts it; workers are forked and share the
parent's pages until they write them) and CPU time (all processes) are reported. On a
busy machine, CPU time is the steadier figure. Runs:
  cold    empty cache, empty output folder
  hourly  same articles, a new snapshot in which every price moved (the hourly CI build)
  noop    nothing changed at all
What the last run left is set aside, not removed, before the cold build (see Aside);
`--remove` removes it.
"""

from __future__ import annotations

import compileall
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import TAKEN_AT, corpus_arguments, generated, write_snapshot  # noqa: E402


def as_installed(code: Path) -> dict[str, str]:
    """The environment of a `marketnews` process run from the checkout `code` as an install
    runs it: its modules compiled to bytecode once, here (as pip does on installing, or the
    first import), and read from that bytecode, even where the bench's own shell sets
    PYTHONDONTWRITEBYTECODE (which would have each build compile the package's source
    again at start-up: about 0.15 s here, a twentieth of a 2,000-article build)."""
    compileall.compile_dir(code / "marketnews", quiet=1)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def build_command(root: Path, snapshot: Path, jobs: int | None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one `marketnews build` of root."""
    repo = Path(__file__).resolve().parents[1]
    env = dict(as_installed(repo), SOURCE_DATE_EPOCH=str(int(TAKEN_AT.timestamp()) + 3600),
               MARKETNEWS_CACHE=str(root / ".cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
    if jobs:
        env["MARKETNEWS_JOBS"] = str(jobs)
    # -P: the code on PYTHONPATH, not a marketnews in the folder the bench was started from.
    cmd = [sys.executable, "-P", "-m", "marketnews", "build", "--root", str(root), "--snapshot", str(snapshot),
           "--quiet"]
    return cmd, env


def timed_run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run cmd to completion: (wall s, peak RSS MB, CPU s) over this process's children.

    Call it in a process that has run nothing else (see `measured`), or the peak and the
    CPU time include whatever else that process waited for.
    """
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"build failed:\n{proc.stderr}{proc.stdout}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = corpus_arguments(__doc__, aside=True)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: the build's own choice)")
    args = ap.parse_args()
    root = args.dir / f"site-{args.articles}"
    with Aside(args.dir, args.remove) as aside:  # the last run's corpus and site, out of the cold build's way
        generated(root, args, aside=aside.put)
        snap = root / "snapshot.json"
        for label, prepare in (
            ("cold", lambda: None),
            ("hourly", lambda: write_snapshot(snap, args.markets, seed=2, taken_at=TAKEN_AT + timedelta(hours=1))),
            ("noop", lambda: None),
        ):
            prepare()
            report(label, *measured(*build_command(root, snap, args.jobs)))


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run one build from a throwaway parent so the peak memory belongs to this build alone."""
    here = str(Path(__file__).resolve().parent)
    code = (
        f"import sys, json; sys.path.insert(0, {here!r}); from build_bench import timed_run; "
        "print(json.dumps(timed_run(*json.load(sys.stdin))))"
    )
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps([cmd, env]), capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr)
    wall, peak, cpu = json.loads(out.stdout)
    return float(wall), float(peak), float(cpu)


def remove(*paths: Path) -> None:
    """Remove each of `paths` (a folder and all it holds) that exists."""
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


class Aside:
    """Where a bench puts what a build left before timing the next one: moved out of the
    way into a folder of its own in `base` (on the same file system), removed when the
    `with` block ends (a bench killed on its way leaves it behind).

    Removed at once instead, the thousands of files of the last build cost the next one
    several seconds of CPU: when ext4 gives out inodes for new files and folders it skips
    those freed in the last minute or more (the kernel's `recently_deleted`: on this
    machine, 15-20% of the CPU of a 10,000-article cold build right after the removal of
    the last one's output, under `perf`). A cold build on a fresh machine, or in a fresh
    CI container, never pays that; both sides of a comparison are spared it alike, and the
    corpus made again at the start goes aside too. The bench's own removal at the end
    costs a bench started within minutes of it the same way. `remove=True` removes at
    once, as the bench scripts did before 4 December 2026."""

    def __init__(self, base: Path, remove: bool = False) -> None:
        self.base, self.remove, self._n = base, remove, itertools.count()
        self.folder: Path | None = None

    def __enter__(self) -> Aside:
        if not self.remove:
            self.base.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=".set-aside-", dir=self.base))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            remove(self.folder)

    def put(self, *paths: Path) -> None:
        if self.folder is None:
            remove(*paths)
            return
        for path in paths:
            if path.exists():
                os.rename(path, self.folder / str(next(self._n)))


def report(label: str, wall: float, peak: float, cpu: float) -> None:
    print(f"{label:>7}: {wall:6.2f} s wall, {cpu:6.2f} s CPU (all processes), peak RSS {peak:7.1f} MB")


if __name__ == "__main__":
    main()

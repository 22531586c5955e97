"""marketnews's cold, hourly and no-op builds against Hugo's full build of one corpus, in turns.

    python3 bench/versus_hugo.py --articles 10000 --markets 2000 --rounds 3

This machine's speed drifts by up to 2x within an hour, so figures taken minutes apart
compare badly. Here each round builds the same corpus (build_bench.py's, and the Hugo
site hugo_bench.py makes of it) with marketnews three times and with Hugo once, each in
a fresh process from a throwaway parent (build_bench.measured), alternating which of the
two goes first:
  cold    marketnews with an empty cache and an empty output folder
  hourly  the next build, a new snapshot in which every price moved
  hourly2 the build of the hour after (every price moved again): the steady state of a
          site rebuilt hourly into the same folder, where the build before last's files
          are there to be written over (see writer.Stager)
  noop    the build after that, nothing changed
  deploy  the hour after that as .github/workflows/deploy.yml runs it: only the cache
          folder kept from the last build (the runner starts without the output folder
          and its spare tree), every price moved again
  hugo    Hugo's full build (cold: no output, no file cache, --ignoreCache; a Hugo
          build renders every page whatever changed)
It prints every run, the medians, and each of ours as a ratio to Hugo's build of the
same round (wall time, and CPU time, the steadier figure on a busy machine), with peak
memory as a ratio to Hugo's peak.

What a build left is moved aside before a cold or deploy build, on both sides, and
removed when the bench is over (build_bench.Aside says why); `--remove` removes it at
once instead, as the script did before 4 December 2026.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import timedelta
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from build_bench import Aside, build_command, measured, report  # noqa: E402
from corpus import TAKEN_AT, corpus_arguments, write_snapshot  # noqa: E402
from hugo_bench import clear_hugo, corpora, hugo_command, hugo_or_exit  # noqa: E402

from marketnews.writer import state_folder  # noqa: E402

Run = tuple[float, float, float]  # wall s, peak RSS MB, CPU s


def main() -> None:
    ap = corpus_arguments(__doc__, aside=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    hugo = hugo_or_exit("versus_hugo")
    with Aside(args.dir, args.remove) as aside:
        compare(args, hugo, aside)


def compare(args: argparse.Namespace, hugo: str, aside: Aside) -> None:
    ours_root, hugo_root = corpora(args, aside)
    snap = ours_root / "snapshot.json"
    ours_cmd, ours_env = build_command(ours_root, snap, None)
    hugo_cmd = hugo_command(hugo, hugo_root) + ["--ignoreCache"]

    def ours(n: int) -> dict[str, Run]:
        aside.put(ours_root / "public", ours_root / ".cache")
        found = {"cold": measured(ours_cmd, ours_env)}
        # Every price moved: a snapshot of another seed than the last build's.
        write_snapshot(snap, args.markets, seed=2 + n, taken_at=TAKEN_AT + timedelta(hours=1))
        found["hourly"] = measured(ours_cmd, ours_env)
        write_snapshot(snap, args.markets, seed=102 + n, taken_at=TAKEN_AT + timedelta(hours=1))
        found["hourly2"] = measured(ours_cmd, ours_env)
        found["noop"] = measured(ours_cmd, ours_env)
        aside.put(ours_root / "public", state_folder(ours_root / "public"))
        write_snapshot(snap, args.markets, seed=202 + n, taken_at=TAKEN_AT + timedelta(hours=1))
        found["deploy"] = measured(ours_cmd, ours_env)
        return found

    def theirs(n: int) -> dict[str, Run]:
        clear_hugo(hugo_root, aside.put)
        return {"hugo": measured(hugo_cmd)}

    ours_names = ("cold", "hourly", "hourly2", "noop", "deploy")
    runs: dict[str, list[Run]] = {name: [] for name in (*ours_names, "hugo")}
    for n in range(args.rounds):
        order = [ours, theirs]
        for side in order if n % 2 == 0 else order[::-1]:
            for name, run in side(n).items():
                runs[name].append(run)
                report(name, *run)
    for name, results in runs.items():
        wall, peak, cpu = (statistics.median(r[i] for r in results) for i in range(3))
        report(f"{name} median", wall, peak, cpu)
    hugo_runs = runs["hugo"]
    for name in ours_names:
        for i, what in ((0, "wall time"), (2, "CPU time")):
            ratios = [o[i] / h[i] for o, h in zip(runs[name], hugo_runs, strict=True)]
            print(f"{name:>7} / Hugo, {what} by round: " + ", ".join(f"{r:.2f}" for r in ratios)
                  + f"  (median {statistics.median(ratios):.2f})")
    peaks = [max(runs[name][i][1] for name in ours_names) / h[1] for i, h in enumerate(hugo_runs)]
    print("peak memory of any of our builds / Hugo's, by round: " + ", ".join(f"{r:.2f}" for r in peaks))


if __name__ == "__main__":
    main()

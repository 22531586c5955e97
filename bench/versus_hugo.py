"""Cold builds of marketnews and Hugo on one corpus, taken in turns. Prints every run and the medians.

    python3 bench/versus_hugo.py --articles 10000 --markets 2000 --rounds 3

This machine's speed drifts by up to 2x within an hour, so figures taken minutes apart
compare badly. Here each round builds the same corpus (build_bench.py's, and the Hugo
site hugo_bench.py makes of it) cold with marketnews and then with Hugo, each in a
fresh process from a throwaway parent (build_bench.measured), alternating which goes
first; the medians and the per-round ratios are what to compare.
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import build_command, measured, report  # noqa: E402
from corpus import corpus_arguments, generated  # noqa: E402
from hugo_bench import clear_hugo, hugo_command, hugo_or_exit, make_hugo_site  # noqa: E402


def main() -> None:
    ap = corpus_arguments(__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    hugo = hugo_or_exit("versus_hugo")
    ours_root = generated(args.dir / f"site-{args.articles}", args)
    hugo_root = generated((args.dir / f"hugo-{args.articles}").resolve(), args, make_hugo_site)
    ours_cmd, ours_env = build_command(ours_root, ours_root / "snapshot.json", None)
    hugo_cmd = hugo_command(hugo, hugo_root) + ["--ignoreCache"]

    def ours() -> tuple[float, float, float]:
        for path in (ours_root / "public", ours_root / ".cache"):
            shutil.rmtree(path, ignore_errors=True)
        return measured(ours_cmd, ours_env)

    def theirs() -> tuple[float, float, float]:
        clear_hugo(hugo_root)
        return measured(hugo_cmd)

    runs: dict[str, list[tuple[float, float, float]]] = {"ours": [], "hugo": []}
    for n in range(args.rounds):
        order = [("ours", ours), ("hugo", theirs)]
        for name, run in order if n % 2 == 0 else order[::-1]:
            runs[name].append(run())
            report(name, *runs[name][-1])
    for name, results in runs.items():
        wall, peak, cpu = (statistics.median(r[i] for r in results) for i in range(3))
        report(f"{name} median", wall, peak, cpu)
    ratios = [o[0] / h[0] for o, h in zip(runs["ours"], runs["hugo"], strict=True)]
    print("wall time, ours / Hugo's, by round: " + ", ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()

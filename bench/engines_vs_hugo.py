"""Cold builds with each Markdown engine against Hugo on one corpus, in turns, with the budgets.

    python3 bench/engines_vs_hugo.py --articles 10000 --markets 2000 --rounds 3
    python3 bench/engines_vs_hugo.py --articles 2000 --markets 400 --rounds 5

Each round builds the same corpus cold (no output folder, no cache) three ways, each in a
fresh process from a throwaway parent (build_bench.measured), in an order that rotates
from round to round: marketnews with markdown-it-pyrs ("fast", the `fast` extra),
marketnews with markdown-it-py alone ("reference", MARKETNEWS_MARKDOWN=reference), and
Hugo on the site hugo_bench.py makes of the corpus. Prints every run, the medians, the
per-round ratios to Hugo (wall time, and CPU time, the steadier figure on a busy machine)
and the budgets of docs/markdown-engines.md:

    fast / Hugo wall      <= 0.6 (10,000 articles) or 0.8 (fewer)
    reference / Hugo wall <= 0.9 (10,000 articles)
    peak memory / Hugo's  <= 0.2

The machine's speed drifts, which is why the three take turns within a round: compare the
per-round ratios, not runs minutes apart. Run it under `flock /tmp/bench.lock` on a
shared machine. What a build left is moved aside before the next, on both sides, and
removed when the bench is over (build_bench.Aside says why); `--remove` removes it at
once instead, as the script did before 4 December 2026.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import Aside, build_command, measured, report  # noqa: E402
from corpus import corpus_arguments  # noqa: E402
from hugo_bench import clear_hugo, corpora, hugo_command, hugo_or_exit  # noqa: E402

Run = tuple[float, float, float]  # wall s, peak RSS MB, CPU s


def main() -> None:
    ap = corpus_arguments(__doc__, aside=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    hugo = hugo_or_exit("engines_vs_hugo")
    try:
        import markdown_it_pyrs  # noqa: F401
    except ImportError:
        sys.exit("engines_vs_hugo: markdown-it-pyrs is not installed: pip install -e '.[fast]'")
    with Aside(args.dir, args.remove) as aside:
        ours_root, hugo_root = corpora(args, aside)
        compare(args, hugo, ours_root, hugo_root, aside)


def compare(args: argparse.Namespace, hugo: str, ours_root: Path, hugo_root: Path, aside: Aside) -> None:
    cmd, env = build_command(ours_root, ours_root / "snapshot.json", None)
    reference_env = dict(env, MARKETNEWS_MARKDOWN="reference")
    fast_env = {k: v for k, v in env.items() if k != "MARKETNEWS_MARKDOWN"}
    hugo_cmd = hugo_command(hugo, hugo_root) + ["--ignoreCache"]

    def ours(environment: dict[str, str]) -> Callable[[], Run]:
        def run() -> Run:
            aside.put(ours_root / "public", ours_root / ".cache")
            return measured(cmd, environment)
        return run

    def theirs() -> Run:
        clear_hugo(hugo_root, aside.put)
        return measured(hugo_cmd)

    contenders: list[tuple[str, Callable[[], Run]]] = [
        ("fast", ours(fast_env)), ("reference", ours(reference_env)), ("hugo", theirs)]
    runs: dict[str, list[Run]] = {name: [] for name, _ in contenders}
    for n in range(args.rounds):
        k = n % len(contenders)
        for name, run in contenders[k:] + contenders[:k]:
            runs[name].append(run())
            report(name, *runs[name][-1])
    medians = {}
    for name, results in runs.items():
        medians[name] = tuple(statistics.median(r[i] for r in results) for i in range(3))
        report(f"{name} median", *medians[name])
    wall_budget = 0.6 if args.articles >= 10000 else 0.8
    for name, budget in (("fast", wall_budget), ("reference", 0.9 if args.articles >= 10000 else None)):
        # Wall time, which the budgets are set in, then CPU time (all processes): the steadier
        # figure on a busy machine, as versus_hugo.py prints it.
        for i, what, limit in ((0, "wall time", budget), (2, "CPU time", None)):
            ratios = [o[i] / h[i] for o, h in zip(runs[name], runs["hugo"], strict=True)]
            median = statistics.median(ratios)
            verdict = "" if limit is None else f" (budget {limit}: {'met' if median <= limit else 'NOT met'})"
            print(f"{what}, {name} / Hugo's, by round: " + ", ".join(f"{r:.2f}" for r in ratios)
                  + f"; median {median:.2f}{verdict}")
        peak = medians[name][1] / medians["hugo"][1]
        print(f"peak memory, {name} / Hugo's: {peak:.2f} (budget 0.2: {'met' if peak <= 0.2 else 'NOT met'})")


if __name__ == "__main__":
    main()

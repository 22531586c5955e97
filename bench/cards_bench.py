"""Benchmark: what share cards cost a build. Prints times and counts.

    python3 bench/cards_bench.py --articles 10000 --markets 2000 --rounds 2

Makes the corpus of bench/corpus.py (one article an hour, so 24 a day have cards for
each day of `card_days`) in two copies that differ only in site.yaml: `card_days: N`
(default 7) and `card_days: 0` (no article cards). Then:

  cold    each copy built from nothing (no cache, no output folder), in turns, `--rounds`
          times, alternating which goes first: wall and CPU time (all processes)
  hourly  the copy with cards built again an hour later with a snapshot in which one
          market in ten moved 5 points and the others are as they were (re-fetched: new
          `as_of`): the card files added and removed, against the cards whose shown odds
          moved (an article's card shows its first two markets)

Each build is `marketnews build` in a fresh process (see build_bench.py).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import build_command, measured  # noqa: E402
from corpus import TAKEN_AT, corpus_arguments, generated  # noqa: E402


def with_card_days(root: Path, days: int) -> None:
    config = root / "site.yaml"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("card_days:")]
    config.write_text("\n".join([*lines, f"card_days: {days}"]) + "\n")


def cold(root: Path) -> tuple[float, float]:
    for leftover in (root / ".cache", root / "public"):
        shutil.rmtree(leftover, ignore_errors=True)
    wall, _, cpu = measured(*build_command(root, root / "snapshot.json", None))
    return wall, cpu


def cards(root: Path) -> set[str]:
    """The articles' card files (the site's own card, drawn when site.yaml names no image, left out)."""
    folder = root / "public" / "cards"
    return {p.name for p in folder.iterdir() if not p.name.startswith("site-")} if folder.is_dir() else set()


def moved_snapshot(root: Path, every: int = 10) -> tuple[Path, set[str]]:
    """The corpus snapshot an hour on: every quote fetched again, one market in `every` moved."""
    doc = json.loads((root / "snapshot.json").read_text())
    later = (TAKEN_AT + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["taken_at"] = later
    moved = set()
    for i, (key, q) in enumerate(sorted(doc["quotes"].items())):
        q["as_of"] = later
        if i % every == 0:
            moved.add(key)
            p = round(q["probability"] + (0.05 if q["probability"] < 0.5 else -0.05), 4)
            q["probability"] = p
            q["outcomes"] = [{"name": "Yes", "probability": p, "url": None},
                             {"name": "No", "probability": round(1 - p, 4), "url": None}]
    path = root / "snapshot-hourly.json"
    path.write_text(json.dumps(doc, sort_keys=True))
    return path, moved


def shown_markets(root: Path, slug: str) -> list[str]:
    """The markets an article's card shows: the first two of its front matter's `markets:`."""
    text = (root / "content" / f"{slug}.md").read_text()
    return re.findall(r"^  - (\S+)$", text, re.M)[:2]


def main() -> None:
    ap = corpus_arguments(__doc__)
    ap.add_argument("--card-days", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with_cards = generated(args.dir / f"cards-{args.articles}", args)
    without = args.dir / f"nocards-{args.articles}"
    shutil.rmtree(without, ignore_errors=True)
    shutil.copytree(with_cards, without)
    with_card_days(with_cards, args.card_days)
    with_card_days(without, 0)

    times: dict[str, list[tuple[float, float]]] = {"cards": [], "no cards": []}
    for r in range(args.rounds):
        order = [("cards", with_cards), ("no cards", without)]
        for label, root in order if r % 2 == 0 else order[::-1]:
            wall, cpu = cold(root)
            times[label].append((wall, cpu))
            print(f"cold {label:>8} (round {r + 1}): {wall:6.2f} s wall, {cpu:6.2f} s CPU", flush=True)
    made = cards(with_cards)
    assert not cards(without), "card_days: 0 made cards"
    for label, runs in times.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"cold {label:>8}: wall {min(walls):.2f}-{max(walls):.2f} s, CPU {min(cpus):.2f}-{max(cpus):.2f} s")
    ratio_wall = sum(w for w, _ in times["cards"]) / sum(w for w, _ in times["no cards"])
    ratio_cpu = sum(c for _, c in times["cards"]) / sum(c for _, c in times["no cards"])
    print(f"cold with cards / without: wall x{ratio_wall:.3f}, CPU x{ratio_cpu:.3f}; {len(made)} cards")

    # The hourly build, an hour later: the clock moves too, so the oldest article with a
    # card drops out of the window.
    snapshot, moved = moved_snapshot(with_cards)
    cmd, env = build_command(with_cards, snapshot, None)
    env["SOURCE_DATE_EPOCH"] = str(int(env["SOURCE_DATE_EPOCH"]) + 3600)
    wall, _, cpu = measured(cmd, env)
    after = cards(with_cards)
    slug_of = {name: name.rsplit("-", 1)[0] for name in made | after}
    expected = {slug_of[n] for n in made if set(shown_markets(with_cards, slug_of[n])) & moved}
    added = {slug_of[n] for n in after - made}
    removed = {slug_of[n] for n in made - after}
    print(f"hourly: {wall:.2f} s wall, {cpu:.2f} s CPU; {len(moved)} of {args.markets} markets moved; "
          f"cards: {len(after & made)} kept, {len(after - made)} new, {len(made - after)} gone; "
          f"{len(expected)} cards show a moved market")
    assert added == expected, (sorted(added ^ expected)[:10])
    assert len(removed - expected) <= 1  # the article that left the window
    print("hourly: the new cards are exactly the cards whose shown odds moved; the one gone besides "
          "them is the article that left the window")


if __name__ == "__main__":
    main()

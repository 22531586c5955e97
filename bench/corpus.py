"""Generate a synthetic site of N articles and M markets for benchmarks. Writes files.

The articles resemble the corpus of ../shared/BENCHMARKS.md: about 700 words of Markdown
(headings, lists, links, emphasis, a blockquote), three related markets in the
frontmatter and one inline market widget. The snapshot gives every market a quote with
a week of hourly history. Deterministic for a given N, M and seed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORDS = (
    "alliance", "markets", "traders", "odds", "ministers", "defence", "budget", "talks",
    "ceasefire", "summit", "analysts", "deadline", "capital", "pressure", "forecast",
    "election", "senate", "inflation", "rates", "central", "bank", "volatility", "liquidity",
    "spread", "exposure", "risk", "coalition", "frontier", "policy", "officials", "reported",
    "week", "sources", "diplomats", "negotiations", "sanctions", "pipeline", "tariff",
    "outlook", "signal", "probability", "contract",
)
TAKEN_AT = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)


def corpus_arguments(description: str | None, aside: bool = False) -> argparse.ArgumentParser:
    """A bench script's command line: the corpus size (--articles, --markets) and where it
    goes (--dir); with `aside`, --remove for a script that sets what a build left aside
    (build_bench.Aside)."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--markets", type=int, default=300)
    ap.add_argument("--dir", type=Path, default=Path("bench/out"))
    ap.add_argument("--cards", action="store_true",
                    help="share cards for the last week's articles (marketnews' card_days: 7, and Hugo's "
                         "images.Text on its side); without it neither side makes cards")
    if aside:
        ap.add_argument("--remove", action="store_true", help="remove what a build left at once, not after the bench")
    return ap


def generated(root: Path, args: argparse.Namespace, make: Callable[..., Path] | None = None,
              aside: Callable[[Path], None] | None = None) -> Path:
    """`make` (make_site by default) the corpus `args` asks for at root, saying how long it
    took; what root held first is given to `aside` when given (see build_bench.Aside),
    else removed."""
    t0 = time.perf_counter()
    if aside is not None:
        aside(root)
    (make or make_site)(root, args.articles, args.markets, cards=getattr(args, "cards", False))
    print(f"corpus: {args.articles:,} articles, {args.markets:,} markets in {root} "
          f"(generated in {time.perf_counter() - t0:.1f} s)", flush=True)
    return root


def market_slug(i: int) -> str:
    return f"bench-market-{i:05d}-will-it-happen-by-2027"


NAMES = ("Zürich", "São Paulo", "Gdańsk", "Erdoğan", "Müller", "Smith")


def _sentence(rng: random.Random, n: int, link: bool = False) -> str:
    """n words, as news is written: by their count (the same draws of `rng` either way), a
    quotation with its speaker's name (accented, most of them), a possessive, a dash; with
    `link`, a link whose address has a query string."""
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    if n > 6:
        words[3] = f"*{words[3]}*"
        if link:
            words[5] = f"[{words[5]}](https://example.org/{words[5]}?from=news&n={n})"
        if n % 4 == 1:
            words[6] += " —"
        elif n % 4 == 2:
            words[2] += "'s"
    if n % 4 == 0:
        return f'"{" ".join(words)}," said {NAMES[len(words[1]) % len(NAMES)]}.'
    return " ".join(words) + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    """Sentences of 10-18 words, emphasis in each, one link a paragraph (see `_sentence`)."""
    return " ".join(_sentence(rng, rng.randint(10, 18), link=i == 1) for i in range(sentences))


def article_text(i: int, markets: int, rng: random.Random, edit: int = 0) -> str:
    related = rng.sample(range(markets), 3)
    date = TAKEN_AT - timedelta(hours=i + 1)
    body = [
        _paragraph(rng, 4),
        f"## {_sentence(rng, 5)[:-1]}",
        _paragraph(rng, 5),
        "\n".join(f"- {_sentence(rng, 8)}" for _ in range(4)),
        f"```market\n{market_slug(related[0])}\n```",
        f"> {_paragraph(rng, 2)}",
        f"## {_sentence(rng, 4)[:-1]}",
        _paragraph(rng, 5),
        _paragraph(rng, 4),
        "1. " + _sentence(rng, 9) + "\n2. " + _sentence(rng, 9) + "\n3. " + _sentence(rng, 9),
        _paragraph(rng, 5),
        f"## {_sentence(rng, 4)[:-1]}",
        _paragraph(rng, 5),
        _paragraph(rng, 5),
        _paragraph(rng, 4),
    ]
    if edit:
        body.append(f"Edited {edit} time(s).")
    front = [
        "---",
        f'title: "Benchmark story {i}: {_sentence(rng, 6)[:-1]}"',
        f"date: {date.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "author: Bench Writer",
        f"tags: [{', '.join(sorted({rng.choice(WORDS) for _ in range(2)}))}]",
        "markets:",
        *(f"  - {market_slug(m)}" for m in related),
        "---",
    ]
    return "\n".join(front) + "\n" + "\n\n".join(body) + "\n"


def snapshot(markets: int, seed: int, taken_at: datetime = TAKEN_AT) -> dict[str, object]:
    rng = random.Random(seed)
    quotes: dict[str, object] = {}
    end = int(taken_at.timestamp())
    for m in range(markets):
        p = rng.uniform(0.02, 0.98)
        walk, prices = p, []
        for _ in range(168):  # a week of hourly prices, walking back from today's
            prices.append(round(min(0.99, max(0.01, walk)), 4))
            walk += rng.uniform(-0.01, 0.01)
        history = {"t": [end - (167 - h) * 3600 for h in range(168)], "p": prices[::-1]}
        quotes[market_slug(m)] = {
            "kind": "market", "question": f"Will benchmark event {m} happen by 2027?",
            "url": f"https://polymarket.com/event/bench-{m}/{market_slug(m)}", "status": "open",
            "probability": round(p, 4), "headline_outcome": "Yes",
            "outcomes": [{"name": "Yes", "probability": round(p, 4), "url": None},
                         {"name": "No", "probability": round(1 - p, 4), "url": None}],
            "change_24h": round(rng.uniform(-0.05, 0.05), 3), "volume": round(rng.uniform(1e3, 5e6), 2),
            "end_date": "2027-01-01T00:00:00Z", "winner": None,
            "as_of": taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "token_id": str(10**70 + m),
            "history": history, "anchors": [],
        }
    return {"format": "marketnews-snapshot", "version": 1, "source": "bench",
            "taken_at": taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "quotes": quotes}


def make_site(root: Path, articles: int, markets: int, seed: int = 1, cards: bool = False) -> Path:
    """Write site.yaml, layouts/, static/, content/ and snapshot.json under root.

    Share cards are off unless `cards`: the pages compared with Hugo's are the ones both make.
    """
    if root.exists():
        shutil.rmtree(root)
    (root / "content").mkdir(parents=True)
    shutil.copytree(REPO / "layouts", root / "layouts")
    shutil.copytree(REPO / "static", root / "static")
    (root / "site.yaml").write_text(
        "title: Bench Ledger\nbase_url: https://bench.example.org\ntagline: Benchmark site\n"
        f"per_page: 20\ncard_days: {7 if cards else 0}\n", encoding="utf-8")
    rng = random.Random(seed)
    for i in range(articles):
        (root / "content" / f"story-{i:05d}.md").write_text(article_text(i, markets, rng), encoding="utf-8")
    write_snapshot(root / "snapshot.json", markets, seed)
    return root


def write_snapshot(path: Path, markets: int, seed: int, taken_at: datetime = TAKEN_AT) -> None:
    path.write_text(json.dumps(snapshot(markets, seed, taken_at), sort_keys=True, indent=1) + "\n",
                    encoding="utf-8")

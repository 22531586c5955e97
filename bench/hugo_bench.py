"""Benchmark Hugo on the corpus of build_bench.py, so both can be measured at the same time.

    python3 bench/hugo_bench.py --articles 1000 --markets 300
    python3 bench/hugo_bench.py --articles 10000 --markets 2000

The machine's speed drifts over the day, so the figures of ../shared/BENCHMARKS.md only
compare with ours when measured within minutes of each other; this script measures Hugo
(whatever `hugo` is on PATH) now. It generates the corpus with corpus.make_site, the same
articles and snapshot as build_bench.py, and turns it into a Hugo site in <dir>/hugo-<N>:
content/posts/*.md (the same Markdown and frontmatter), data/snapshot.json (the same
quotes) and small layouts written below. The two sides make the same kinds of page:

  article   headline, byline, one odds widget per related market (question linking to the
            market's page, probability, 24-hour change, a 28-point SVG sparkline of the
            week's prices, its points from data/charts.json (see write_charts), volume; the
            `widget.html` partial, looked up in site.Data.snapshot.quotes and cached per
            market with partialCached) and the body, whose ```market block the render hook
            `render-codeblock-market.html` turns into the same widget (cached too);
  lists     the front page and every tag, paginated 20 a page, an item showing its
            markets' odds; a page listing the tags;
  market    one page per market (the `markets` taxonomy): its widget with an 84-point chart
            and the articles about it; a page listing the markets;
  feeds     a feed of the latest 20 articles for the site and one for each tag (rssLimit;
            marketnews' feed_entries is 20 too), each entry the whole article after a line
            of odds per market, as marketnews' Atom feeds are; and a sitemap.

Hugo renders no section list of the posts (marketnews has none) and no feed per market
(the tags' feeds are turned on tag by tag, content/tags/<tag>/_index.md). With --cards,
both sides also make a 1200x630 PNG share card for each article of the last week, with
the headline and its first two markets' odds (Hugo: images.Text in DejaVu Sans, the font
marketnews draws with). Without it, neither does, but for marketnews' one card for the
site as a whole.

Each build runs `hugo` in a fresh process from a throwaway parent (build_bench.measured),
which reports wall time, CPU time (all processes) and peak RSS. Runs:
  cold    empty output folder, no resources folder or file cache, --ignoreCache
  noop    the same command again, nothing changed (Hugo renders every page again)
What the last run left is set aside, not removed, before the cold build (build_bench.Aside);
`--remove` removes it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from PIL import Image

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from build_bench import Aside, measured, remove, report  # noqa: E402
from corpus import TAKEN_AT, WORDS, corpus_arguments, generated, make_site  # noqa: E402

from marketnews.cards import FONTS, HEIGHT, PAPER, WIDTH  # noqa: E402
from marketnews.config import SiteConfig  # noqa: E402

CARD_DAYS = SiteConfig.card_days  # marketnews' default, which the corpus keeps

CONFIG = """\
baseURL = "https://bench.example.org/"
languageCode = "en"
title = "Bench Ledger"
paginate = 20
buildFuture = true
rssLimit = 20

[params]
tagline = "Benchmark site"
cards = {cards}
cards_from = {cards_from}

[taxonomies]
tag = "tags"
market = "markets"

[outputs]
home = ["HTML", "RSS"]
section = ["HTML"]
taxonomy = ["HTML"]
term = ["HTML"]
"""

LAYOUTS = {
    # Hugo's own RSS template, with the whole article (after its markets' odds, a line each)
    # where Hugo's has the summary: marketnews' feeds carry whole articles.
    "_default/rss.xml": """\
{{- $pages := where site.RegularPages "Section" "posts" -}}
{{- if not .IsHome }}{{ $pages = .Pages }}{{ end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{{ if .IsHome }}{{ site.Title }}{{ else }}{{ site.Title }}: {{ .Title }}{{ end }}</title>
    <link>{{ .Permalink }}</link>
    <description>{{ site.Params.tagline }}</description>
    <language>en</language>
    {{ with .OutputFormats.Get "RSS" }}\
<atom:link href="{{ .Permalink }}" rel="self" type="application/rss+xml" />{{ end }}
    {{- range first site.Config.Services.RSS.Limit $pages.ByDate.Reverse }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ .Permalink }}</link>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      <guid>{{ .Permalink }}</guid>
      {{ $odds := "" }}{{ range .Params.markets }}{{ with index site.Data.snapshot.quotes . }}\
{{ $odds = printf "%s<p>%s: %d%%</p>" $odds .question (int (add (mul .probability 100) 0.5)) }}{{ end }}{{ end }}\
<description>{{ printf "%s%s" $odds .Content | html }}</description>
    </item>
    {{- end }}
  </channel>
</rss>
""",
    "_default/baseof.html": """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ block "title" . }}{{ site.Title }}{{ end }}</title>
<link rel="stylesheet" href="/css/site.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="canonical" href="{{ .Permalink }}">
{{ with .OutputFormats.Get "rss" }}<link rel="alternate" type="application/rss+xml" title="{{ site.Title }}" \
href="{{ .RelPermalink }}">{{ end }}
{{ block "meta" . }}{{ end }}
</head>
<body>
<header class="masthead">
  <p class="masthead__title"><a href="/">{{ site.Title }}</a></p>
  <p class="masthead__tagline">“{{ site.Params.tagline }}”</p>
  <nav class="masthead__nav" aria-label="Sections"><ul>
    <li><a href="/">Latest</a></li><li><a href="/tags/">Topics</a></li><li><a href="/index.xml">Feed</a></li>
  </ul></nav>
</header>
<main id="main">
{{ block "main" . }}{{ end }}
</main>
<footer class="site-footer">
  <p>Odds come from Polymarket and are refreshed every hour.</p>
  <p>&copy; {{ site.Title }} · <a href="/index.xml">RSS feed</a></p>
</footer>
</body>
</html>
""",
    "_default/single.html": """\
{{ define "title" }}{{ .Title }} — {{ site.Title }}{{ end }}
{{ define "meta" }}{{ if and site.Params.cards (ge .Date.Unix site.Params.cards_from) }}\
{{ partial "card.html" . }}{{ end }}{{ end }}
{{ define "main" }}
{{ $tags := .GetTerms "tags" }}
<article class="article">
  <header class="article__header">
    {{ with $tags }}{{ with index . 0 }}<p class="kicker"><a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a></p>\
{{ end }}{{ end }}
    <h1 class="article__title">{{ .Title }}</h1>
    <p class="article__byline">{{ with .Params.author }}By {{ . }} · {{ end }}\
<time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">\
{{ .Date.Format "2 January 2006, 15:04 MST" }}</time></p>
  </header>
  {{ with .Params.markets }}
  <section class="odds-panel" aria-labelledby="odds-panel">
    <h2 class="odds-panel__title" id="odds-panel">What the markets say</h2>
    <div class="odds-panel__grid">
    {{ range . }}{{ partialCached "widget.html" (dict "slug" . "variant" "related") . "related" }}{{ end }}
    </div>
  </section>
  {{ end }}
  <div class="article__body">
{{ .Content }}
  </div>
  {{ with $tags }}<p class="article__tags"><span>Topics:</span> {{ range $i, $t := . }}{{ if $i }}, {{ end }}\
<a rel="tag" href="{{ $t.RelPermalink }}">{{ $t.LinkTitle }}</a>{{ end }}</p>{{ end }}
</article>
{{ end }}
""",
    "index.html": """\
{{ define "main" }}
{{ $pager := .Paginate (where site.RegularPages "Section" "posts") }}
<section class="stories" aria-label="Stories">
{{ range $pager.Pages }}{{ partial "article_item.html" . }}{{ end }}
</section>
{{ partial "pagination.html" $pager }}
{{ end }}
""",
    "_default/list.html": """\
{{ define "title" }}{{ .Title }} — {{ site.Title }}{{ end }}
{{ define "main" }}
<h1 class="page__title">{{ .Title }}</h1>
{{ if eq .Kind "taxonomy" }}
<ul class="tags">
{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> ({{ .Count }})</li>
{{ end }}
</ul>
{{ else }}
{{ $pager := .Paginate .Pages }}
<section class="stories" aria-label="Stories">
{{ range $pager.Pages }}{{ partial "article_item.html" . }}{{ end }}
</section>
{{ partial "pagination.html" $pager }}
{{ end }}
{{ end }}
""",
    "partials/article_item.html": """\
<article class="story">
  <h2 class="story__title"><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>
  <p class="story__meta"><time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">\
{{ .Date.Format "2 January 2006" }}</time>{{ with .Params.author }} · {{ . }}{{ end }}</p>
  <p class="story__summary">{{ .Summary | plainify }}</p>
  {{ with .Params.markets }}<ul class="odds-lines">
  {{ range . }}{{ partial "odds_line.html" . }}{{ end }}
  </ul>{{ end }}
</article>
""",
    "partials/odds_line.html": """\
{{ with index site.Data.snapshot.quotes . }}\
<li class="odds-line" data-probability="{{ printf "%.4f" .probability }}"><span class="odds-line__figure">\
{{ int (add (mul .probability 100) 0.5) }}%</span> <a href="{{ .url }}">{{ .question }}</a></li>
{{ else }}<li class="odds-line odds-line--unavailable">{{ . }}: odds unavailable</li>
{{ end }}""",
    "partials/widget.html": """\
{{- $q := index site.Data.snapshot.quotes .slug -}}
{{- if $q -}}
{{- $change := printf "%+.1f" (mul $q.change_24h 100) -}}
{{- $dir := "up" }}{{ $arrow := "▲" -}}
{{- if in (slice "+0.0" "-0.0") $change }}{{ $change = "0.0" }}{{ $dir = "flat" }}{{ $arrow = "▬" -}}
{{- else if hasPrefix $change "-" }}{{ $dir = "down" }}{{ $arrow = "▼" }}{{ end -}}
<div class="odds odds--{{ $q.status }} odds--{{ .variant }}" role="group" aria-label="{{ $q.question }}" \
data-market="{{ .slug }}" data-probability="{{ printf "%.4f" $q.probability }}">
  {{ if ne .variant "market" }}<p class="odds__question"><a href="{{ "markets/" | relURL }}{{ .slug }}/">\
{{ $q.question }}</a></p>{{ end }}
  <p class="odds__main"><span class="odds__outcome">{{ $q.headline_outcome }}</span> \
<span class="odds__prob">{{ int (add (mul $q.probability 100) 0.5) }}%</span></p>
  <p class="odds__change odds__change--{{ $dir }}"><span class="odds__move" aria-hidden="true">\
<span class="odds__arrow">{{ $arrow }}</span> {{ replace $change "-" "−" | safeHTML }} pts</span> \
<span class="visually-hidden">{{ if eq $dir "flat" }}unchanged{{ else }}{{ $dir }} {{ strings.TrimLeft "+-" $change }} \
points{{ end }} in 24 hours</span><span class="odds__period" aria-hidden="true">24 h</span></p>
  {{ if eq .variant "market" }}<figure class="odds__chart">\
{{ partial "chart.html" (dict "c" (index site.Data.charts .slug) "line" "chart" "w" 600 "h" 200) }}</figure>
  {{ else }}<figure class="odds__spark">\
{{ partial "chart.html" (dict "c" (index site.Data.charts .slug) "line" "spark" "w" 300 "h" 48) }}</figure>{{ end }}
  <p class="odds__meta"><span class="odds__volume">{{ partial "money.html" $q.volume }} traded</span></p>
</div>
{{- else -}}
<div class="odds odds--unavailable odds--{{ .variant }}" data-market="{{ .slug }}">\
<p class="odds__state"><span class="odds__badge">Odds unavailable</span></p></div>
{{- end -}}
""",
    "partials/chart.html": """\
{{- with .c -}}
<span class="chart"><svg class="chart__svg" viewBox="0 0 {{ $.w }} {{ $.h }}" width="{{ $.w }}" height="{{ $.h }}" \
aria-hidden="true" focusable="false"><polyline fill="none" points="{{ index . $.line }}"/></svg>\
<span class="chart__y" aria-hidden="true"><span>{{ .top }}%</span><span>0%</span></span></span>
{{- end -}}
""",
    "partials/card.html": """\
{{- $bold := resources.Get "fonts/DejaVuSans-Bold.ttf" }}{{ $regular := resources.Get "fonts/DejaVuSans.ttf" -}}
{{- $filters := slice (images.Text site.Title (dict "font" $bold "size" 28 "color" "#1d4ed8" "x" 64 "y" 56)) -}}
{{- $filters = $filters | append (images.Text .Title (dict "font" $bold "size" 52 "color" "#111827" "x" 64 "y" 120 \
"linespacing" 10)) -}}
{{- range $i, $slug := first 2 .Params.markets }}{{ with index site.Data.snapshot.quotes $slug -}}
{{- $x := add 64 (mul $i 560) -}}
{{- $figure := printf "%s %d%%" .headline_outcome (int (add (mul .probability 100) 0.5)) -}}
{{- $filters = $filters | append (images.Text $figure (dict "font" $bold "size" 64 "color" "#111827" "x" $x \
"y" 400)) -}}
{{- $filters = $filters | append (images.Text .question (dict "font" $regular "size" 24 "color" "#4b5563" \
"x" $x "y" 490)) -}}
{{- end }}{{ end -}}
{{- $card := resources.Get "card.png" | images.Filter $filters -}}
<meta property="og:image" content="{{ $card.Permalink }}">
""",
    "markets/term.html": """\
{{ define "title" }}{{ with index site.Data.snapshot.quotes .Data.Term }}{{ .question }}{{ end }} — \
{{ site.Title }}{{ end }}
{{ define "main" }}
<p class="kicker"><a href="{{ "markets/" | relURL }}">Market</a></p>
<h1 class="page__title">{{ with index site.Data.snapshot.quotes .Data.Term }}{{ .question }}\
{{ else }}{{ .Data.Term }}{{ end }}</h1>
<div class="market">{{ partial "widget.html" (dict "slug" .Data.Term "variant" "market") }}</div>
<h2 class="section-title">Coverage</h2>
<section class="stories stories--list" aria-label="Stories about this market">
{{ range .Pages }}{{ partial "article_item.html" . }}{{ end }}
</section>
{{ end }}
""",
    "partials/money.html": """\
{{- $s := printf "$%.0f" . -}}
{{- if ge . 1e9 }}{{ $s = replace (printf "$%.1fB" (div . 1e9)) ".0B" "B" -}}
{{- else if ge . 1e6 }}{{ $s = replace (printf "$%.1fM" (div . 1e6)) ".0M" "M" -}}
{{- else if ge . 1e3 }}{{ $s = replace (printf "$%.1fK" (div . 1e3)) ".0K" "K" }}{{ end -}}
{{- return $s -}}
""",
    "partials/pagination.html": """\
{{ if gt .TotalPages 1 }}
<nav class="pagination" aria-label="Pages">
  {{ with .Prev }}<a rel="prev" href="{{ .URL }}">← Newer</a>{{ end }}
  <span>Page {{ .PageNumber }} of {{ .TotalPages }}</span>
  {{ with .Next }}<a rel="next" href="{{ .URL }}">Older →</a>{{ end }}
</nav>
{{ end }}
""",
    "_default/_markup/render-codeblock-market.html": """\
{{ $slug := trim .Inner " \\t\\r\\n" }}\
{{ partialCached "widget.html" (dict "slug" $slug "variant" "inline") $slug "inline" }}
""",
}


def _line(prices: list[float], n: int, top: float, width: int, height: int) -> str:
    """SVG polyline points: n of the prices, evenly picked, on a 0-to-top scale."""
    picked = [prices[i * (len(prices) - 1) // (n - 1)] for i in range(n)]
    return " ".join(f"{i * width / (n - 1):.1f},{height - p / top * height:.1f}" for i, p in enumerate(picked))


def write_charts(data: Path) -> None:
    """data/charts.json: each market's sparkline (28 points) and chart (84 points) as SVG points.

    Worked out here, not in Hugo's templates: a Hugo site would have its odds script write
    them, since Go templates are slow at arithmetic (computing them in the templates made
    Hugo's 10,000-article build half as long again). So Hugo's build leaves out work that
    marketnews' build does: the comparison is in Hugo's favour."""
    quotes = json.loads((data / "snapshot.json").read_text(encoding="utf-8"))["quotes"]
    charts = {}
    for slug, quote in quotes.items():
        prices = quote.get("history", {}).get("p") or []
        if len(prices) > 1:
            top = max(math.ceil(max(prices) * 10) / 10, 0.1)
            charts[slug] = {"top": round(top * 100), "spark": _line(prices, 28, top, 300, 48),
                            "chart": _line(prices, 84, top, 600, 200)}
    (data / "charts.json").write_text(json.dumps(charts), encoding="utf-8")


def make_hugo_site(root: Path, articles: int, markets: int, cards: bool = False) -> Path:
    """The corpus of build_bench.py as a Hugo site in root (replacing root), with share cards
    for the last CARD_DAYS days' articles if `cards`."""
    corpus = root.with_name(root.name + ".corpus")
    make_site(corpus, articles, markets, cards=cards)
    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    (corpus / "content").rename(root / "content.tmp")
    (root / "content").mkdir()
    (root / "content.tmp").rename(root / "content" / "posts")
    (corpus / "snapshot.json").rename(root / "data" / "snapshot.json")
    write_charts(root / "data")
    (corpus / "static").rename(root / "static")
    shutil.rmtree(corpus)
    # Share cards for the articles of the last CARD_DAYS days before the build's clock.
    cards_from = TAKEN_AT + timedelta(hours=1) - timedelta(days=CARD_DAYS)
    config = CONFIG.replace("{cards}", str(cards).lower()).replace("{cards_from}", str(int(cards_from.timestamp())))
    (root / "hugo.toml").write_text(config, encoding="utf-8")
    # The articles are pages of their own, not a list of posts: marketnews has no such list.
    (root / "content" / "posts" / "_index.md").write_text("---\n_build:\n  render: never\n---\n", encoding="utf-8")
    # A feed for each tag, as marketnews makes (not for each market: it makes none).
    for word in WORDS:
        (root / "content" / "tags" / word).mkdir(parents=True, exist_ok=True)
        (root / "content" / "tags" / word / "_index.md").write_text(
            f"---\ntitle: {word}\noutputs: [HTML, RSS]\n---\n", encoding="utf-8")
    (root / "assets" / "fonts").mkdir(parents=True)
    for font in FONTS.glob("*.ttf"):
        shutil.copyfile(font, root / "assets" / "fonts" / font.name)
    Image.new("RGB", (WIDTH, HEIGHT), PAPER).save(root / "assets" / "card.png")
    for name, text in LAYOUTS.items():
        path = root / "layouts" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def output_counts(out: Path) -> str:
    kinds = Counter(p.suffix.lstrip(".") or "(none)" for p in out.rglob("*") if p.is_file())
    return ", ".join(f"{n:,} {ext}" for ext, n in kinds.most_common())


def hugo_or_exit(script: str) -> str:
    hugo = shutil.which("hugo")
    if hugo is None:
        sys.exit(f"{script}: `hugo` is not on PATH; install Hugo (Debian: apt-get install hugo) and run again.")
    return hugo


def hugo_command(hugo: str, root: Path) -> list[str]:
    """Hugo's build of the site in root into root/public, its file cache in root/.hugo_cache."""
    return [hugo, "--quiet", "--source", str(root), "--destination", str(root / "public"),
            "--cacheDir", str(root / ".hugo_cache")]


def clear_hugo(root: Path, put: Callable[..., None] = remove) -> None:
    """What a cold Hugo build must not find: its output, file cache and resources, removed
    or given to `put` (`build_bench.Aside.put`)."""
    put(root / "public", root / ".hugo_cache", root / "resources")


def corpora(args: argparse.Namespace, aside: Aside) -> tuple[Path, Path]:
    """The corpus `args` asks for, for marketnews and as a Hugo site, in args.dir; what was
    there first goes aside (removed, with `--remove`)."""
    return (generated(args.dir / f"site-{args.articles}", args, aside=aside.put),
            generated((args.dir / f"hugo-{args.articles}").resolve(), args, make_hugo_site, aside.put))


def main() -> None:
    ap = corpus_arguments(__doc__, aside=True)
    args = ap.parse_args()
    hugo = hugo_or_exit("hugo_bench")
    version = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout.strip()
    root = (args.dir / f"hugo-{args.articles}").resolve()
    with Aside(args.dir, args.remove) as aside:  # as build_bench.py: set aside, not removed
        generated(root, args, make_hugo_site, aside.put)
        print(f"hugo: {version}", flush=True)
        cmd = hugo_command(hugo, root)
        for label, extra in (("cold", ["--ignoreCache"]), ("noop", [])):
            if label == "cold":
                clear_hugo(root, aside.put)
            report(label, *measured(cmd + extra))
    print(f"output: {output_counts(root / 'public')} in {root / 'public'}")


if __name__ == "__main__":
    main()

"""The command line: argparse, the clock, the environment, the HTTP client, messages, exit codes.

The only module that reads the clock and the environment, builds the httpx client or
prints; everything it calls takes those as arguments.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from marketnews import __version__
from marketnews.config import load_config
from marketnews.content import Article, slugify
from marketnews.errors import ContentError, MarketnewsError, Problem, TemplateError
from marketnews.markets.model import snapshot_to_json
from marketnews.markets.snapshots import (
    LiveOptions,
    SnapshotSource,
    age_text,
    live_snapshot_source,
    restrict,
    save_cache,
    snapshot_from_file,
)
from marketnews.pipeline import (
    BuildOptions,
    BuildReport,
    SitePaths,
    build,
    gather,
    missing_quote_problems,
    raise_on_errors,
    unknown_ref_problems,
    wanted,
)
from marketnews.templating import failed_layouts, layout_problems
from marketnews.writer import build_lock, check_output, folder_identity, write_atomic

if TYPE_CHECKING:  # the network stack is imported by the code that uses it, not by every build
    import httpx

COMMANDS = ("build", "check", "new", "serve", "snapshot")
EXIT_OK, EXIT_FAILED = 0, 1


def now_utc() -> datetime:
    """The build's clock; SOURCE_DATE_EPOCH pins it for reproducible builds and tests."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            if not re.fullmatch(r"-?[0-9]{1,12}", epoch):
                raise ValueError(epoch)
            return datetime.fromtimestamp(int(epoch), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise MarketnewsError(f"SOURCE_DATE_EPOCH: expected whole seconds since 1970-01-01 UTC (as "
                                  f"`date +%s` prints them), got {epoch!r}") from None
    return datetime.now(UTC).replace(microsecond=0)


def _site(p: argparse.ArgumentParser, snapshot: bool = True) -> None:
    """The flags naming the site (and, for the commands that take odds, a snapshot file)."""
    p.add_argument("--root", type=Path, default=Path("."), help="site folder holding site.yaml (default: .)")
    p.add_argument("--content", type=Path, help="articles folder (default: <root>/content)")
    if snapshot:
        p.add_argument("--snapshot", type=Path, metavar="FILE", help="take odds from this snapshot file; no network")


def _common(p: argparse.ArgumentParser) -> None:
    _site(p)
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")


def duration_s(text: str) -> int:
    """"6h", "90m", "2d", "3600s" or plain seconds -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration like 6h, 90m or 2d, got {text!r}")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return int(float(match.group(1)) * unit)


def _odds_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--offline", action="store_true",
                   help="no network: odds from the cache folder, else the example snapshot")


# What each command does, in one line: its line in `marketnews --help`, and the first
# line of its own --help.
ABOUT = {
    "build": "Build the site into the output folder (the default command).",
    "check": "Check site.yaml and every article, drafts included; write nothing.",
    "serve": "Serve the site on localhost, rebuilding and reloading on every save.",
    "new": "Write a new draft article with its frontmatter filled in.",
    "snapshot": "Fetch the odds of every market the site references; build nothing.",
}


def _command(sub: Any, name: str, epilog: str | None = None) -> argparse.ArgumentParser:
    about = ABOUT[name]
    parser_: argparse.ArgumentParser = sub.add_parser(name, help=about[0].lower() + about[1:].rstrip("."),
                                                      description=about, epilog=epilog)
    return parser_


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="marketnews", description="Build a market-linked news site.",
                                  epilog="`marketnews COMMAND --help` lists a command's options.")
    top.add_argument("--version", action="version", version=f"marketnews {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    b = _command(sub, "build", epilog="`python3 build.py` is `marketnews build`. Other commands: check, serve, "
                                      "new, snapshot (`marketnews COMMAND --help`).")
    _common(b)
    b.add_argument("--drafts", action="store_true", help="include articles marked draft: true")
    b.add_argument("--future", action="store_true", help="include articles dated in the future")
    _odds_flags(b)
    b.add_argument("--out", type=Path, help="output folder (default: <root>/public)")
    b.add_argument("--quiet", "-q", action="store_true", help="print only errors and warnings")
    b.add_argument("--max-stale", type=duration_s, metavar="DURATION",
                   help="fail (writing nothing) when a page would show odds older than this, e.g. 6h")
    b.add_argument("--timings", action="store_true", help="say how long each stage of the build took")
    c = _command(sub, "check", epilog="It makes no request: market slugs are checked only against --snapshot FILE.")
    _common(c)
    v = _command(sub, "serve")
    _site(v)
    _odds_flags(v)
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    v.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one (default: 8000)")
    n = _command(sub, "new")
    n.add_argument("title")
    _site(n, snapshot=False)
    s = _command(sub, "snapshot")
    _site(s, snapshot=False)
    s.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the snapshot here (default: stdout)")
    _odds_flags(s)
    return top


def site_paths(args: argparse.Namespace) -> SitePaths:
    root = args.root
    out = getattr(args, "out", None) or root / "public"
    cache = Path(os.environ.get("MARKETNEWS_CACHE") or root / ".cache")  # (set but empty: the default, not ".")
    return SitePaths(root=root, content=args.content or root / "content", out=out, cache=cache)


def offline(flag: bool) -> bool:
    """--offline, or MARKETNEWS_OFFLINE=1 (set by the test suite so that no test reaches the internet)."""
    return flag or os.environ.get("MARKETNEWS_OFFLINE", "") not in ("", "0")


def live_options(offline: bool) -> LiveOptions:
    """site.yaml's API URLs, overridden by MARKETNEWS_GAMMA_URL / MARKETNEWS_CLOB_URL."""
    return LiveOptions(
        offline=offline,
        gamma_url=os.environ.get("MARKETNEWS_GAMMA_URL") or None,
        clob_url=os.environ.get("MARKETNEWS_CLOB_URL") or None,
    )


@contextmanager
def http_client(offline: bool) -> Iterator[httpx.Client | None]:
    """The one HTTP client of a run (None offline). Timeouts are set per request by the provider."""
    if offline:
        yield None
        return
    import httpx  # only a run that may go online loads the network stack

    headers = {"User-Agent": f"marketnews/{__version__}", "Accept": "application/json"}
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    with httpx.Client(headers=headers, limits=limits, follow_redirects=True) as client:
        yield client


class Console:
    """Progress on a terminal, messages on stderr."""

    def __init__(self, stream: TextIO, quiet: bool = False):
        self.stream, self.quiet = stream, quiet
        self.live = stream.isatty() and not quiet
        self.started = time.monotonic()
        self.shown = False

    def progress(self, stage: str, done: int, total: int) -> None:
        if not self.live or time.monotonic() - self.started < 0.5:
            return
        count = f"{done:,}/{total:,}" if total else f"{done:,}"
        self.stream.write(f"\r\033[K{stage} {count}")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.shown = False

    def problems(self, problems: tuple[Problem, ...] | list[Problem]) -> None:
        self.clear()
        for p in problems:
            print(p, file=self.stream)


def _files(articles: Sequence[Article], most: int = 3) -> str:
    names = [a.path for a in sorted(articles, key=lambda a: (a.date, a.path))]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def left_out_line(articles: Sequence[Article], options: BuildOptions, now: datetime) -> str:
    """What a build left out and why: drafts, and articles dated after `now` with the time
    the first of them is due ("" when nothing was left out)."""
    drafts = [a for a in articles if a.draft and not options.drafts]
    future = [a for a in articles if a.date > now and not options.future and not (a.draft and not options.drafts)]
    parts = []
    if drafts:
        them, plural = ("it", "") if len(drafts) == 1 else ("them", "s")
        parts.append(f"{len(drafts)} draft{plural} ({_files(drafts)}; --drafts includes {them})")
    if future:
        first = min(future, key=lambda a: (a.date, a.path))
        due = first.date.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        them = "it" if len(future) == 1 else "them"
        parts.append(f"{len(future)} dated in the future ({_files(future)}; the first is due {due} and goes out "
                     f"with the first build after that; --future includes {them})")
    return f"left out {'; '.join(parts)}" if parts else ""


def summary_line(report: BuildReport, left_out: str = "", out: Path | None = None) -> str:
    """What a build did, ending with a line that says what became of the output folder."""
    warnings = f"{len(report.warnings)} warning{'s' if len(report.warnings) != 1 else ''}"
    line = f"built {report.pages:,} pages from {report.articles:,} articles in {report.seconds:.2f} s; {warnings}"
    line += (f"\n{left_out}" if left_out else "") + f"\n{report.snapshot_note}"
    if report.stale:
        plural = "s" if report.stale != 1 else ""
        line += f"; {report.stale} stale quote{plural}, the oldest {age_text(report.oldest_stale_s)}"
    if report.written is not None:
        where = f"{out}: " if out is not None else ""
        line += f"\n{where}published whole: {report.written.churn()}, {report.written.unchanged:,} unchanged"
    return line


class PublishedThenFailed(Exception):
    """Something failed after the new site was switched into the output folder."""

    def __init__(self, out: Path, cause: BaseException):
        super().__init__(str(cause))
        self.out, self.cause = out, cause


def _keep_clear(paths: SitePaths) -> list[tuple[str, Path]]:
    """Folders an output folder must neither be nor hold (nor, for content, lie in)."""
    found = [("the site folder", paths.root), ("the content folder", paths.content)]
    if paths.cache is not None:
        found.append(("the cache folder", paths.cache))
    return found


def odds_source(args: argparse.Namespace, paths: SitePaths, client: httpx.Client | None) -> SnapshotSource:
    """Where a build or the dev server gets its odds: --snapshot FILE, else live odds (or,
    --offline, the cache and the example snapshot)."""
    if args.snapshot:
        return snapshot_from_file(args.snapshot)
    return live_snapshot_source(paths, client, live_options(offline(args.offline)))


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    paths = site_paths(args)
    options = BuildOptions(drafts=args.drafts, future=args.future, strict=args.strict, max_stale_s=args.max_stale)
    check_output(paths.out, _keep_clear(paths))

    def waiting(message: str) -> None:
        console.clear()
        print(message, file=sys.stderr, flush=True)

    # One build at a time, from before the cache is read; the clock is read once it is ours.
    with build_lock(paths.out, paths.cache, waiting):
        before = folder_identity(paths.out)
        now = now_utc()
        try:
            with http_client(offline=offline(args.offline) or bool(args.snapshot)) as client:
                report = build(paths, options, now, odds_source(args, paths, client), console.progress)
        except BaseException as exc:
            if folder_identity(paths.out) != before:  # the new site was switched in: say so
                raise PublishedThenFailed(paths.out, exc) from exc
            if isinstance(exc, TemplateError) and (broken := failed_layouts(exc, paths.layouts)):
                raise ContentError(broken) from exc
            raise
    console.problems(report.warnings)
    if args.timings:
        print("timings: " + ", ".join(f"{stage} {s:.2f} s" for stage, s in report.timings.items()), file=sys.stderr)
    if not args.quiet:
        gathered = report.state.gathered if report.state else None
        left_out = left_out_line(gathered.articles, options, now) if gathered else ""
        print(summary_line(report, left_out, paths.out), file=sys.stdout)
    return EXIT_OK


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    paths = site_paths(args)
    options = BuildOptions(drafts=True, future=True, strict=args.strict)
    layouts = layout_problems(paths.layouts)  # said with the content's: every problem at once
    try:
        gathered = gather(paths, options, console.progress)
    except ContentError as exc:
        raise ContentError(sorted([*exc.problems, *layouts])) from None
    warnings = [*gathered.problems, *layouts]
    raise_on_errors(warnings, args.strict)
    if args.snapshot:
        snapshot = snapshot_from_file(args.snapshot)(wanted(gathered), now_utc()).snapshot
        warnings += missing_quote_problems(gathered, snapshot, gathered.articles)
        raise_on_errors(warnings, args.strict)
    console.problems(sorted(warnings))
    print(f"checked {len(gathered.articles)} articles: no errors, {len(warnings)} warning(s)")
    return EXIT_OK


def cmd_new(args: argparse.Namespace, console: Console) -> int:
    paths = site_paths(args)
    config, _ = load_config(paths.config_file, "site.yaml")
    content = paths.content
    slug = slugify(args.title)
    if not slug:
        raise MarketnewsError(f"cannot make a file name from the title {args.title!r}")
    path = content / f"{slug}.md"
    if path.exists():
        raise MarketnewsError(f"{path}: already exists; choose another title or edit that file")
    when = now_utc().astimezone(config.tz).replace(second=0)
    title = args.title.replace("\\", "\\\\").replace('"', '\\"')
    author = f"author: {config.author}\n" if config.author else "author: \n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'---\ntitle: "{title}"\ndate: {when.isoformat()}\n{author}summary: ""\ntags: []\n'
        "markets:\n  # - some-market-slug\n  # - https://polymarket.com/event/some-event/some-market\n"
        "draft: true\n---\nWrite the story here. Put a market's odds inside the text with:\n\n"
        "```market\nsome-market-slug\n```\n",
        encoding="utf-8",
    )
    print(f"wrote {path} (a draft: build with --drafts, or remove 'draft: true' to publish)")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    from marketnews.devserver import DevServer, serve

    paths = site_paths(args)

    def log(message: str) -> None:
        console.clear()
        print(message, file=sys.stderr, flush=True)

    # The client stays open while the server runs: refreshing the odds uses it again.
    with http_client(offline=offline(args.offline) or bool(args.snapshot)) as client:
        server = DevServer(paths, odds_source(args, paths, client), now_utc, host=args.host, port=args.port,
                           log=log)
        try:
            serve(server, interactive=sys.stdin.isatty())
        except KeyboardInterrupt:
            log("stopped")
        except OSError as exc:  # the port is taken, say
            raise MarketnewsError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace, console: Console) -> int:
    paths = site_paths(args)
    gathered = gather(paths, BuildOptions(drafts=True, future=True), console.progress)
    now = now_utc()
    no_network = offline(args.offline)
    with http_client(no_network) as client:
        odds = live_snapshot_source(paths, client, live_options(no_network))(wanted(gathered), now)
    snapshot = restrict(odds.snapshot, list(gathered.uses))
    console.problems(unknown_ref_problems(gathered, odds, gathered.articles))
    text = snapshot_to_json(snapshot)
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    save_cache(paths.cache, snapshot, gathered.uses, odds.anchors_missing, odds.cached, text, now=now)
    where = f" into {args.output}" if args.output else ""
    print(f"wrote {len(snapshot.quotes)} quotes{where}; {odds.note}", file=sys.stderr)
    return EXIT_OK


def main(argv: list[str] | None = None, default_help: str = "marketnews") -> int:
    """Run a command; no command means build. `default_help="build"` makes a bare --help the
    build's (build.py, which is `marketnews build`), instead of the list of commands."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    own = ("--version",) if default_help == "build" else ("-h", "--help", "--version")
    if not args_list or (args_list[0] not in COMMANDS and args_list[0] not in own):
        args_list.insert(0, "build")
    args = parser().parse_args(args_list)
    # A build makes millions of small objects and almost no reference cycles; with the
    # collector's default thresholds its passes over the growing heap cost a no-op build
    # of 10,000 articles about a fifth of its time. Rarer passes still bound what cycles
    # there are (a cold build's peak memory is the same either way).
    gc.set_threshold(200_000, 30, 30)
    console = Console(sys.stderr, quiet=getattr(args, "quiet", False))
    handlers = {"build": cmd_build, "check": cmd_check, "new": cmd_new, "serve": cmd_serve, "snapshot": cmd_snapshot}
    # The last line says what became of the output folder (of `build`; the others write none).
    unchanged = f"{site_paths(args).out} is unchanged" if args.command == "build" else "nothing was written"
    try:
        return handlers[args.command](args, console)
    except PublishedThenFailed as exc:
        console.clear()
        if not isinstance(exc.cause, KeyboardInterrupt):
            print(f"error: {_reason(exc.cause)}", file=sys.stderr)
        what = "interrupted" if isinstance(exc.cause, KeyboardInterrupt) else "failed"
        print(f"{what} after publishing: {exc.out} holds this build's whole new site; what failed came after "
              "(the next build redoes it)", file=sys.stderr)
        return 130 if isinstance(exc.cause, KeyboardInterrupt) else EXIT_FAILED
    except ContentError as exc:
        console.problems(exc.problems)
        errors = sum(1 for p in exc.problems if p.severity == "error")
        print(f"failed: {errors} error{'s' if errors != 1 else ''}; {unchanged}", file=sys.stderr)
        return EXIT_FAILED
    except (MarketnewsError, OSError) as exc:  # OSError: a full disk, a folder we may not write to
        console.clear()
        print(f"error: {_reason(exc)}", file=sys.stderr)
        print(f"failed; {unchanged}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        console.clear()
        print(f"interrupted; {unchanged}", file=sys.stderr)
        return 130


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, MarketnewsError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def run(argv: list[str] | None = None, default_help: str = "marketnews") -> NoReturn:
    """`main` as a program (`marketnews`, `python -m marketnews`, build.py): its exit code,
    without the interpreter's teardown. By the time a command returns, it has closed what it
    opened and written what it wrote; what is left is freeing, one by one, the objects a
    build made, which took 0.37 s at the end of an hourly build of 10,000 articles. So the
    process flushes its output and ends there. An exception `main` does not handle still
    ends the program the usual way, with its traceback. Output that cannot be written (a
    full disk, an I/O error) is an error, exit code 1, as is everything the build reports;
    a reader that went away (`| head`) is not."""
    code = main(argv, default_help)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away, a closed stream
            pass
        except OSError as exc:
            with suppress(OSError, ValueError):
                sys.stderr.write(f"error: cannot write the output: {exc.strerror or exc}\n")
                sys.stderr.flush()
            code = code or 1
    os._exit(code)

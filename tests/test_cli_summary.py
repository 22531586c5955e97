"""What the command line tells an author: the build options from `python3 build.py --help`,
a one-line description atop each command's help, and a summary naming what a build left out."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from marketnews.cli import ABOUT, COMMANDS
from tests.conftest import REPO, Run, Site, article, quote
from tests.test_build import NATO, QUOTES, XI


def help_text(*args: str) -> str:
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def description(text: str) -> list[str]:
    """The lines of the paragraph after the usage lines."""
    paragraphs = text.split("\n\n")
    return paragraphs[1].splitlines()


def test_build_py_help_shows_the_build_options() -> None:
    text = help_text("--help")
    assert text.startswith("usage: marketnews build ")
    for flag in ("--drafts", "--future", "--strict", "--out", "--offline", "--max-stale", "--snapshot"):
        assert f"\n  {flag}" in text, flag
    assert description(text) == [ABOUT["build"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_starts_with_one_line_saying_what_it_does(command: str) -> None:
    text = help_text(command, "--help")
    assert text.startswith(f"usage: marketnews {command} ")
    (line,) = description(text)  # one line, within argparse's wrapping width
    assert line == ABOUT[command] and line.endswith(".")


def test_marketnews_help_lists_the_commands_with_their_lines() -> None:
    proc = subprocess.run([sys.executable, "-m", "marketnews", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    flat = " ".join(proc.stdout.split())
    for command, about in ABOUT.items():
        assert f"{command} {about[0].lower()}{about[1:-1]}" in flat, command


def test_python_build_py_still_runs_other_commands() -> None:
    assert "--port" in help_text("serve", "--help")
    assert help_text("--version").startswith("marketnews ")


# The clock is 2026-11-21T17:00:00Z (tests/conftest.py).
def test_the_summary_names_left_out_drafts_and_future_articles_with_the_first_due_time(
        site: Site, cli: Callable[..., Run]) -> None:
    snapshot = site.snapshot({"m": quote("Will it?")})
    site.write("content/out.md", article("Out", "2026-11-20T09:00:00Z"))
    site.write("content/draft.md", article("Draft", "2026-11-20T09:00:00Z", draft=True))
    site.write("content/later.md", article("Later", "2026-11-25T10:00:00+01:00"))
    site.write("content/sooner.md", article("Sooner", "2026-11-22"))
    site.write("content/future-draft.md", article("Both", "2026-12-01", draft=True))
    run = cli("build", "--root", site.root, "--snapshot", snapshot)
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0].startswith("built ") and " from 1 articles " in lines[0]
    assert lines[1] == (
        "left out 2 drafts (content/draft.md, content/future-draft.md; --drafts includes them); "
        "2 dated in the future (content/sooner.md, content/later.md; the first is due 2026-11-22 00:00 UTC "
        "and goes out with the first build after that; --future includes them)"
    )
    assert len(lines) == 4 and "snapshot" in lines[2]  # the odds line, then what became of the output folder
    assert lines[3].startswith(f"{site.out}: published whole: ")

    run = cli("build", "--root", site.root, "--snapshot", snapshot, "--drafts")
    assert run.out.splitlines()[1].startswith("left out 3 dated in the future (content/sooner.md, "
                                              "content/later.md, content/future-draft.md; the first is due "
                                              "2026-11-22 00:00 UTC")
    run = cli("build", "--root", site.root, "--snapshot", snapshot, "--drafts", "--future")
    assert " from 5 articles " in run.out and "left out" not in run.out


def test_nothing_left_out_says_nothing_about_it(site: Site, cli: Callable[..., Run]) -> None:
    snapshot = site.snapshot({"m": quote("Will it?")})
    site.write("content/out.md", article("Out", "2026-11-20T09:00:00Z"))
    run = cli("build", "--root", site.root, "--snapshot", snapshot)
    assert run.code == 0 and len(run.out.splitlines()) == 3 and "left out" not in run.out


def test_timings_name_each_stage_of_a_whole_build_and_of_one_with_nothing_to_write(
        site: Site, cli: Callable[..., Run]) -> None:
    snapshot = site.snapshot({"m": quote("Will it?")})
    site.write("content/out.md", article("Out", "2026-11-20T09:00:00Z"))

    def stages(run: Run) -> list[str]:
        assert run.code == 0
        line = next(x for x in run.err.splitlines() if x.startswith("timings: "))
        return [part.rsplit(" ", 2)[0] for part in line.removeprefix("timings: ").split(", ")]

    assert stages(cli("build", "--root", site.root, "--snapshot", snapshot, "--timings")) == [
        "gather", "snapshot", "render+write", "save"]
    # Built again from the same input: the site record says there is nothing to render or save.
    assert stages(cli("build", "--root", site.root, "--snapshot", snapshot, "--timings")) == [
        "gather", "snapshot", "render+write"]
    assert "timings" not in cli("build", "--root", site.root, "--snapshot", snapshot).err


def test_the_program_ends_with_its_code_and_its_whole_output(site: Site) -> None:
    """`python -m marketnews` ends its process without the interpreter's teardown once a
    command has returned (cli.run): what it printed still arrives whole, through a pipe,
    and its exit code is the command's."""
    news = site
    news.write("content/nato.md", NATO)
    news.write("content/xi.md", XI)
    news.snapshot(QUOTES)
    # Output to a pipe is held in a buffer (unless PYTHONUNBUFFERED says otherwise): left
    # there, it would be lost at the end.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | {"MARKETNEWS_JOBS": "2"}
    ok = subprocess.run([sys.executable, "-m", "marketnews", "build", "--root", str(news.root)],
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (news.root / "public/index.html").exists() and (news.root / "public/sitemap.xml").exists()
    lines = ok.stdout.splitlines()  # a pipe: the output was held in its buffer to the end
    assert lines[0].startswith("built 13 pages from 2 articles") and ok.stdout.endswith("\n")
    assert lines[-1].endswith("published whole: 0 changed, 36 added, 0 removed, 0 unchanged")
    bad = subprocess.run([sys.executable, str(REPO / "build.py"), "--root", str(news.root), "--snapshot",
                          str(news.root / "missing.json")], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[-2:] == [
        f"error: {news.root / 'missing.json'}: cannot read snapshot: No such file or directory",
        f"failed; {news.root / 'public'} is unchanged"]
    checked = subprocess.run([sys.executable, "-m", "marketnews", "check", "--root", str(news.root)],
                             capture_output=True, text=True, env=env, timeout=120)
    assert checked.returncode == 0 and checked.stdout.startswith("checked ") and checked.stdout.endswith("\n")
    if os.path.exists("/dev/full"):  # output that cannot be written is an error, not lost in silence
        with open("/dev/full", "w") as full:
            lost = subprocess.run([sys.executable, "-m", "marketnews", "check", "--root", str(news.root)],
                                  stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
        assert lost.returncode == 1
        assert lost.stderr.strip().endswith("error: cannot write the output: No space left on device")


@pytest.mark.parametrize(("name", "value", "said"), [
    ("SOURCE_DATE_EPOCH", "abc", "SOURCE_DATE_EPOCH: expected whole seconds since 1970-01-01 UTC"),
    ("SOURCE_DATE_EPOCH", "1796000000.5", "SOURCE_DATE_EPOCH: expected whole seconds"),
    ("SOURCE_DATE_EPOCH", "99999999999999", "SOURCE_DATE_EPOCH: expected whole seconds"),
    ("SOURCE_DATE_EPOCH", "9" * 30, "SOURCE_DATE_EPOCH: expected whole seconds"),
    ("MARKETNEWS_JOBS", "abc", "MARKETNEWS_JOBS: expected a whole number of worker processes"),
    ("MARKETNEWS_JOBS", "-3", "MARKETNEWS_JOBS: expected a whole number of worker processes"),
])
def test_a_setting_of_the_environment_that_cannot_be_read_is_one_error_line(
        site: Site, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str) -> None:
    site.write("content/a.md", article("A"))
    monkeypatch.setenv(name, value)
    run = cli("build", "--root", site.root)
    assert run.code == 1 and f"error: {said}" in run.err and repr(value) in run.err, run.err
    assert "Traceback" not in run.err and not site.out.exists()


def test_a_cache_folder_set_empty_is_the_sites_own_not_the_working_folder(
        site: Site, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # An empty MARKETNEWS_CACHE once made the working folder the cache: the odds cache
    # was written over a snapshot.json of the user's there.
    here = tmp_path / "here"
    here.mkdir()
    (here / "snapshot.json").write_text("the user's own\n")
    site.write("content/a.md", article("A"))
    monkeypatch.setenv("MARKETNEWS_CACHE", "")
    monkeypatch.chdir(here)
    assert cli("build", "--root", site.root).code == 0
    assert [p.name for p in here.iterdir()] == ["snapshot.json"] and (here / "snapshot.json").read_text() == \
        "the user's own\n"
    assert (site.root / ".cache/memo.sqlite").is_file()

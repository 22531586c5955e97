"""kill -9 at many moments of a build, and two builds at once: the output folder always
holds one whole build, and the next build gives the bytes of a clean one.

Each build here is a real `marketnews build` process. To stop one at a named moment it
runs through DRIVER, which wraps one of the writer's steps so that the process says
PAUSED and waits there; the test then sends it SIGKILL (or lets it go on).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.corpus import TAKEN_AT, make_site, write_snapshot
from marketnews import writer
from tests.conftest import REPO, entries, tree

DRIVER = r"""
import os, sys, time
from marketnews import cli, writer

point, resume = os.environ["MN_PAUSE_AT"], os.environ.get("MN_RESUME", "")
count = {"n": 0}

def pause():
    print("PAUSED", flush=True)
    while not (resume and os.path.exists(resume)):
        time.sleep(0.02)

def before(name, after_calls=1):
    real = getattr(writer, name)
    def wrapped(*args, **kwargs):
        count["n"] += 1
        if count["n"] == after_calls:
            pause()
        return real(*args, **kwargs)
    setattr(writer, name, wrapped)

if point == "staging":  # part-way through the files: some written or linked into the spare, not all
    before("_link", 40)
    before("_put", 40)
    before("_write_at", 40)
elif point == "half-written":  # a page half written into the spare tree (over the old one's bytes, or new)
    real_write = writer.os.write
    def write(fd, data):
        count["n"] += 1
        if count["n"] == 30:
            real_write(fd, bytes(data[: len(data) // 2]))
            pause()
        return real_write(fd, data)
    writer.os.write = write
elif point == "linking":  # the new and changed files renamed in, part-way through linking the unchanged ones
    before("_link", 5)
elif point in ("record", "prune", "switch"):
    before({"record": "_write_record", "prune": "_prune_spare", "switch": "_switch"}[point])
elif point == "switched":  # the new site in place, the caches not yet saved
    real_switch = writer._switch
    def switched(out):
        real_switch(out)
        pause()
    writer._switch = switched
elif point == "between-renames":  # a system without RENAME_EXCHANGE: the two-rename switch, cut in half
    writer._EXCHANGE = None
    real_rename = writer.os.rename
    def rename(src, dst):
        real_rename(src, dst)
        if str(dst).endswith(os.sep + "old"):
            pause()
    writer.os.rename = rename
elif point != "none":
    raise SystemExit(f"unknown point {point}")
sys.exit(cli.main(sys.argv[1:]))
"""

EPOCH = str(int(TAKEN_AT.timestamp()) + 3600)  # the corpus's snapshot an hour old


def env(site: Path, cache: Path, **more: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), SOURCE_DATE_EPOCH=EPOCH, MARKETNEWS_CACHE=str(cache),
                MARKETNEWS_OFFLINE="1", **more)


def command(site: Path, out: Path) -> list[str]:
    return [sys.executable, "-c", DRIVER, "build", "--root", str(site), "--out", str(out),
            "--snapshot", str(site / "snapshot.json")]


def build(site: Path, out: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(command(site, out), env=env(site, cache, MN_PAUSE_AT="none"), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run


def paused(site: Path, out: Path, cache: Path, point: str, resume: Path | None = None,
           jobs: str = "1") -> subprocess.Popen[str]:
    """A build started and stopped at `point` (it has said PAUSED)."""
    proc = subprocess.Popen(command(site, out), env=env(site, cache, MN_PAUSE_AT=point, MARKETNEWS_JOBS=jobs,
                                                        MN_RESUME=str(resume or "")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line != "PAUSED\n":
        proc.kill()
        pytest.fail(f"the build did not reach {point}: {line}{proc.communicate()[1]}")
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()


def change(site: Path, markets: int) -> None:
    """The next hour's input: every price moved, one article edited, one added, one gone."""
    write_snapshot(site / "snapshot.json", markets, seed=2)
    story = site / "content" / "story-00003.md"
    story.write_text(story.read_text().replace("\n\n", "\n\nAn added paragraph.\n\n", 1))
    shutil.copy(site / "content" / "story-00001.md", site / "content" / "story-99999.md")
    text = (site / "content" / "story-99999.md").read_text()
    (site / "content" / "story-99999.md").write_text(text.replace('title: "', 'title: "Copy of ', 1))
    (site / "content" / "story-00002.md").unlink()


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A 30-article site, its output before and after `change` (each a clean build)."""
    tmp = tmp_path_factory.mktemp("crash")
    site = make_site(tmp / "site", 30, 20)
    build(site, tmp / "old", tmp / "old-cache")
    old = tree(tmp / "old")
    change(site, 20)
    build(site, tmp / "new", tmp / "new-cache")
    new = tree(tmp / "new")
    assert old != new and len(new) > 60
    return {"tmp": tmp, "old": old, "new": new}


def prepared(builds: dict[str, object], tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the site as it was for the old build, built: (site, out, cache). The spare
    tree is a whole build older than the output folder (other prices), and the last build
    changed nothing, so it switched nothing."""
    tmp = builds["tmp"]
    assert isinstance(tmp, Path)
    site, out, cache = tmp_path / "site", tmp_path / "public", tmp_path / "cache"
    make_site(site, 30, 20)
    write_snapshot(site / "snapshot.json", 20, seed=3)
    build(site, out, cache)
    write_snapshot(site / "snapshot.json", 20, seed=1)  # make_site's
    build(site, out, cache)
    assert tree(out) == builds["old"]
    before, files = entries(out), len(writer.read_record(out) or ())
    run = build(site, out, cache)
    assert run.stdout.splitlines()[-1].endswith(f"0 changed, 0 added, 0 removed, {files:,} unchanged")
    assert entries(out) == before
    change(site, 20)
    return site, out, cache


@pytest.mark.parametrize("point, after", [
    ("staging", "old"), ("half-written", "old"), ("linking", "old"), ("record", "old"), ("prune", "old"),
    ("switch", "old"), ("switched", "new"), ("between-renames", "neither"),
])
def test_kill_9_at_a_moment_of_the_build_leaves_one_whole_build(  # type: ignore[no-untyped-def]
        builds, tmp_path: Path, point: str, after: str) -> None:
    site, out, cache = prepared(builds, tmp_path)
    kill(paused(site, out, cache, point))
    if after == "neither":  # the old tree parked, the new one not yet in: no site at all, never a mixed one
        assert not out.exists()
    else:
        assert tree(out) == builds[after]
    run = build(site, out, cache)
    assert tree(out) == builds["new"]
    assert not list(out.rglob("*.mn-tmp")) and "published whole" in run.stdout.splitlines()[-1]
    # and once more, now that the spare tree is what the crash left
    build(site, out, cache)
    assert tree(out) == builds["new"]


def test_kill_9_with_worker_processes_at_many_moments(tmp_path: Path) -> None:
    # A 200-article site rendered by worker processes, killed at fractions of the time the
    # build takes: each time the folder is the old build or the new one, whole.
    site, out, cache = tmp_path / "site", tmp_path / "public", tmp_path / "cache"
    saved = tmp_path / "saved"
    make_site(site, 200, 60)
    build(site, out, cache)
    build(site, out, cache)
    old = tree(out)
    for folder in (out, writer.state_folder(out), cache):  # the state to start each kill from
        shutil.copytree(folder, saved / folder.name, symlinks=True)
    change(site, 60)
    build(site, tmp_path / "clean", tmp_path / "clean-cache")
    new = tree(tmp_path / "clean")

    def restore() -> None:
        for folder in (out, writer.state_folder(out), cache):
            shutil.rmtree(folder)
            shutil.copytree(saved / folder.name, folder, symlinks=True)

    restore()
    started = time.monotonic()
    build(site, out, cache)
    took = time.monotonic() - started
    assert tree(out) == new
    seen = []
    for fraction in (0.1, 0.3, 0.6, 0.9):  # 0.1: before the switch even if the timed build was slow
        restore()
        proc = subprocess.Popen(command(site, out), env=env(site, cache, MN_PAUSE_AT="none", MARKETNEWS_JOBS="2"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(took * fraction)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        got = tree(out)
        assert got in (old, new), f"killed at {fraction:.0%} of a build: a mixed folder"
        seen.append("old" if got == old else "new")
        build(site, out, cache)  # waits for any worker the killed build left to exit
        assert tree(out) == new, f"the build after a kill at {fraction:.0%} differs from a clean build"
    assert "old" in seen, seen  # some kills landed before the switch


def test_two_builds_at_once_take_turns_and_each_exit_0_means_its_own_site(  # type: ignore[no-untyped-def]
        builds, tmp_path: Path) -> None:
    site, out, cache = prepared(builds, tmp_path)
    other = tmp_path / "other-site"  # other content, its own cache, the same output folder
    make_site(other, 12, 20, seed=7)
    resume = tmp_path / "go"
    first = paused(site, out, cache, "switch", resume)  # holds the lock, about to switch
    second = subprocess.Popen(command(other, out), env=env(other, tmp_path / "other-cache", MN_PAUSE_AT="none"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert second.stderr is not None
    waiting = second.stderr.readline()
    assert f"waiting for another build to finish with the output folder {out.resolve()} (process {first.pid})" \
        in waiting
    assert tree(out) == builds["old"]
    resume.touch()
    out_first, _ = first.communicate(timeout=120)
    assert first.returncode == 0 and "published whole" in out_first.splitlines()[-1]
    out_second, err_second = second.communicate(timeout=120)
    assert second.returncode == 0, err_second
    build(other, tmp_path / "other-clean", tmp_path / "other-clean-cache")
    assert tree(out) == tree(tmp_path / "other-clean")  # the second build's site, whole, after the first's

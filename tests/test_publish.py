"""The output folder: whose files are whose, refused folders, the switch, one build at a time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from marketnews import writer
from marketnews.errors import MarketnewsError
from marketnews.output import OutputFile
from tests.conftest import Site, article, quote, tree
from tests.test_build import NATO, QUOTES, RESOLVED, XI, in_workers
from tests.test_parallel import within


@pytest.fixture
def news(site: Site) -> Site:
    """test_build's three-article site."""
    for name, text in (("nato", NATO), ("xi", XI), ("knicks", RESOLVED)):
        site.write(f"content/{name}.md", text)
    site.snapshot(QUOTES)
    return site


def site_files(out: Path) -> dict[str, bytes]:
    """The files of the site in `out`: all but the build's record."""
    return {p: data for p, data in tree(out).items() if p != writer.RECORD}


def test_the_record_lists_exactly_the_files_the_build_wrote(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "--root", news.root).code == 0
    assert writer.read_record(news.out) == set(site_files(news.out))


def test_someones_own_files_stay_through_every_build(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "--root", news.root).code == 0
    own = {"CNAME": b"news.example.org\n", ".git/HEAD": b"ref: refs/heads/gh-pages\n",
           "docs/thesis.txt": b"years of work", "2026/11/nato/notes.txt": b"beside a page"}
    for path, data in own.items():
        (news.out / path).parent.mkdir(parents=True, exist_ok=True)
        (news.out / path).write_bytes(data)
    (news.out / ".well-known").mkdir()
    os.symlink("index.html", news.out / "home.html")
    mtime = (news.out / "docs/thesis.txt").stat().st_mtime_ns
    news.write("content/xi.md", XI.replace("Beijing text.", "New text."))
    run = cli("build", "--root", news.root)
    assert run.code == 0, run.err
    got = tree(news.out)
    assert {p: got[p] for p in own} == own
    assert (news.out / ".well-known").is_dir() and os.readlink(news.out / "home.html") == "index.html"
    assert (news.out / "docs/thesis.txt").stat().st_mtime_ns == mtime
    assert "0 removed" in run.out and writer.read_record(news.out) == set(site_files(news.out)) - set(own) - {
        "home.html"}
    # An article removed takes its page with it, and only its page: the notes beside it stay.
    (news.root / "content/nato.md").unlink()
    run = cli("build", "--root", news.root)
    assert run.code == 0 and not (news.out / "2026/11/nato/index.html").exists()
    assert (news.out / "2026/11/nato/notes.txt").read_bytes() == b"beside a page"


def test_a_build_never_overwrites_a_file_it_did_not_write(news: Site, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "--root", news.root).code == 0
    before = tree(news.out)
    (news.out / writer.RECORD).write_text(
        "\n".join(p for p in sorted(writer.read_record(news.out) or ()) if p != "robots.txt") + "\n")
    (news.out / "robots.txt").write_text("my own robots")  # as if added after a build without one
    run = cli("build", "--root", news.root)
    assert run.code == 1
    assert "robots.txt: this build writes 'robots.txt', in the place of a file it did not write" in run.err
    assert run.err.splitlines()[-1] == f"failed; {news.out} is unchanged"
    assert (news.out / "robots.txt").read_text() == "my own robots"
    assert {p: d for p, d in tree(news.out).items() if p not in ("robots.txt", writer.RECORD)} == {
        p: d for p, d in before.items() if p not in ("robots.txt", writer.RECORD)}


@pytest.mark.parametrize("holds", ["a gh-pages work tree", "docs", "an older build"])
def test_a_folder_that_is_not_a_build_is_refused_and_left_alone(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, holds: str) -> None:
    out = tmp_path / "elsewhere"
    files = {"a gh-pages work tree": {".git/HEAD": "ref: refs/heads/gh-pages\n", "index.html": "old"},
             "docs": {"docs/thesis.txt": "years of work"},
             "an older build": {"index.html": "<h1>old</h1>", "404.html": "gone"}}[holds]
    for path, text in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text)
    before = tree(out)
    run = cli("build", "--root", news.root, "--out", out)
    assert run.code == 1
    assert f"{out}: refusing to build into this folder" in run.err and "Choose another --out" in run.err
    assert run.err.splitlines()[-1] == f"failed; {out} is unchanged"
    assert tree(out) == before and not writer.state_folder(out).exists()


def test_an_empty_folder_is_taken(news: Site, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "empty"
    out.mkdir()
    assert cli("build", "--root", news.root, "--out", out).code == 0
    assert "index.html" in tree(out)


@pytest.mark.parametrize("where", ["/", "home", "home's parent", "site root", "site's parent", "content",
                                   "inside content", "cache"])
def test_dangerous_output_folders_are_refused(  # type: ignore[no-untyped-def]
        news: Site, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    home = tmp_path / "home" / "me"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    out = {"/": Path("/"), "home": home, "home's parent": home.parent, "site root": news.root,
           "site's parent": news.root.parent, "content": news.root / "content",
           "inside content": news.root / "content" / "public",
           "cache": Path(os.environ["MARKETNEWS_CACHE"])}[where]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    run = cli("build", "--root", news.root, "--out", out)
    assert run.code == 1
    assert "refusing to build into" in run.err, run.err
    assert run.err.splitlines()[-1] == f"failed; {out} is unchanged"
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_a_file_or_a_mount_point_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(MarketnewsError, match="is a file, not a folder"):
        writer.check_output(tmp_path / "file")
    mounts = [Path(line.split()[1]) for line in Path("/proc/self/mounts").read_text().splitlines()]
    mount = next((m for m in mounts if m != Path("/") and m.is_dir() and not any(m.iterdir())), None)
    if mount is None:
        pytest.skip("no empty mount point on this machine")
    with pytest.raises(MarketnewsError, match="is a mount point"):
        writer.check_output(mount)


def test_a_permalink_change_swaps_files_and_folders(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for _ in range(3):  # twice through the spare tree, from either shape
        writer.write_site([OutputFile("a/index.html", b"folder"), OutputFile("b", b"file")], out)
        assert site_files(out) == {"a/index.html": b"folder", "b": b"file"}
        writer.write_site([OutputFile("a", b"file"), OutputFile("b/index.html", b"folder")], out)
        assert site_files(out) == {"a": b"file", "b/index.html": b"folder"}


def test_unchanged_files_keep_their_bytes_and_times_and_old_ones_their_inode(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer.write_site([OutputFile("same.html", b"same"), OutputFile("moves.html", b"one")], out)
    same, moves = os.stat(out / "same.html"), os.stat(out / "moves.html")
    for n in range(3):
        report = writer.write_site([OutputFile("same.html", b"same"), OutputFile("moves.html", b"%d" % n)], out)
        assert (report.changed, report.unchanged) == (1, 1)
        now = os.stat(out / "same.html")
        assert (now.st_ino, now.st_mtime_ns) == (same.st_ino, same.st_mtime_ns)
    assert moves.st_nlink == 1 and os.stat(out / "moves.html").st_ino != moves.st_ino


def test_someones_own_folders_keep_their_mode_owner_and_times_through_builds(tmp_path: Path) -> None:
    # The spare tree makes their folders again: a private folder once came back readable by
    # everyone, and owned by whoever built the site.
    out = tmp_path / "public"
    writer.write_site([OutputFile("index.html", b"one"), OutputFile("a/page.html", b"a")], out)
    private, empty, readonly = out / "private", out / "private/empty", out / "readonly"
    for folder in (private, empty, readonly):
        folder.mkdir()
    (private / "key.txt").write_text("secret")
    (readonly / "f.txt").write_text("f")
    (out / "a/theirs.txt").write_text("theirs")  # in a folder of the site's: that folder is the site's
    os.chmod(empty, 0o700)
    os.chmod(private, 0o710)
    os.chmod(readonly, 0o555)
    root = os.geteuid() == 0
    if root:
        os.chown(private, 65534, 65534)
    for folder in (empty, private, readonly):
        os.utime(folder, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    for n in range(3):  # each switches: every file and folder is carried into a new tree
        writer.write_site([OutputFile("index.html", f"v{n}".encode()), OutputFile("a/page.html", b"a")], out)
        assert (private / "key.txt").read_text() == "secret" and (out / "a/theirs.txt").read_text() == "theirs"
        assert {f.name: oct(f.stat().st_mode & 0o7777) for f in (private, empty, readonly)} == {
            "private": "0o710", "empty": "0o700", "readonly": "0o755"}  # (its owner may write it: see _as_theirs)
        assert all(f.stat().st_mtime_ns == 1_700_000_000_000_000_000 for f in (private, empty, readonly))
        if root:
            assert (private.stat().st_uid, private.stat().st_gid) == (65534, 65534)


def test_a_changed_file_is_written_over_the_spare_trees_own_file_and_never_over_a_published_one(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    spare = writer.state_folder(out) / "spare"
    writer.write_site([OutputFile("moves.html", b"one"), OutputFile("later.html", b"still")], out)
    writer.write_site([OutputFile("moves.html", b"two"), OutputFile("later.html", b"still")], out)
    # The spare is the build before last: its moves.html is its own, later.html is linked to the site's.
    own, shared = os.stat(spare / "moves.html"), os.stat(spare / "later.html")
    assert own.st_nlink == 1 and shared.st_ino == os.stat(out / "later.html").st_ino
    published = {p: (os.stat(out / p).st_ino, (out / p).read_bytes()) for p in ("moves.html", "later.html")}

    def unchanged_until_the_switch() -> None:  # what readers of the site see while the next one is made
        assert {p: (os.stat(out / p).st_ino, (out / p).read_bytes()) for p in published} == published

    writer.write_site([OutputFile("moves.html", b"three, longer"), OutputFile("later.html", b"changed")], out,
                      before_switch=unchanged_until_the_switch)
    assert site_files(out) == {"moves.html": b"three, longer", "later.html": b"changed"}
    assert os.stat(out / "moves.html").st_ino == own.st_ino  # written where it was, not replaced
    assert os.stat(out / "later.html").st_ino != shared.st_ino  # a new file: the old one was the site's
    assert (spare / "later.html").read_bytes() == b"still"
    writer.write_site([OutputFile("moves.html", b"4"), OutputFile("later.html", b"changed")], out)
    assert site_files(out) == {"moves.html": b"4", "later.html": b"changed"}  # shorter: cut to its length


def test_without_an_exchange_the_switch_is_two_renames_and_mends_a_crash_between(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "_EXCHANGE", None)
    out = tmp_path / "out"
    writer.write_site([OutputFile("index.html", b"one")], out)
    writer.write_site([OutputFile("index.html", b"two")], out)
    assert site_files(out) == {"index.html": b"two"}
    os.rename(out, writer.state_folder(out) / "old")  # a crash between the two renames
    writer.write_site([OutputFile("index.html", b"three"), OutputFile("x.html", b"x")], out)
    assert site_files(out) == {"index.html": b"three", "x.html": b"x"}
    assert sorted(p.name for p in writer.state_folder(out).iterdir()) == ["spare"]


def test_a_record_edited_to_point_outside_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer.write_site([OutputFile("index.html", b"one")], out)
    (out / writer.RECORD).write_text("index.html\n../../etc/passwd\n")
    with pytest.raises(MarketnewsError, match=r"\.marketnews-files:2: '\.\./\.\./etc/passwd' is not a plain"):
        writer.write_site([OutputFile("index.html", b"two")], out)
    assert site_files(out) == {"index.html": b"one"}


def test_a_second_build_waits_for_the_first_or_is_refused(tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    said: list[str] = []
    with writer.build_lock(out, cache):
        with pytest.raises(MarketnewsError, match=rf"another build is using the cache folder {cache} "
                                                  rf"\(process {os.getpid()}\)"), \
                writer.build_lock(tmp_path / "other", cache):
            pass
        with pytest.raises(MarketnewsError, match=rf"another build is using the output folder {out}"), \
                writer.build_lock(out, tmp_path / "other-cache"):
            pass
    with writer.build_lock(out, cache, said.append):  # free again
        pass
    assert said == []


def test_a_link_or_a_fifo_at_a_lock_is_refused_and_what_a_link_leads_to_is_left(tmp_path: Path) -> None:
    # The build writes its process number into its lock: through a link planted there it
    # would empty and overwrite whatever file the link leads to.
    out, cache = tmp_path / "out", tmp_path / "cache"
    victim = tmp_path / "victim"
    victim.write_text("someone's data\n")
    cache.mkdir()
    (cache / writer.CACHE_LOCK).symlink_to(victim)
    with pytest.raises(MarketnewsError, match=r"build\.lock: the lock of the cache folder .* is a symbolic link; "
                                              r"remove it"), writer.build_lock(out, cache):
        pass
    (cache / writer.CACHE_LOCK).unlink()
    writer.state_folder(out).mkdir(parents=True)
    (writer.state_folder(out) / "lock").symlink_to(victim)
    with pytest.raises(MarketnewsError, match=r"the lock of the output folder .* is a symbolic link"), \
            writer.build_lock(out, cache):
        pass
    assert victim.read_text() == "someone's data\n"
    (writer.state_folder(out) / "lock").unlink()
    os.mkfifo(writer.state_folder(out) / "lock")
    with pytest.raises(MarketnewsError, match=r"the lock of the output folder .* is not a file"), \
            writer.build_lock(out, cache):
        pass


def test_unchanged_pages_are_carried_into_a_spare_that_has_a_file_where_their_folder_goes(tmp_path: Path) -> None:
    # Two builds back, "x" was a page; since then it is a folder of pages. The spare tree
    # still has the page where the folder goes when the unchanged pages are linked into it.
    out = tmp_path / "public"
    writer.write_site([OutputFile("x", b"a page"), OutputFile("y.html", b"1")], out)
    folder = {"x/a.html": b"a", "x/b.html": b"b"}
    writer.write_site([OutputFile(p, d) for p, d in {**folder, "y.html": b"2"}.items()], out)
    assert (writer.state_folder(out) / "spare" / "x").is_file()
    report = writer.write_site([OutputFile(p, d) for p, d in {**folder, "y.html": b"3"}.items()], out)
    assert (report.unchanged, report.changed) == (2, 1)
    assert tree(out) == {**folder, "y.html": b"3", writer.RECORD: tree(out)[writer.RECORD]}


def test_a_stager_of_a_folder_named_relative_to_the_working_folder_stages_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stager = writer.Stager(Path("public"), set())
    assert within(30, lambda: stager.stage("a/b/index.html", b"page")) == "added"
    assert (writer.state_folder(tmp_path / "public") / "spare" / "a" / "b" / "index.html").read_bytes() == b"page"


def test_a_file_is_the_same_only_as_a_plain_file_of_those_bytes(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_bytes(b"page")
    os.mkfifo(tmp_path / "fifo")  # an empty FIFO is never opened (the open, or a read, would wait for a writer)
    (tmp_path / "folder").mkdir()
    os.symlink(tmp_path / "page.html", tmp_path / "link")
    same = {name: within(30, lambda name=name: writer._same(tmp_path / name, b"page")) for name in
            ("page.html", "fifo", "folder", "link", "missing")}
    assert same == {"page.html": True, "fifo": False, "folder": False, "link": True, "missing": False}
    assert not writer._same(str(tmp_path / "page.html"), b"pag") and not writer._same(tmp_path / "page.html", b"pagE")
    assert within(30, lambda: writer._same(tmp_path / "fifo", b"")) is False


def test_a_spare_tree_made_by_the_build_itself_is_not_walked_for_what_to_prune(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A first build (or a deploy's, into a new folder) makes its spare tree itself: all it
    # holds is what the build put there. Only a spare tree left by an earlier build is walked.
    out = tmp_path / "public"
    walked: list[Path] = []
    prune = writer._prune_spare

    def counted(spare: Path, *args: object) -> None:
        walked.append(spare)
        prune(spare, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "_prune_spare", counted)
    spare = writer.state_folder(out) / "spare"
    for n, expected in enumerate((0, 0, 1, 2)):  # the first two builds each make the spare tree anew
        assert spare.exists() == (n >= 2)
        writer.write_site([OutputFile("index.html", b"%d" % n), OutputFile(f"only-{n}.html", b"once")], out)
        assert len(walked) == expected
        site = tree(out)
        assert site == {"index.html": b"%d" % n, f"only-{n}.html": b"once", writer.RECORD: site[writer.RECORD]}
    assert sorted(p.name for p in spare.iterdir()) == sorted(["index.html", "only-2.html", writer.RECORD])


def test_a_stale_file_the_spare_cannot_lose_fails_the_build_and_leaves_the_site(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Left in the spare tree, it would be taken for someone's own file by the next build.
    out = tmp_path / "public"
    writer.write_site([OutputFile("old.html", b"old")], out)
    writer.write_site([OutputFile("new.html", b"new")], out)
    stale = writer.state_folder(out).resolve() / "spare" / "old.html"
    assert stale.is_file()
    unlink = os.unlink

    def refuse(path: str | Path, *args: object, **kwargs: object) -> None:
        if Path(path) == stale:
            raise PermissionError(13, "Permission denied", str(path))
        unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", refuse)
    with pytest.raises(MarketnewsError, match=r"old\.html: could not be removed .*Permission denied"):
        writer.write_site([OutputFile("newer.html", b"newer")], out)
    assert tree(out) == {"new.html": b"new", writer.RECORD: tree(out)[writer.RECORD]}
    monkeypatch.undo()
    writer.write_site([OutputFile("newer.html", b"newer")], out)  # once it can go, the build goes through
    assert tree(out) == {"newer.html": b"newer", writer.RECORD: tree(out)[writer.RECORD]}


@pytest.mark.parametrize("then", ["their own copy", "a new page there"])
def test_nothing_is_written_or_removed_through_a_link_of_theirs_left_in_the_spare(tmp_path: Path, then: str) -> None:
    # Someone's link public/d -> elsewhere is carried into each new site, so the spare tree
    # holds it too. When they replace it by a folder of their own, or take it away and the
    # site gets a page below it, the build makes d/e in the spare: it looks at d itself, and
    # neither links nor writes into elsewhere/e through it.
    out, elsewhere = tmp_path / "public", tmp_path / "elsewhere"
    (elsewhere / "e").mkdir(parents=True)
    (elsewhere / "e" / "own.txt").write_bytes(b"elsewhere")
    writer.write_site([OutputFile("a.html", b"1")], out)
    (out / "d").symlink_to(elsewhere, target_is_directory=True)
    writer.write_site([OutputFile("a.html", b"2")], out)
    assert (writer.state_folder(out) / "spare" / "d").is_symlink()
    (out / "d").unlink()
    pages = [OutputFile("a.html", b"3")]
    if then == "their own copy":
        (out / "d" / "e").mkdir(parents=True)
        (out / "d" / "e" / "own.txt").write_bytes(b"mine")
    else:
        pages.append(OutputFile("d/e/a.html", b"page"))
    writer.write_site(pages, out)
    assert tree(elsewhere) == {"e/own.txt": b"elsewhere"}
    expected = {"d/e/own.txt": b"mine"} if then == "their own copy" else {"d/e/a.html": b"page"}
    assert tree(out) == {"a.html": b"3", **expected, writer.RECORD: tree(out)[writer.RECORD]}


@pytest.mark.parametrize("jobs", [2, 1])
def test_a_build_fetches_ahead_the_ends_of_the_spare_files_it_writes_over(  # type: ignore[no-untyped-def]
        site: Site, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, jobs: int) -> None:
    # Writing over a file of the spare tree reads the page its new end falls in: the build
    # asks the kernel for the end of each file it is about to write over, for none of the
    # static files (linked in, never written over) and, in workers, for none of the
    # article pages it keeps.
    in_workers(monkeypatch, jobs)
    for i in range(30):
        site.write(f"content/s{i}.md", article(f"S{i}", f"2026-11-1{i % 10}T{i % 24:02d}:00:00Z",
                                               "Text. " * 3000, markets=["m-one"]))
    for i in range(6):  # no market: their pages are kept when only prices move
        site.write(f"content/calm{i}.md", article(f"Calm {i}", f"2026-10-0{i + 1}T10:00:00Z", "Calm text."))
    for price in (0.2, 0.3):
        site.snapshot({"m-one": quote("Will one happen?", price)})
        assert cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json").code == 0
    spare = writer.state_folder(site.out) / "spare"
    before = tree(site.out)
    sizes = {p: (spare / p).stat().st_size for p in tree(spare)}
    log = tmp_path / "advised.log"  # appended to by the workers too
    real = os.posix_fadvise

    def advise(fd: int, offset: int, length: int, advice: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if name.startswith(f"{spare}/"):
            with open(log, "a") as f:
                f.write(f"{name[len(str(spare)) + 1:]} {offset} {length}\n")
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", advise)
    site.snapshot({"m-one": quote("Will one happen?", 0.4)})
    assert cli("build", "--root", site.root, "--snapshot", site.root / "snapshot.json").code == 0
    advised = {path: (int(offset), int(length)) for path, offset, length in
               (line.split() for line in log.read_text().splitlines())}
    after = tree(site.out)
    written = {p for p in after if p in before and after[p] != before[p] and p != writer.RECORD}
    assert {"2026/11/s1/index.html", "index.html", "markets/m-one/index.html"} <= written
    assert written <= set(advised)
    assert {p for p in after if p.startswith("assets/")} and not {p for p in advised if p.startswith("assets/")}
    if jobs > 1:
        assert not {p for p in advised if p.startswith("2026/10/calm")}  # kept, not written over
    assert all(offset == max(sizes[p] - writer.TAIL, 0) and length == 0 for p, (offset, length) in advised.items())
    assert any(offset > 0 for offset, _ in advised.values())

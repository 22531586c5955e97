"""The whole output of a small site, byte for byte, against tests/golden/expected.

The golden site has one widget of every state (open, moving down, event, low volume,
stale, closed, resolved, missing), a table, a footnote, an image, a future article and
a non-UTC timezone. When a change to the output is intended, regenerate and review:

    MARKETNEWS_REGEN_GOLDEN=1 python3 -m pytest tests/test_golden.py && git diff tests/golden
"""

from __future__ import annotations

import difflib
import os
import shutil
import struct
from pathlib import Path

import pytest

from tests.conftest import NOW_EPOCH, REPO, tree

GOLDEN = Path(__file__).parent / "golden"


def test_golden_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "site"
    shutil.copytree(GOLDEN / "site", root)
    shutil.copytree(REPO / "layouts", root / "layouts")
    shutil.copytree(REPO / "static", root / "static", dirs_exist_ok=True)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NOW_EPOCH))
    monkeypatch.setenv("MARKETNEWS_CACHE", str(tmp_path / "cache"))
    run = cli("build", "--root", root, "--out", tmp_path / "out")
    assert run.code == 0, run.err
    assert "content/quiet-week.md:8: warning: markets: 'market-that-vanished'" in run.err
    got = tree(tmp_path / "out")
    expected_dir = GOLDEN / "expected"
    if os.environ.get("MARKETNEWS_REGEN_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(tmp_path / "out", expected_dir)
        pytest.skip("golden output regenerated; review it with git diff")
    expected = tree(expected_dir)
    assert sorted(got) == sorted(expected), "the set of output files differs"
    for path in sorted(expected):
        if path.startswith("cards/"):
            # Share cards: their names carry the digest of what they show, so the set of
            # files and the pages' links check that; the pixels depend on Pillow's
            # version and are compared in tests/test_cards.py, not against a file.
            assert got[path][:8] == b"\x89PNG\r\n\x1a\n" and got[path][16:24] == struct.pack(">II", 1200, 630)
            continue
        if got[path] != expected[path]:
            diff = "\n".join(difflib.unified_diff(
                expected[path].decode(errors="replace").splitlines(), got[path].decode(errors="replace").splitlines(),
                f"expected/{path}", f"got/{path}", lineterm="", n=2))
            pytest.fail(f"{path} differs from the golden output:\n{diff[:4000]}")

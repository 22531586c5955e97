"""The deploy workflow's `run:` steps, run in order in a fresh copy of the repository with
CI=true (tests/workflows.py): the strict check comes first, and a failed check stops the
run before anything is built or deployed. Install and upload are replaced here (this
environment's packages, with the copy on PYTHONPATH; a look at public/ instead of
Netlify); `python3 -m tests.workflows` runs both workflows whole, installs included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NOW_EPOCH, article
from tests.sitebuild import REPO
from tests.workflows import StepResult, condition_holds, load, run_job

DEPLOY = REPO / ".github" / "workflows" / "deploy.yml"
HERE_INSTEAD = {
    "Install": "true",  # this environment's packages; the copy is on PYTHONPATH
    "Deploy to Netlify": 'test -f public/index.html && find public -type f | wc -l > uploaded.txt',
}


def fresh_copy(dest: Path) -> Path:
    """The repository's files as a checkout has them: tracked and new, not ignored ones."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def shims(bin_dir: Path) -> Path:
    """`python` and `marketnews` as a runner has them after the Install step."""
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    script = bin_dir / "marketnews"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom marketnews.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return bin_dir


def run_deploy(tmp_path: Path) -> tuple[list[StepResult], Path]:
    repo = fresh_copy(tmp_path / "repo")
    # No test reaches the internet: the example snapshot's odds, read at an hour after they were taken.
    env = {"PYTHONPATH": str(repo), "MARKETNEWS_OFFLINE": "1", "SOURCE_DATE_EPOCH": str(NOW_EPOCH)}
    return run_job(load(DEPLOY), repo, shims(tmp_path / "bin"), replace=HERE_INSTEAD, extra_env=env), repo


def outcomes(results: list[StepResult]) -> dict[str, str]:
    return {r.name: r.outcome for r in results}


def test_the_deploy_checks_builds_and_deploys_in_a_fresh_copy(tmp_path: Path) -> None:
    results, repo = run_deploy(tmp_path)
    names = [r.name for r in results]
    assert names.index("Check the content strictly") < names.index("Build") < names.index("Deploy to Netlify")
    ran = outcomes(results)
    assert ran["Check the content strictly"] == ran["Build"] == ran["Deploy to Netlify"] == "success", results
    assert ran["Save the snapshot cache"] == "not run here"  # a `uses:` step that would run
    assert int((repo / "uploaded.txt").read_text()) > 30
    assert (repo / "public" / "index.html").is_file()


def test_a_broken_article_stops_the_deploy_before_the_build(tmp_path: Path) -> None:
    (tmp_path / "repo" / "content").mkdir(parents=True)
    (tmp_path / "repo" / "content" / "broken.md").write_text(article("Broken", tittle="typo"), encoding="utf-8")
    results, repo = run_deploy(tmp_path)
    ran = outcomes(results)
    assert ran["Check the content strictly"] == "failure"
    assert "content/broken.md:4" in next(r.detail for r in results if r.name == "Check the content strictly")
    assert ran["Build"] == ran["Deploy to Netlify"] == "skipped"
    assert ran["Save the snapshot cache"] == "skipped"  # nothing was restored or built to save
    assert not (repo / "public").exists() and not (repo / "uploaded.txt").exists()


def test_every_condition_in_the_workflows_is_understood() -> None:
    for name in ("test.yml", "deploy.yml"):
        (job,) = load(REPO / ".github" / "workflows" / name)["jobs"].values()
        for step in job["steps"]:
            condition_holds(step.get("if"), failed=True, outcomes={})  # raises on a form it cannot evaluate


@pytest.mark.parametrize(("expr", "failed", "build", "runs"), [
    (None, False, "success", True),
    (None, True, "success", False),
    ("always()", True, "skipped", True),
    ("always() && steps.build.outcome != 'skipped'", True, "failure", True),
    ("always() && steps.build.outcome != 'skipped'", True, "skipped", False),
    ("steps.build.outcome == 'success'", True, "success", False),
    ("failure()", True, "failure", True),
    ("${{ success() }}", False, "success", True),
])
def test_conditions(expr: str | None, failed: bool, build: str, runs: bool) -> None:
    assert condition_holds(expr, failed, {"build": build}) is runs

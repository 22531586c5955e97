"""The GitHub Actions workflows, loaded as YAML: what runs, when, and with which secrets."""

from __future__ import annotations

from typing import Any

import yaml

from tests.sitebuild import REPO

WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = doc["jobs"].values()
    return list(job["steps"])


def step_index(all_steps: list[dict[str, Any]], predicate: Any) -> int:
    found = [i for i, s in enumerate(all_steps) if predicate(s)]
    assert len(found) == 1, found
    return found[0]


def test_tests_run_on_every_push_and_pull_request() -> None:
    doc = load("test.yml")
    assert "push" in doc["on"] and "pull_request" in doc["on"]
    assert doc["on"]["push"] is None  # every branch
    runs = [s.get("run", "") for s in steps(doc)]
    assert any("pytest" in r for r in runs)
    assert any(r.strip() == "marketnews check --strict" for r in runs)
    assert any(r.startswith("ruff check") for r in runs) and any(r.strip() == "mypy" for r in runs)
    install = next(r for r in runs if "pip install" in r)
    assert "test" in install and "dev" in install and "browser" in install
    # The suite once more with the fast extra, so that its tests (markdown-it-pyrs, lz4) do not only skip.
    tests = next(r for r in runs if "pytest" in r)
    assert tests.index("pytest") < tests.index("[test,browser,dev,fast]") < tests.rindex("pytest")


def test_tests_install_what_the_browser_tests_need() -> None:
    """GitHub sets CI=true, under which a browser test without Chromium, Playwright or
    axe-core fails: the job installs all three, and points the tests at the Chromium."""
    all_steps = steps(load("test.yml"))
    browser = step_index(all_steps, lambda s: "playwright install" in s.get("run", ""))
    tests = step_index(all_steps, lambda s: "pytest" in s.get("run", ""))
    script = all_steps[browser]["run"]
    assert browser < tests
    assert "--with-deps chromium" in script and "MARKETNEWS_CHROMIUM=" in script and "$GITHUB_ENV" in script
    assert "npm ci --prefix tests/browser" in script


def test_deploy_runs_hourly_on_push_to_main_and_by_hand() -> None:
    doc = load("deploy.yml")
    on = doc["on"]
    assert on["schedule"] == [{"cron": "0 * * * *"}]
    assert on["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in on
    assert doc["concurrency"]["cancel-in-progress"] is False  # never cut a deploy off half-way


def test_deploy_restores_builds_saves_then_deploys_in_that_order() -> None:
    doc = load("deploy.yml")
    all_steps = steps(doc)
    restore = step_index(all_steps, lambda s: str(s.get("uses", "")).startswith("actions/cache/restore@"))
    build = step_index(all_steps, lambda s: "build.py" in s.get("run", ""))
    save = step_index(all_steps, lambda s: str(s.get("uses", "")).startswith("actions/cache/save@"))
    deploy = step_index(all_steps, lambda s: "netlify-cli" in s.get("run", ""))
    assert restore < build < save < deploy

    cache_dir = doc["env"]["MARKETNEWS_CACHE"]
    assert all_steps[restore]["with"]["path"] == cache_dir == all_steps[save]["with"]["path"]
    # A new key each run (cache entries are immutable); restore the newest by prefix.
    prefix = all_steps[restore]["with"]["restore-keys"]
    assert all_steps[restore]["with"]["key"].startswith(prefix)
    assert all_steps[restore]["with"]["key"] == all_steps[save]["with"]["key"]
    assert "github.run_id" in all_steps[save]["with"]["key"]
    # Saved when the build ran, even when it failed; not when the check stopped the run first.
    assert all_steps[save]["if"] == "always() && steps.build.outcome != 'skipped'"
    assert all_steps[build]["id"] == "build"

    assert "--max-stale" in all_steps[build]["run"]
    assert doc["env"]["MAX_STALE"].endswith("h")


def test_deploy_checks_strictly_before_it_builds_and_only_deploys_after_both() -> None:
    all_steps = steps(load("deploy.yml"))
    check = step_index(all_steps, lambda s: s.get("run", "").strip() == "marketnews check --strict")
    build = step_index(all_steps, lambda s: "build.py" in s.get("run", ""))
    deploy = step_index(all_steps, lambda s: "netlify-cli" in s.get("run", ""))
    assert check < build < deploy
    # No condition of their own: each runs only when every step before it succeeded.
    assert "if" not in all_steps[check] and "if" not in all_steps[build] and "if" not in all_steps[deploy]


def test_deploy_uses_the_netlify_cli_with_secrets_and_no_second_build() -> None:
    doc = load("deploy.yml")
    step = steps(doc)[step_index(steps(doc), lambda s: "netlify-cli" in s.get("run", ""))]
    command = step["run"].split()
    assert command[:3] == ["npx", "--yes", "netlify-cli@27"]
    assert "deploy" in command and "--prod" in command and "--no-build" in command
    assert command[command.index("--dir") + 1] == "public"
    assert step["env"] == {
        "NETLIFY_AUTH_TOKEN": "${{ secrets.NETLIFY_AUTH_TOKEN }}",
        "NETLIFY_SITE_ID": "${{ secrets.NETLIFY_SITE_ID }}",
    }


def test_workflows_only_read_the_repository() -> None:
    for name in ("test.yml", "deploy.yml"):
        assert load(name)["permissions"] == {"contents": "read"}

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
    assert "test" in install and "dev" in install


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
    assert all_steps[save]["if"] == "always()"

    assert "--max-stale" in all_steps[build]["run"]
    assert doc["env"]["MAX_STALE"].endswith("h")


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

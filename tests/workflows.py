"""Run a GitHub Actions workflow's `run:` steps here, in order, as a hosted runner would.

    python3 -m tests.workflows .github/workflows/test.yml [--matrix python-version=3.11]

clones the repository into a temporary folder, makes a fresh virtualenv there (its
`python` first on PATH, as actions/setup-python leaves it), and runs each step's `run:`
script with bash -e, with CI=true and GITHUB_ACTIONS=true, the workflow's, job's and
step's `env:`, and what earlier steps appended to $GITHUB_ENV. A step's `if:` is
evaluated (the forms our workflows use; anything else is an error, so a new condition
cannot be run wrongly), and a failed step skips every later step that does not ask for
always(). `uses:` steps are GitHub's own actions and are listed as not run. Steps that
need more than the package registries (Playwright's browser download, Netlify's upload)
are replaced by a local equivalent named in the output. The tests import `run_job`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_OUTCOME = re.compile(r"^steps\.([\w-]+)\.outcome\s*(==|!=)\s*'(\w+)'$")


@dataclass(frozen=True)
class StepResult:
    name: str
    outcome: str  # success, failure, skipped, or "not run here" for a `uses:` step
    detail: str = ""


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def step_name(step: Mapping[str, Any]) -> str:
    return str(step.get("name") or step.get("uses") or step.get("run", "").split("\n")[0])


def condition_holds(expr: str | None, failed: bool, outcomes: Mapping[str, str]) -> bool:
    """A step's `if:`: none means success(); `a && b` of always(), success(), failure(),
    !cancelled() and `steps.ID.outcome == / != 'x'`."""
    if expr is None:
        return not failed
    text = _EXPR.sub(r"\1", str(expr)).strip()
    result, has_status = True, False
    for term in (t.strip() for t in text.split("&&")):
        if term in ("always()", "!cancelled()"):
            has_status = True
        elif term == "success()":
            has_status, result = True, result and not failed
        elif term == "failure()":
            has_status, result = True, result and failed
        elif match := _OUTCOME.match(term):
            step_id, op, value = match.groups()
            equal = outcomes.get(step_id, "skipped") == value
            result = result and (equal if op == "==" else not equal)
        else:
            raise ValueError(f"cannot evaluate the condition {expr!r} (term {term!r})")
    return result if has_status else result and not failed


def substitute(script: str, context: Mapping[str, str]) -> str:
    """`${{ matrix.x }}`, `${{ github.sha }}`, `${{ secrets.X }}` -> their values here."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("secrets."):
            return ""
        if key not in context:
            raise ValueError(f"no value for ${{{{ {key} }}}} here")
        return context[key]

    return _EXPR.sub(value, script)


def read_github_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line:
                key, _, val = line.partition("=")
                values[key] = val
    return values


def run_job(doc: dict[str, Any], workdir: Path, bin_dir: Path, *, matrix: Mapping[str, str] | None = None,
            replace: Mapping[str, str] | None = None, extra_env: Mapping[str, str] | None = None,
            echo: bool = False) -> list[StepResult]:
    """Run the one job's steps in `workdir` with `bin_dir` first on PATH; `replace` maps a
    step's name to the script run instead of its own."""
    (job,) = doc["jobs"].values()
    replace = replace or {}
    context = {f"matrix.{k}": v for k, v in (matrix or {}).items()}
    context |= {"github.event_name": "workflow_dispatch", "github.sha": "0" * 40, "github.run_id": "1",
                "github.run_attempt": "1"}
    github_env = workdir.parent / "github_env"
    github_env.write_text("", encoding="utf-8")
    # Nothing of this shell's own set-up reaches the steps: they see the clone alone.
    own = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "SOURCE_DATE_EPOCH") and not k.startswith("MARKETNEWS_")}
    base_env = {**own, **(extra_env or {}), "CI": "true", "GITHUB_ACTIONS": "true",
                "GITHUB_ENV": str(github_env), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for key, val in {**doc.get("env", {}), **job.get("env", {})}.items():
        base_env[key] = substitute(str(val), context)
    results: list[StepResult] = []
    outcomes: dict[str, str] = {}
    failed = False
    for step in job["steps"]:
        name = step_name(step)
        runs = condition_holds(step.get("if"), failed, outcomes)
        if "uses" in step:
            results.append(StepResult(name, "not run here" if runs else "skipped", str(step["uses"])))
            continue
        if not runs:
            results.append(StepResult(name, "skipped"))
            outcomes[str(step.get("id", ""))] = "skipped"
            continue
        script = replace.get(name, step["run"])
        env = {**base_env, **read_github_env(github_env)}
        env |= {k: substitute(str(v), context) for k, v in step.get("env", {}).items()}
        if echo:
            print(f"\n=== {name}" + (" (replaced here)" if name in replace else ""), flush=True)
            print(substitute(script, context).rstrip(), flush=True)
        proc = subprocess.run(["bash", "-e", "-c", substitute(script, context)], cwd=workdir, env=env,
                              capture_output=not echo, text=True)
        outcome = "success" if proc.returncode == 0 else "failure"
        detail = "" if echo else (proc.stdout + proc.stderr)[-4000:]
        results.append(StepResult(name, outcome, detail))
        outcomes[str(step.get("id", ""))] = outcome
        failed = failed or outcome == "failure"
    return results


# What runs here instead of a step that needs more than the package registries.
REPLACEMENTS = {
    "Install Chromium and axe-core for the browser tests": (
        "Debian's chromium instead of Playwright's download (not reachable here)",
        'test -x /usr/bin/chromium && echo "MARKETNEWS_CHROMIUM=/usr/bin/chromium" >> "$GITHUB_ENV"\n'
        "npm ci --prefix tests/browser --no-audit --no-fund\n",
    ),
    "Deploy to Netlify": (
        "lists what would be uploaded instead of uploading it (no Netlify site here)",
        'test -f public/index.html && echo "would upload $(find public -type f | wc -l) files from public/"\n',
    ),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run a workflow's run: steps in a fresh clone, with CI=true.")
    ap.add_argument("workflow", type=Path)
    ap.add_argument("--matrix", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--repo", type=Path, default=REPO, help="the repository to clone (default: this one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="set for every step, e.g. SOURCE_DATE_EPOCH=1795280400 to read the example odds as fresh")
    args = ap.parse_args(argv)
    doc = load(args.workflow)
    matrix = dict(item.split("=", 1) for item in args.matrix)
    tmp = Path(tempfile.mkdtemp(prefix="workflow-"))
    try:
        clone = tmp / "repo"
        subprocess.run(["git", "clone", "-q", str(args.repo), str(clone)], check=True)
        subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
        replace = {name: script for name, (_, script) in REPLACEMENTS.items()}
        extra = dict(item.split("=", 1) for item in args.env)
        results = run_job(doc, clone, tmp / "venv" / "bin", matrix=matrix, replace=replace, extra_env=extra,
                          echo=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n=== {args.workflow} in a fresh clone of {args.repo}, CI=true")
    for r in results:
        note = f"  ({REPLACEMENTS[r.name][0]})" if r.name in REPLACEMENTS and r.outcome != "skipped" else ""
        print(f"{r.outcome:>13}  {r.name}{' ' + r.detail if r.outcome == 'not run here' else ''}{note}")
    return 0 if all(r.outcome != "failure" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

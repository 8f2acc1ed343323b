"""The CI pipelines users copy (ci/pipelines/, issue 13) call rearbuild as it is: every `rearbuild ...` line in
them parses with rearbuild's own command line (a renamed workflow or option fails here, not in a user's CI at
night), the extras they install exist, the helper scripts they run are there, and every action is pinned."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from rearbuild.cli import _parser
from rearbuild.errors import UserError
from rearbuild.workflow import Workflow

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ROOT / "ci" / "pipelines"
GITHUB = PIPELINES / "github" / "rearbuild.yml"
GITLAB = PIPELINES / "gitlab" / ".gitlab-ci.yml"
# the commands the flow is made of (issue 13): fetch the bundle, build it in the container, publish the results
FLOW = {"fetch", "build", "publish"}
_OPERATORS = re.compile(r"^[;&|<>()]+$")


@dataclass(frozen=True)
class Call:
    where: str  # file:job, for the failure message
    argv: tuple[str, ...]  # after `rearbuild`


def github_scripts(path: Path) -> Iterator[tuple[str, str]]:
    doc = yaml.safe_load(path.read_text())
    for name, job in doc["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                yield f"{path.name}:{name}", step["run"]


def gitlab_scripts(path: Path) -> Iterator[tuple[str, str]]:
    doc = yaml.safe_load(path.read_text())
    for name, job in doc.items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            lines = job.get(key, [])
            yield f"{path.name}:{name}", "\n".join(lines)


def calls(where: str, script: str) -> Iterator[Call]:
    """Every `.../bin/rearbuild ARGS` in a shell script: its arguments up to the end of the command."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token.endswith("bin/rearbuild"):
                argv = []
                for arg in tokens[i + 1 :]:
                    if _OPERATORS.match(arg):
                        break
                    argv.append(arg)
                yield Call(where, tuple(argv))


def pipeline_calls(path: Path) -> list[Call]:
    scripts = github_scripts(path) if path == GITHUB else gitlab_scripts(path)
    return [call for where, script in scripts for call in calls(where, script)]


def check(call: Call) -> Workflow:
    """Parse like `rearbuild` does; a mistake fails the test with the pipeline's line."""
    # Whole option names only: argparse would take `--engin` for `--engine`, and a renamed `--engine-url` for
    # `--engine`, and a pipeline that works by abbreviation breaks when another option starts the same.
    parser = _parser()
    parser.allow_abbrev = False
    try:
        options = parser.parse_args(list(call.argv))
    except SystemExit:
        pytest.fail(f"{call.where}: `rearbuild {shlex.join(call.argv)}`: not rearbuild's global options")
    try:
        workflow = Workflow.parse(options.workflow)
        arguments = workflow.argument_parser()
        arguments.allow_abbrev = False
        arguments.parse_args(list(options.args))
    except UserError as exc:
        pytest.fail(f"{call.where}: `rearbuild {shlex.join(call.argv)}`: {exc.message}")
    return workflow


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_every_rearbuild_command_in_the_pipelines_is_real(path: Path) -> None:
    found = pipeline_calls(path)
    workflows = {check(call).value for call in found}
    # the whole flow is there (an extraction that finds nothing would pass everything)
    assert workflows == FLOW, f"{path.name} calls {sorted(workflows)}"
    builds = [c.argv for c in found if "build" in c.argv]
    assert builds and all("--container" in argv for argv in builds), "the builders build in the container"


def test_a_renamed_option_is_caught() -> None:
    """The check is not vacuous: the pipeline's own build line with one option misspelt is refused."""
    [build] = [c for c in pipeline_calls(GITHUB) if "build" in c.argv]
    broken = Call("github", tuple("--containers" if a == "--container" else a for a in build.argv))
    with pytest.raises(pytest.fail.Exception, match="--containers"):
        check(broken)
    abbreviated = Call("github", tuple(a[:-1] if a.startswith("--") else a for a in build.argv))
    with pytest.raises(pytest.fail.Exception, match="unrecognized arguments"):
        check(abbreviated)
    with pytest.raises(pytest.fail.Exception, match="no workflow"):
        check(Call("github", ("-v", "fetchh", "oci://registry/x", "bundle")))


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_the_extras_the_pipelines_install_exist(path: Path) -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    wanted = set(re.findall(r"\./rearbuild\[([a-z,]+)\]", path.read_text()))
    named = {e for group in wanted for e in group.split(",")}
    assert named, f"{path.name} installs no rearbuild extra"
    assert named <= extras, f"{path.name} installs rearbuild[{','.join(sorted(named - extras))}], not in pyproject"


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_the_helper_scripts_the_pipelines_run_exist(path: Path) -> None:
    helpers = set(re.findall(r"rearbuild/ci/pipelines/([\w-]+)", path.read_text()))
    assert helpers == {"compare-runs", "store-login"}
    for name in helpers:
        script = PIPELINES / name
        assert script.is_file() and script.stat().st_mode & 0o111, f"{script} is missing or not executable"


def test_every_github_action_is_pinned_by_commit() -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", GITHUB.read_text())
    assert uses
    for action, comment in uses:
        # a full commit SHA cannot be moved like a tag; the comment says which release it is
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{action}: no `# vX.Y.Z` comment"


def _gitlab_jobs() -> tuple[list[str], dict[str, dict[str, object]], set[str]]:
    doc = yaml.safe_load(GITLAB.read_text())
    keywords = {"workflow", "stages", "variables", "default", "include", "image", "services", "cache"}
    jobs = {k: v for k, v in doc.items() if k not in keywords and not k.startswith(".")}
    return doc["stages"], jobs, {k for k in doc if k.startswith(".")}


def _needs(job: dict[str, object]) -> list[str]:
    needs = job.get("needs", [])
    assert isinstance(needs, list)
    return [n if isinstance(n, str) else n["job"] for n in needs]


def test_the_gitlab_jobs_fit_together() -> None:
    """What GitLab checks only when the pipeline is created: stages, extends and needs name what exists, and a
    job needs only jobs of earlier stages."""
    stages, jobs, templates = _gitlab_jobs()
    for name, job in jobs.items():
        assert job.get("stage") in stages, f"{name}: stage {job.get('stage')!r} is not in stages"
        extends = job.get("extends", [])
        for template in [extends] if isinstance(extends, str) else extends:
            assert template in templates, f"{name} extends {template}, which does not exist"
        for need in _needs(job):
            assert need in jobs, f"{name} needs {need}, which does not exist"
            assert stages.index(jobs[need]["stage"]) < stages.index(job["stage"]), f"{name} needs a later {need}"


def test_two_builders_on_different_runners_gate_the_publish() -> None:
    """The reproducibility gate compares two builds made on different machines, and nothing is published
    unless it passed (one builder, or a publish beside the compare, would make it pointless)."""
    gh = yaml.safe_load(GITHUB.read_text())["jobs"]
    runners = gh["build"]["strategy"]["matrix"]["runner"]
    assert len(set(runners)) == 2 and gh["build"]["runs-on"] == "${{ matrix.runner }}"
    assert "build" in gh["compare"]["needs"] and "compare" in gh["publish"]["needs"]
    _, jobs, _ = _gitlab_jobs()
    build = jobs["build"]
    [matrix] = build["parallel"]["matrix"]
    assert len(set(matrix["RUNNER"])) == 2 and build["tags"] == ["$RUNNER"]
    assert "build" in _needs(jobs["compare"]) and "compare" in _needs(jobs["publish"])

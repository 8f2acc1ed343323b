"""The CI pipelines users copy (ci/pipelines/, issue 13), checked with the tools that exist as packages: the
GitHub workflow with jactionlint (actionlint's checks, with shellcheck on every `run:`) and GitHub's workflow
schema, the GitLab pipeline with GitLab's schema and shellcheck on its scripts (check-jsonschema's vendored
schemas, no network); a broken copy of each is refused by them. The helper scripts the pipelines run are run
here for real: compare-runs (the reproducibility gate) and store-login (secrets to where rearbuild reads them).

Nothing here runs GitHub or GitLab: what only their servers check (runner labels that exist for your account,
secrets, permissions of the token) is not checked."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_pipelines import GITHUB, GITLAB, PIPELINES, gitlab_scripts

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A linter from the dev extra (the venv) or Debian (shellcheck); missing is a failure, never a skip."""
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is missing: pip install -e '.[dev]' (and apt-get install shellcheck, ci/packages.txt)"
    return found


def run(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def jactionlint(path: Path) -> subprocess.CompletedProcess[str]:
    tool("shellcheck")  # without it jactionlint skips the `run:` scripts and says nothing
    # pedantic: also actions on a removed Node.js runtime, secrets outside an environment, undocumented
    # permissions; every finding fails (--strict-exit). Left out: unlocked-install, which wants pip's
    # --uploaded-prior-to (pip 26), newer than the pip setup-python's Python 3.11 is known to bring.
    return run(tool("jactionlint"), "--no-color", "--no-online", "--profile", "pedantic", "--strict-exit",
               "--ignore", "unlocked-install", str(path))  # fmt: skip


def schema(name: str, path: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("check-jsonschema"), "--builtin-schema", name, str(path))


def shellcheck_gitlab(path: Path, tmp_path: Path) -> list[str]:
    """shellcheck each job's before_script + script as the runner runs them (bash, one shell, -e)."""
    problems = []
    for where, script in gitlab_scripts(path):
        name = where.split(":", 1)[1].strip(".")
        file = tmp_path / f"{name}.sh"
        file.write_text(f"#!/bin/bash\nset -eo pipefail\n{script}\n")
        result = run(tool("shellcheck"), "--severity=info", str(file))
        if result.returncode != 0:
            problems.append(f"{where}:\n{result.stdout}")
    return problems


def test_the_github_workflow_passes_actionlint_and_shellcheck() -> None:
    result = jactionlint(GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_github_workflow_matches_githubs_schema() -> None:
    result = schema("vendor.github-workflows", GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gitlab_pipeline_matches_gitlabs_schema() -> None:
    result = schema("vendor.gitlab-ci", GITLAB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gitlab_scripts_pass_shellcheck(tmp_path: Path) -> None:
    assert shellcheck_gitlab(GITLAB, tmp_path) == []


def test_the_helper_scripts_pass_shellcheck() -> None:
    result = run(tool("shellcheck"), "--severity=info", str(PIPELINES / "compare-runs"))
    assert result.returncode == 0, result.stdout


def _broken(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text()
    assert old in text, f"{old!r} is no longer in {source.name}: update the mutation"
    copy = tmp_path / source.name
    copy.write_text(text.replace(old, new, 1))
    return copy


@pytest.mark.parametrize(
    ("old", "new", "catches"),
    [
        ("needs: bundle\n", "needs: bundel\n", "bundel"),  # a job that does not exist
        ("runs-on: ubuntu-24.04", "runs-on: ubuntu-2404", "ubuntu-2404"),  # a runner label GitHub has not
        ('store-login "$BUNDLE_URL"', "store-login $BUNDLE_URL", "SC2086"),  # shellcheck: unquoted
        ("${{ needs.bundle.outputs.rearbuild-commit }}", "${{ needs.bundle.outputs.commit }}", "commit"),
    ],
    ids=["unknown-job", "runner-label", "shellcheck", "unknown-output"],
)
def test_a_broken_github_workflow_is_refused(tmp_path: Path, old: str, new: str, catches: str) -> None:
    result = jactionlint(_broken(tmp_path, GITHUB, old, new))
    assert result.returncode != 0 and catches in result.stdout, result.stdout


def test_a_broken_github_workflow_fails_the_schema(tmp_path: Path) -> None:
    result = schema("vendor.github-workflows", _broken(tmp_path, GITHUB, "    runs-on: ubuntu-24.04", "    run-on: x"))
    assert result.returncode != 0, result.stdout


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  needs: [bundle]\n", "  needs: bundle\n"),  # needs is a list
        ("    matrix:\n", "    matrixx:\n"),  # a misspelt keyword
        ("expire_in: 7 days", "expire_in: [7 days]"),
    ],
    ids=["needs-type", "misspelt-key", "expire-type"],
)
def test_a_broken_gitlab_pipeline_fails_the_schema(tmp_path: Path, old: str, new: str) -> None:
    result = schema("vendor.gitlab-ci", _broken(tmp_path, GITLAB, old, new))
    assert result.returncode != 0, result.stdout


def test_a_broken_gitlab_script_fails_shellcheck(tmp_path: Path) -> None:
    broken = _broken(tmp_path, GITLAB, 'fetch "$BUNDLE_URL" bundle', "fetch $BUNDLE_URL bundle")
    (tmp_path / "sh").mkdir()
    problems = shellcheck_gitlab(broken, tmp_path / "sh")
    assert len(problems) == 1 and "SC2086" in problems[0]


# compare-runs: the reproducibility gate


def _run_dir(root: Path, iso: bytes, log: str = "built at 03:00") -> Path:
    host = root / "web1"
    host.mkdir(parents=True)
    (host / "rear-web1.iso").write_bytes(iso)
    (host / "rear-web1.iso.sha256").write_text(f"{hashlib.sha256(iso).hexdigest()}  rear-web1.iso\n")
    (host / "rear-web1.log").write_text(log)
    return root


def compare(*runs: Path) -> subprocess.CompletedProcess[str]:
    return run(str(PIPELINES / "compare-runs"), *map(str, runs))


def test_compare_passes_equal_runs_whatever_their_logs(tmp_path: Path) -> None:
    a = _run_dir(tmp_path / "a", b"ISO" * 1000, log="runner 1")
    b = _run_dir(tmp_path / "b", b"ISO" * 1000, log="runner 2, another time")
    result = compare(a, b)
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(b"ISO" * 1000).hexdigest() in result.stdout


def test_compare_fails_runs_that_differ_and_names_the_file(tmp_path: Path) -> None:
    result = compare(_run_dir(tmp_path / "a", b"ISO-1"), _run_dir(tmp_path / "b", b"ISO-2"))
    assert result.returncode == 1
    assert "web1/rear-web1.iso" in result.stdout and "not reproducible" in result.stderr


def test_compare_fails_a_result_damaged_after_its_build(tmp_path: Path) -> None:
    a = _run_dir(tmp_path / "a", b"ISO")
    b = _run_dir(tmp_path / "b", b"ISO")
    (b / "web1" / "rear-web1.iso").write_bytes(b"ISX")  # its .sha256 still names the built bytes
    result = compare(a, b)
    assert result.returncode == 1 and "does not match its file" in result.stderr


def test_compare_fails_runs_without_an_image_or_with_a_missing_run(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    result = compare(tmp_path / "a", tmp_path / "b")
    assert result.returncode == 1 and "no ISO" in result.stderr
    result = compare(_run_dir(tmp_path / "c", b"ISO"), tmp_path / "missing")
    assert result.returncode == 1 and "not a directory" in result.stderr
    extra = _run_dir(tmp_path / "d", b"ISO")
    (extra / "web1" / "rear-web1.efi").write_bytes(b"more")
    result = compare(_run_dir(tmp_path / "e", b"ISO"), extra)
    assert result.returncode == 1 and "rear-web1.efi" in result.stdout
    assert compare(tmp_path / "a").returncode == 2  # one run compares nothing


# store-login: secrets from the CI's environment to where rearbuild reads credentials

SECRET = "s3cr3t-Pa55w0rd"


def login(url: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKER_", "NETRC", "REGISTRY_", "DAV_"))}
    return run(sys.executable, str(PIPELINES / "store-login"), url, env={**clean, "HOME": str(home), **env})


def test_login_writes_the_registry_credentials_where_docker_login_does(tmp_path: Path) -> None:
    config = tmp_path / ".docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"other.example": {"auth": "eA=="}}, "credHelpers": {}}))
    result = login("oci://ghcr.io/acme/rescue:web1", tmp_path, REGISTRY_USER="bot", REGISTRY_PASSWORD=SECRET)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    written = json.loads(config.read_text())
    assert written["auths"]["other.example"] == {"auth": "eA=="}  # what was there is kept
    assert written["auths"]["ghcr.io"] == {"auth": "Ym90OnMzY3IzdC1QYTU1dzByZA=="}  # base64("bot:" + SECRET)
    assert config.stat().st_mode & 0o777 == 0o600
    # DOCKER_CONFIG, as docker reads it
    result = login("oci://127.0.0.1:5000/r", tmp_path, DOCKER_CONFIG=str(tmp_path / "dc"), REGISTRY_USER="u",
                   REGISTRY_PASSWORD=SECRET)  # fmt: skip
    assert "127.0.0.1:5000" in json.loads((tmp_path / "dc" / "config.json").read_text())["auths"]


def test_login_writes_netrc_for_webdav_and_replaces_the_hosts_line(tmp_path: Path) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine dav.example login old password old\nmachine keep.example login k password k\n")
    result = login("https://dav.example:8443/rescue", tmp_path, DAV_USER="bot", DAV_PASSWORD=SECRET)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert netrc.read_text().splitlines() == [
        "machine keep.example login k password k",
        f"machine dav.example login bot password {SECRET}",
    ]
    assert netrc.stat().st_mode & 0o777 == 0o600
    result = login("https://dav.example/x", tmp_path, DAV_USER="bot", DAV_PASSWORD="two words")
    assert result.returncode == 1 and "white space" in result.stderr and "two words" not in result.stderr


def test_login_refuses_half_a_secret_and_credentials_in_the_url(tmp_path: Path) -> None:
    result = login("oci://ghcr.io/acme/x", tmp_path, REGISTRY_USER="bot")
    assert result.returncode == 1 and "REGISTRY_PASSWORD is empty" in result.stderr
    result = login(f"https://bot:{SECRET}@dav.example/x", tmp_path)
    assert result.returncode == 1 and SECRET not in result.stderr and "do not belong in the URL" in result.stderr
    result = login("ftp://host/x", tmp_path)
    assert result.returncode == 1 and "not an artifact store" in result.stderr
    assert not (tmp_path / ".docker").exists() and not (tmp_path / ".netrc").exists()


def test_login_without_secrets_writes_nothing_and_says_so(tmp_path: Path) -> None:
    result = login("oci://ghcr.io/acme/x", tmp_path)
    assert result.returncode == 0 and "anonymously" in result.stdout
    assert not (tmp_path / ".docker").exists()
    result = login("s3://bucket/rescue", tmp_path, AWS_ACCESS_KEY_ID="AKIA", AWS_SECRET_ACCESS_KEY=SECRET)
    assert result.returncode == 0 and "are set" in result.stdout and SECRET not in result.stdout

"""Workflows (rearbuild.workflow): an unknown name is refused with the choices, a workflow's arguments are
checked before anything runs."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

from rearbuild.errors import UserError
from rearbuild.paths import default_share_dir
from rearbuild.workflow import Workflow
from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]


def test_unknown_workflow(rear_env: RearEnv, rearbuild: Run) -> None:
    status, _, err = rearbuild("mkrescu")
    assert status == 1 and "no workflow 'mkrescu'" in err and "mkrescue" in err


def test_workflow_arguments_are_checked_before_anything_runs(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write(
        "share/recipes/layout/save/default/100_touch.py",
        "def main(ctx):\n    (ctx.paths.var_dir / 'ran').write_text('x')\n",
    )
    status, out, _ = rearbuild("savelayout", "--help")
    assert status == 0 and "usage: rearbuild savelayout" in out
    status, _, err = rearbuild("savelayout", "--bogus")
    assert status == 1 and "unrecognized arguments: --bogus" in err
    assert not (rear_env.var_dir / "ran").exists() and rear_env.build_dirs() == []
    status, out, _ = rearbuild("recover", "--help")
    assert status == 0 and "--demo DIR" in out


def test_publish_and_fetch_take_a_url(rear_env: RearEnv, rearbuild: Run) -> None:
    from rearbuild.workflow import Locking, Workflow

    args = Workflow.PUBLISH.parse_arguments(("s3://b/x", "a.iso", "b.txt"))
    assert (args.url, args.files) == ("s3://b/x", ["a.iso", "b.txt"])
    assert Workflow.PUBLISH.parse_arguments(("s3://b/x",)).files == []
    assert Workflow.FETCH.parse_arguments(("oci://r/x:t",)).directory == "."
    assert Workflow.FETCH.locking is Locking.NONE and not Workflow.PUBLISH.builds_image
    status, _, err = rearbuild("fetch")
    assert status == 1 and "the following arguments are required: URL" in err


def test_build_in_a_container_runs_the_container_stage_instead_of_the_hosts_build(
    rear_env: RearEnv, rearbuild: Run
) -> None:
    shutil.copytree(default_share_dir() / "recipes", rear_env.share_dir / "recipes")
    status, out, err = rearbuild("-s", "build", "--container", "bundle.tar")
    assert status == 0, err
    assert "100_build_in_container" in out and "950_publish_results" in out
    assert "create_iso" not in out and "create_initrd" not in out  # built in the container, not here
    status, out, err = rearbuild("-s", "build", "bundle.tar")
    assert status == 0, err
    assert "create_iso" in out and "build_in_container" not in out
    status, _, err = rearbuild("build", "--engine", "unix:///run/podman/podman.sock", "bundle.tar")
    assert status == 1 and "--engine and --wheelhouse choose how `build --container` builds" in err
    assert "add --container" in err


@pytest.mark.parametrize("name", ["mkboot", "mkopalpba", "opaladmin", "validate", "udev"])
def test_rear_workflows_rearbuild_lacks_are_refused_with_what_to_do(name: str) -> None:
    with pytest.raises(UserError) as caught:
        Workflow.parse(name)
    assert f"ReaR's workflow {name!r} is not in rearbuild: " in caught.value.message
    assert "section ReaR's workflows" in (caught.value.hint or "")


def test_layoutonly_and_finalizeonly_are_recovery_stages_without_restore() -> None:
    layout = [s.name for s in Workflow.LAYOUTONLY.stages()]
    finalize = [s.name for s in Workflow.FINALIZEONLY.stages()]
    assert "layout/recreate" in layout and "restore" not in layout and "finalize" not in layout
    assert "finalize" in finalize and "restore" not in finalize and "layout/recreate" not in finalize
    assert Workflow.LAYOUTONLY.recreates_disks and not Workflow.LAYOUTONLY.restores


def test_format_takes_rears_options_after_the_double_dash() -> None:
    from rearbuild.workflow import Workflow

    args = Workflow.FORMAT.parse_arguments(("--", "--efi", "--yes", "/dev/sdz"))
    assert (args.device, args.efi, args.bios, args.yes) == ("/dev/sdz", True, False, True)
    args = Workflow.WRITE.parse_arguments(("/dev/sdz",))
    assert (args.device, args.image, args.yes, args.force) == ("/dev/sdz", None, False, False)

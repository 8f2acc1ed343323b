"""Nothing is found out during the disaster (rearbuild.config.validate): a configuration whose image could not
recover the machine stops mkrescue/mkbackup in prep, before any work, naming file:line; `dump` and `-s` report the
same problems and exit 1. The checks follow what exists (recipes, URL schemes), so a method another branch adds is
accepted without a change here."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rearbuild.cli import main
from rearbuild.paths import default_share_dir
from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def shipped(rear_env: RearEnv, capsys: pytest.CaptureFixture[str]) -> Run:
    """The command line against rear_env's directories but the shipped recipes (the real prep stage)."""

    def call(*args: str) -> tuple[int, str, str]:
        argv = rear_env.argv(*args)
        argv[argv.index("--share-dir") + 1] = str(default_share_dir())
        status = main(argv)
        out, err = capsys.readouterr()
        return status, out, err

    return call


def nothing_done(env: RearEnv) -> bool:
    """No layout saved, no image, no backup: prep stopped before the first stage that works."""
    return not (env.var_dir / "layout").exists() and not (env.var_dir / "output").exists()


@pytest.mark.parametrize(
    ("local_conf", "line", "message"),
    [
        # a method without restore recipes: its image could not restore (BACKUP=TSM built an image before)
        ("OUTPUT=ISO\nBACKUP=SESAM\n", 2, "BACKUP='SESAM' is not a method rearbuild has (recover could not restore"),
        # a location scheme that is not implemented: refused after the ISO was built before
        ("OUTPUT_URL=nfs://server/export\n", 1, "OUTPUT_URL='nfs://server/export': the scheme 'nfs' is not supported"),
        ("BACKUP=NETFS\nBACKUP_URL=cifs://server/share\n", 2, "BACKUP_URL='cifs://server/share': ReaR's scheme 'cifs'"),
        ("OUTPUT=PORTABLE\n", 1, "OUTPUT='PORTABLE' is not a method rearbuild has"),
    ],
)
def test_prep_dump_and_simulate_refuse_what_could_not_recover(
    rear_env: RearEnv, shipped: Run, local_conf: str, line: int, message: str
) -> None:
    local = rear_env.write("etc/local.conf", local_conf)
    for workflow in ("mkrescue", "mkbackup"):
        status, _, err = shipped(workflow)
        assert status == 1 and f"{local}:{line}: {message}" in err, err
        assert nothing_done(rear_env)
    status, out, err = shipped("dump")
    assert status == 1 and f"{local}:{line}: {message}" in err
    assert "OUTPUT=" in out  # the dump itself is printed first
    status, out, err = shipped("-s", "mkrescue")
    assert status == 1 and f"# problem: {local}:{line}: {message}" in out
    assert nothing_done(rear_env)


def test_missing_programs_stop_prep(rear_env: RearEnv, shipped: Run) -> None:
    local = rear_env.write("etc/local.conf", "REQUIRED_PROGS+=( no-such-program-here )\n")
    status, _, err = shipped("mkrescue")
    assert status == 1 and f"{local}:1: programs the rescue system and its methods need are missing here: " in err
    assert "no-such-program-here" in err
    assert nothing_done(rear_env)
    assert shipped("dump")[0] == 1


def test_a_working_configuration_passes_dump_and_simulate(rear_env: RearEnv, shipped: Run) -> None:
    backup = rear_env.root / "backup"
    backup.mkdir()
    rear_env.write("etc/local.conf", f"OUTPUT=ISO\nBACKUP=NETFS\nBACKUP_URL=file://{backup}\nOUTPUT_URL=null\n")
    status, _, err = shipped("dump")
    assert status == 0, err
    status, out, err = shipped("-s", "mkbackup")
    assert status == 0, err
    assert "prep/default/050_check_methods.py" in out and "# problem" not in out


def test_methods_are_the_ones_that_have_recipes(rear_env: RearEnv, rearbuild: Run) -> None:
    # generic: a method another branch adds (recipes/restore/<METHOD>) is accepted without a change here
    rear_env.write("etc/local.conf", "OUTPUT=ISO\nBACKUP=NEWMETHOD\n")
    (rear_env.share_dir / "recipes" / "output" / "ISO").mkdir(parents=True)
    (rear_env.share_dir / "recipes" / "restore" / "NETFS").mkdir(parents=True)
    status, _, err = rearbuild("dump")
    assert status == 1 and "BACKUP='NEWMETHOD' is not a method rearbuild has" in err
    assert "choose one of: NETFS" in err
    (rear_env.share_dir / "recipes" / "restore" / "NEWMETHOD" / "default").mkdir(parents=True)
    status, _, err = rearbuild("dump")
    assert status == 0, err


def test_a_tmpdir_that_does_not_exist_is_refused(rear_env: RearEnv, shipped: Run) -> None:
    local = rear_env.write("etc/local.conf", "export TMPDIR=/nonexistent/rear-work\n")
    status, _, err = shipped("mkrescue")
    assert status == 1 and f"{local}:1: TMPDIR='/nonexistent/rear-work' is not a directory" in err
    assert shipped("dump")[0] == 1


def test_simulate_lists_every_problem_refused_variables_too(rear_env: RearEnv, shipped: Run) -> None:
    local = rear_env.write("etc/local.conf", "KEYMAP=de-latin1\nOUTPUT_URL=nfs://server/x\n")
    status, out, err = shipped("-s", "mkrescue")
    assert status == 1
    assert f"# problem: {local}:1: KEYMAP: keyboard maps in the rescue system are not implemented yet" in out
    assert f"# problem: {local}:2: OUTPUT_URL='nfs://server/x'" in out
    assert "and 1 more problem" in err
    # savelayout has no prep stage: -s still refuses the variable
    status, out, _ = shipped("-s", "savelayout")
    assert status == 1 and "# problem: " in out and "KEYMAP" in out


def test_programs_a_method_adds_in_prep_are_checked_at_its_end(rear_env: RearEnv, rearbuild: Run) -> None:
    share = rear_env.share_dir / "recipes"
    shipped_check = default_share_dir() / "recipes/prep/default/990_check_required_programs.py"
    rear_env.write("share/recipes/prep/METHOD/default/100_needs.py",
                   "def main(ctx):\n    ctx.add('REQUIRED_PROGS', 'no-such-client-program')\n")  # fmt: skip
    (share / "prep/default").mkdir(parents=True)
    (share / "prep/default/990_check_required_programs.py").write_text(shipped_check.read_text())
    for stage in ("layout/save", "layout/compare"):
        marker = stage.replace("/", "_")
        rear_env.write(f"share/recipes/{stage}/default/100_mark.py",
                       f"def main(ctx):\n    (ctx.paths.var_dir / '{marker}').write_text('ran')\n")  # fmt: skip
    rear_env.write("etc/local.conf", "BACKUP=METHOD\n")
    status, _, err = rearbuild("checklayout")
    assert status == 1 and "REQUIRED_PROGS: no-such-client-program not found here" in err
    assert not (rear_env.var_dir / "layout_save").exists()  # stopped in prep, before the layout was saved


def test_backup_rsync_reads_backup_url_in_rsyncs_grammar(rear_env: RearEnv, shipped: Run) -> None:
    # BACKUP=RSYNC's location is no mount: ReaR's rsync:// and host:path forms are its own (rearbuild.backup.rsync)
    rear_env.write("etc/local.conf", "BACKUP=RSYNC\nBACKUP_URL=rsync://root@backup.example/srv/mirror\n")
    _, _, err = shipped("dump")
    assert "BACKUP_URL" not in err, err
    local = rear_env.write("etc/local.conf", "BACKUP=RSYNC\nBACKUP_URL=backup.example\n")
    status, _, err = shipped("dump")
    assert status == 1 and f"{local}:2: BACKUP_URL='backup.example' is not an rsync URL" in err, err


def test_output_url_usb_names_the_stick_of_output_usb_only(rear_env: RearEnv, shipped: Run) -> None:
    # ReaR's usual USB configuration: the stick is the output's medium, nothing else is copied there
    rear_env.write("etc/local.conf", "OUTPUT=USB\nOUTPUT_URL=usb:///dev/disk/by-label/REAR-000\n")
    _, _, err = shipped("dump")
    assert "OUTPUT_URL" not in err, err
    local = rear_env.write("etc/local.conf", "OUTPUT=ISO\nOUTPUT_URL=usb:///dev/disk/by-label/REAR-000\n")
    status, _, err = shipped("dump")
    assert status == 1 and f"{local}:2: OUTPUT_URL='usb:///dev/disk/by-label/REAR-000': a USB medium" in err, err

"""The recipe engine and the lifecycle of a run: order across layers, -s, shell recipes, cleanup, lock, log."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import pytest

from rearbuild.lock import RunLock
from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]

PY_RECIPE = "def main(ctx):\n    ctx.add('TRAIL', {name!r})\n"


def recipe(rear_env: RearEnv, relative: str, text: str | None = None) -> None:
    name = relative.rsplit("/", 1)[-1]
    rear_env.write(relative, text if text is not None else PY_RECIPE.format(name=name))


def make_all_stages(rear_env: RearEnv, workflow_stages: list[str]) -> None:
    for stage in workflow_stages:
        recipe(
            rear_env,
            f"share/recipes/{stage}/default/500_noop_{stage.replace('/', '_')}.py",
            "def main(ctx):\n    pass\n",
        )


RESCUE_STAGES = ["prep", "layout/save", "rescue", "build", "pack", "output"]


def test_recipes_run_in_one_global_order_across_layers(rear_env: RearEnv, rearbuild: Run) -> None:
    with (rear_env.share_dir / "conf" / "default.conf").open("a") as f:
        f.write("\nTRAIL=()\n")
    make_all_stages(rear_env, RESCUE_STAGES)
    recipe(rear_env, "share/recipes/prep/default/100_a.py")
    recipe(rear_env, "share/recipes/prep/default/300_c.py")
    recipe(rear_env, "share/recipes/prep/Debian/200_b.py")  # vendor layer sorts between default's 100 and 300
    recipe(rear_env, "share/recipes/prep/GNU/Linux/100_a.py")  # same name in another layer: both run
    recipe(rear_env, "share/recipes/prep/ISO/default/150_iso.py")  # $OUTPUT layer
    recipe(rear_env, "share/recipes/prep/NETFS/default/160_netfs.py")  # $BACKUP layer
    recipe(rear_env, "share/recipes/prep/USB/default/170_usb.py")  # another OUTPUT: not used
    recipe(rear_env, "etc/recipes/prep/250_mine.py")  # the user's own recipe
    recipe(rear_env, "share/recipes/prep/default/notnumbered.py")
    # the last recipe of the run writes the trail so the test can read what ran, in order
    recipe(
        rear_env,
        "share/recipes/output/default/999_trail.py",
        "def main(ctx):\n    (ctx.paths.var_dir / 'trail').write_text(' '.join(ctx.items('TRAIL')))\n",
    )
    rear_env.write("etc/local.conf", "OUTPUT=ISO\nBACKUP=NETFS\nOS_VENDOR=Debian\n")
    rear_env.write("etc/os.conf", "OS_VENDOR=Debian\nOS_VERSION=12\n")
    status, out, err = rearbuild("mkrescue")
    assert status == 0, err
    assert (
        rear_env.var_dir / "trail"
    ).read_text() == "100_a.py 100_a.py 150_iso.py 160_netfs.py 200_b.py 250_mine.py 300_c.py"
    assert "notnumbered.py" in err  # warned about, not run

    # -s lists the same recipes and runs none of them: the trail the last recipe writes does not come back
    (rear_env.var_dir / "trail").unlink()
    status, out, err = rearbuild("-s", "mkrescue")
    assert status == 0, err
    listed = out.splitlines()
    assert listed[:8] == [
        "prep/GNU/Linux/100_a.py",
        "prep/default/100_a.py",
        "prep/ISO/default/150_iso.py",
        "prep/NETFS/default/160_netfs.py",
        "prep/Debian/200_b.py",
        str(rear_env.config_dir / "recipes/prep/250_mine.py"),
        "prep/default/300_c.py",
        "prep/default/500_noop_prep.py",
    ]
    # then the other stages in workflow order
    assert [line.split("/default/")[0] for line in listed[8:]] == [
        "layout/save",
        "rescue",
        "build",
        "pack",
        "output",
        "output",
    ]
    assert not (rear_env.var_dir / "trail").exists()


def test_simulate_runs_nothing_and_missing_stage_fails(rear_env: RearEnv, rearbuild: Run) -> None:
    recipe(
        rear_env,
        "share/recipes/prep/default/100_touch.py",
        "def main(ctx):\n    (ctx.paths.var_dir / 'ran').write_text('x')\n",
    )
    status, out, err = rearbuild("-s", "mkrescue")
    assert status == 1
    assert "prep/default/100_touch.py" in out
    assert "layout/save, rescue, build, pack, output have no recipes" in err
    assert not (rear_env.var_dir / "ran").exists()
    # without -s the workflow refuses before running anything: no pretended success
    status, out, err = rearbuild("mkrescue")
    assert status == 1 and not (rear_env.var_dir / "ran").exists()


def test_shell_recipe_sees_the_standard_variables_and_sets_variables(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write(
        "share/recipes/layout/save/default/100_env.sh",
        r"""
for v in CONFIG_DIR SHARE_DIR VAR_DIR BUILD_DIR ROOTFS_DIR TMP_DIR BACKUP OUTPUT WORKFLOW ARCH OS_VENDOR; do
    echo "$v=${!v}" >> "$VAR_DIR/env.txt"
done
echo "PROGS=${PROGS[*]}" >> "$VAR_DIR/env.txt"
echo "MODULES=${#MODULES[@]}" >> "$VAR_DIR/env.txt"
bash -c 'echo "exported BUILD_DIR=$BUILD_DIR"' >> "$VAR_DIR/env.txt"
test -d "$ROOTFS_DIR" && echo rootfs-exists >> "$VAR_DIR/env.txt"
PROGS+=( added-by-shell )
LogPrint "hello from a shell recipe"
""",
    )
    rear_env.write(
        "share/recipes/layout/save/default/200_check.py",
        "def main(ctx):\n    (ctx.paths.var_dir / 'progs').write_text(' '.join(ctx.items('PROGS')))\n",
    )
    rear_env.write("share/recipes/layout/save/default/300_readonly.sh", "BUILD_DIR=/elsewhere\n")
    rear_env.write("etc/local.conf", "PROGS=( one 'two words' )\nBACKUP=NETFS\n")
    status, _out, err = rearbuild("savelayout")
    assert status == 0, err
    env = dict(line.split("=", 1) for line in (rear_env.var_dir / "env.txt").read_text().splitlines() if "=" in line)
    assert env["CONFIG_DIR"] == str(rear_env.config_dir)
    assert env["SHARE_DIR"] == str(rear_env.share_dir)
    assert env["VAR_DIR"] == str(rear_env.var_dir)
    assert env["BUILD_DIR"].startswith(str(rear_env.tmpdir / "rear."))
    assert env["ROOTFS_DIR"] == env["BUILD_DIR"] + "/rootfs"
    assert env["BACKUP"] == "NETFS" and env["OUTPUT"] == "ISO" and env["WORKFLOW"] == "savelayout"
    assert env["ARCH"].startswith("Linux-")
    assert env["PROGS"] == "one two words"
    assert env["exported BUILD_DIR"] == env["BUILD_DIR"]
    assert "rootfs-exists" in (rear_env.var_dir / "env.txt").read_text()
    assert (rear_env.var_dir / "progs").read_text() == "one two words added-by-shell"
    assert "hello from a shell recipe" in err
    assert "readonly" in (rear_env.log_dir / f"rear-{os.uname().nodename.split('.')[0]}.log").read_text()


def test_shell_recipe_error_stops_the_run(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("share/recipes/layout/save/default/100_fail.sh", 'Error "the disk is on fire"\n')
    rear_env.write(
        "share/recipes/layout/save/default/200_after.py",
        "def main(ctx):\n    (ctx.paths.var_dir / 'after').write_text('x')\n",
    )
    status, _, err = rearbuild("savelayout")
    assert status == 1
    assert "the disk is on fire" in err and "layout/save/default/100_fail.sh" in err
    assert not (rear_env.var_dir / "after").exists()
    assert rear_env.build_dirs() == []  # cleaned up after failure


def test_build_dir_removed_after_success_and_kept_with_debug(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("share/recipes/layout/save/default/100_ok.py", "def main(ctx):\n    pass\n")
    assert rearbuild("savelayout")[0] == 0
    assert rear_env.build_dirs() == []
    status, _, err = rearbuild("-d", "savelayout")
    assert status == 0
    kept = rear_env.build_dirs()
    assert len(kept) == 1 and f"build area kept: {kept[0]}" in err
    rear_env.write("etc/local.conf", "KEEP_BUILD_DIR=errors\n")
    for d in kept:
        d.rename(rear_env.root / d.name)
    assert rearbuild("savelayout")[0] == 0
    assert rear_env.build_dirs() == []  # "errors" keeps only failed runs


def test_build_dir_removed_after_sigint(rear_env: RearEnv) -> None:
    rear_env.write(
        "share/recipes/layout/save/default/100_slow.py",
        "import time\n\ndef main(ctx):\n    (ctx.build_dir / 'started').write_text('x')\n    time.sleep(60)\n",
    )
    proc = subprocess.Popen(rear_env.command("savelayout"), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not any((d / "started").exists() for d in rear_env.build_dirs()):
        assert time.monotonic() < deadline, "the recipe never started"
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    assert len(rear_env.build_dirs()) == 1
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "aborted" in err
    assert rear_env.build_dirs() == []


def test_second_run_is_refused_while_the_lock_is_held(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("share/recipes/layout/save/default/100_ok.py", "def main(ctx):\n    pass\n")
    with RunLock(rear_env.var_dir / "lock" / "rearbuild.lock", "mkbackup"):
        status, _, err = rearbuild("savelayout")
        assert status == 1
        assert "another rearbuild run is in progress" in err and "workflow mkbackup" in err
        # dump is lockless: it still works while a run goes on
        assert rearbuild("dump")[0] == 0
    assert rearbuild("savelayout")[0] == 0


def test_log_file_records_stages_recipes_commands_and_errors(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write(
        "share/recipes/layout/save/default/100_cmd.py",
        "from rearbuild.run import run\n\ndef main(ctx):\n    run(['echo', 'hello-output'])\n",
    )
    host = os.uname().nodename.split(".")[0]
    assert rearbuild("-D", "savelayout")[0] == 0
    log = (rear_env.log_dir / f"rear-{host}.log").read_text()
    assert "stage layout/save:" in log and "recipe layout/save/default/100_cmd.py:" in log
    assert "run: echo hello-output" in log and "exited with status 0" in log
    assert "hello-output" in log  # -D logs command output
    # a failing run: the error is in the log with the traceback; the previous log is kept as .old
    rear_env.write(
        "share/recipes/layout/save/default/200_bad.py",
        "from rearbuild.run import run\n\ndef main(ctx):\n    run(['false'])\n",
    )
    status, _, err = rearbuild("savelayout")
    assert status == 1 and "false exited with status 1" in err and "Traceback" not in err
    log = (rear_env.log_dir / f"rear-{host}.log").read_text()
    assert "false exited with status 1" in log and "Traceback" in log
    assert (rear_env.log_dir / f"rear-{host}.log.old").exists()


def test_internal_error_is_reported_as_a_bug_with_the_log(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("share/recipes/layout/save/default/100_bug.py", "def main(ctx):\n    return 1 / 0\n")
    status, _, err = rearbuild("savelayout")
    assert status == 2
    assert "BUG in rearbuild: ZeroDivisionError" in err and str(rear_env.log_dir) in err


def test_unknown_workflow(rear_env: RearEnv, rearbuild: Run) -> None:
    status, _, err = rearbuild("mkrescu")
    assert status == 1 and "no workflow 'mkrescu'" in err and "mkrescue" in err


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(rearbuild: Run, flag: str) -> None:
    status, out, _ = rearbuild(flag)
    assert status == 0 and out.startswith("rearbuild ")


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

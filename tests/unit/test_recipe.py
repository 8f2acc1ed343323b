"""Recipes (rearbuild.recipe): one global order across layers, shell recipes with the standard variables, and a
shell recipe's error that stops the run."""

from __future__ import annotations

import os
from collections.abc import Callable

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
    # OUTPUT=ISO and BACKUP=NETFS are methods of this installation (-s validates them)
    for method in ("output/ISO", "restore/NETFS"):
        (rear_env.share_dir / "recipes" / method).mkdir(parents=True)
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


SECRET = "hunter2-crypt-key-Zq8"


def test_shell_recipe_gets_no_secret_on_any_command_line(rear_env: RearEnv, rearbuild: Run) -> None:
    # /proc/PID/cmdline is readable by every local user: the recipe's bash and its parent must not carry values.
    rear_env.write(
        "etc/recipes/layout/save/100_cmdline.sh",
        'cat /proc/$$/cmdline /proc/$PPID/cmdline > "$VAR_DIR/cmdlines"\n'
        'stat -c %a "$0" "${0%/*}" > "$VAR_DIR/modes"\n'
        'test "$BACKUP_PROG_CRYPT_KEY" = ' + SECRET + ' && echo seen > "$VAR_DIR/seen"\n',
    )
    rear_env.write("etc/local.conf", f"BACKUP=NETFS\nBACKUP_PROG_CRYPT_KEY={SECRET}\n")
    status, _, err = rearbuild("-D", "savelayout")
    assert status == 0, err
    assert (rear_env.var_dir / "seen").exists()  # the recipe still gets the value
    cmdlines = (rear_env.var_dir / "cmdlines").read_bytes()
    assert b"bash" in cmdlines and SECRET.encode() not in cmdlines
    # the values travel in a script only root can read, in a directory only root can enter
    assert (rear_env.var_dir / "modes").read_text().split() == ["600", "700"]
    assert not any(SECRET in p.read_text() for p in rear_env.log_dir.iterdir())  # -D logs every argv


def test_shell_recipe_takes_huge_and_non_utf8_values(rear_env: RearEnv, rearbuild: Run) -> None:
    # 5 MB in one variable is far past the kernel's 128 KiB limit for one argv string (MAX_ARG_STRLEN)
    rear_env.write("etc/recipes/layout/save/100_len.sh", 'echo "${#BIG} ${#ODD}" > "$VAR_DIR/len"\n')
    rear_env.write(
        "etc/local.conf",
        "BACKUP=NETFS\nBIG=$(head -c 5000000 /dev/zero | tr '\\0' a)\nODD=$(printf 'x\\377y')\n",
    )
    status, _, err = rearbuild("savelayout")
    assert status == 0, err
    assert (rear_env.var_dir / "len").read_text().split() == ["5000000", "3"]
    assert "Traceback" not in err and "Logging error" not in err

"""Configuration files through bash (rearbuild.config.bashstate): errors that name file and line, what the
environment may preset, values that round-trip through bash, and files that bash would misread or that exit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rearbuild.config.bashstate import Layer, bash_assignment, clean_environment, evaluate
from rearbuild.errors import UserError
from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("OUTPUT=ISO\nif [ 1 = 1 ]; then\n  BACKUP=NETFS\nfi fi\n", 4, "syntax error"),
        ("OUTPUT=ISO\n\nnot_a_command_xyz\n", 3, "command not found"),
        ("CONFIG_DIR=/elsewhere\n", 1, "readonly"),
        ("PROGS=( unterminated\n", 1, "matching `)'"),
    ],
)
def test_bad_syntax_names_file_and_line(
    rear_env: RearEnv, rearbuild: Run, text: str, line: int | None, words: str
) -> None:
    local = rear_env.write("etc/local.conf", text)
    status, _out, err = rearbuild("dump")
    assert status == 1
    assert str(local) in err and words in err
    if line is not None:
        assert f"line {line}" in err
    assert "Traceback" not in err


def test_carriage_returns_are_refused(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "OUTPUT=ISO\r\nBACKUP=NETFS\r\n")
    status, _, err = rearbuild("dump")
    assert status == 1
    assert f"{local}:1" in err and "carriage return" in err


def test_environment_presets_only_what_default_conf_allows(rear_env: RearEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGRATION_MODE", "true")
    monkeypatch.setenv("OUTPUT", "USB")  # default.conf assigns OUTPUT unconditionally, as in ReaR
    layers = [Layer("default", rear_env.share_dir / "conf" / "default.conf")]
    result = evaluate(
        [Layer("fw", assignments={"VAR_DIR": "/v", "HOSTNAME": "h"}), *layers],
        env=clean_environment(frozenset({"MIGRATION_MODE", "OUTPUT"})),
    )
    assert result.values["MIGRATION_MODE"] == "true"
    assert result.values["OUTPUT"] == "ISO"


def test_values_round_trip_through_bash(tmp_path: Path) -> None:
    tricky = ["it's", 'a "b"', "$HOME", "new\nline", "tab\there", "ünï", "*", ""]
    conf = tmp_path / "x.conf"
    conf.write_text(
        "\n".join(
            [
                bash_assignment("A", tuple(tricky)),
                bash_assignment("S", tricky[3]),
                bash_assignment("M", (("k 1", "v'1"), ("k2", ""))),
            ]
        )
        + "\n"
    )
    result = evaluate([Layer(str(conf), conf)], env=clean_environment())
    assert result.values["A"] == tuple(tricky)
    assert result.values["S"] == "new\nline"
    assert result.values["M"] == (("k 1", "v'1"), ("k2", ""))


def test_a_file_that_exits_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "x.conf"
    conf.write_text("OUTPUT=ISO\nexit 0\n")
    with pytest.raises(UserError, match="exit"):
        evaluate([Layer(str(conf), conf)], env=clean_environment())


def test_a_file_writing_to_fd_3_cannot_corrupt_the_dump(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "OUTPUT=USB\necho hi >&3\nBACKUP=NETFS\n")
    status, _out, err = rearbuild("dump")
    assert "BUG" not in err and "unknown record" not in err
    # bash reports the bad descriptor: an error naming the file and line, nothing read from a corrupted dump
    assert status == 1 and f"{local}: line 2" in err


def test_non_utf8_output_and_huge_values_are_read_and_logged(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write("etc/local.conf", "BIG=$(head -c 5000000 /dev/zero | tr '\\0' a)\necho $'bad byte \\xff'\n")
    status, out, err = rearbuild("-d", "dump")
    assert status == 0, err[-2000:]
    assert "Traceback" not in err and "Logging error" not in err
    assert "bad byte \\xff" in err  # the byte escaped on the terminal
    assert "bad byte \\xff" in next(rear_env.log_dir.iterdir()).read_text()
    assert "a" * 5000000 in out


def test_a_bash_error_about_a_huge_word_stays_short(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "OUTPUT=ISO\n$(head -c 5000000 /dev/zero | tr '\\0' a)\n")
    status, _, err = rearbuild("dump")
    assert status == 1 and f"{local}: line 2: aaaa" in err
    assert len(err) < 2000


def test_rear_idioms_load(rear_env: RearEnv, rearbuild: Run) -> None:
    # ReaR's own default.conf documents these lines; users copy them into local.conf
    rear_env.write(
        "etc/local.conf",
        "{ SSH_ROOT_PASSWORD='s3cr3t-value' ; } 2>>/dev/$SECRET_OUTPUT_DEV\n"
        'KERNEL_CMDLINE="$(echo console=ttyS0) quiet"\n'
        f"export TMPDIR={rear_env.tmpdir}\n",
    )
    status, out, err = rearbuild("-e", "dump")
    assert status == 0, err
    assert "SSH_ROOT_PASSWORD='s3cr3t-value'" in out
    assert "KERNEL_CMDLINE='console=ttyS0 quiet'" in out
    assert not any("s3cr3t-value" in p.read_text(errors="replace") for p in rear_env.log_dir.rglob("*") if p.is_file())


def test_a_failing_command_at_load_time_names_file_and_line(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "OUTPUT=ISO\n\nKERNEL_FILE=$(ls /nonexistent-kernel-file)\n")
    status, _, err = rearbuild("dump")
    assert status == 1
    assert f"{local}:3: a command run while reading the configuration failed: ls: cannot access" in err
    # a command whose error output is discarded is quiet, as in ReaR
    rear_env.write("etc/local.conf", "KERNEL_FILE=$(ls /nonexistent-kernel-file 2>/dev/null)\n")
    assert rearbuild("dump")[0] == 0


def test_export_tmpdir_moves_the_build_area(rear_env: RearEnv, rearbuild: Run) -> None:
    roomy = rear_env.root / "roomy"
    roomy.mkdir()
    rear_env.write("etc/local.conf", f"export TMPDIR={roomy}\n")
    rear_env.write(
        "share/recipes/layout/save/default/100_where.py",
        "def main(ctx):\n"
        "    (ctx.paths.var_dir / 'where').write_text(f\"{ctx.build_dir} {ctx.text('BUILD_DIR')}\")\n",
    )
    status, _, err = rearbuild("savelayout")
    assert status == 0, err
    build_dir, configured = (rear_env.var_dir / "where").read_text().split()
    assert Path(build_dir).parent == roomy and configured == build_dir
    assert not rear_env.build_dirs()  # nothing left in the --tmpdir it was first made in

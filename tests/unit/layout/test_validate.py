"""Recovery refuses a disk layout that cannot be recreated, naming file:line, before any plan exists; every
shipped layout and every recorded capture still passes and plans as before; hostile text in a layout stays one
shell word in the plan script."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from rearbuild.collect.disk.capture import capture_all
from rearbuild.collect.disk.probe import RecordedProbe
from rearbuild.errors import UserError
from rearbuild.layout.disklayout import parse_layout, read_layout
from rearbuild.layout.model import Fs, Swap
from rearbuild.layout.validate import problems, validate
from rearbuild.recover.plan import Command, build_plan
from rearbuild.recover.planscript import render_command
from rearbuild.recover.recreate import load

FIXTURES = Path(__file__).parents[2] / "fixtures"
LAYOUTS = sorted((FIXTURES / "layout").glob("*.conf"))
CAPTURES = sorted(p.parent for p in (FIXTURES / "capture").glob("*/index.json"))
# A truncated excerpt of ReaR's own Example C (the study): it stops before its fs lines, so it has no root.
WITHOUT_ROOT = {"rear_example_c.conf"}


def edited(tmp_path: Path, fixture: str, line: int, old: str, new: str) -> Path:
    """The fixture with `old` replaced by `new` on line `line` (1-based), as a saved layout in tmp_path."""
    lines = (FIXTURES / "layout" / fixture).read_text().splitlines()
    if line > len(lines):
        lines.append(new)
    else:
        assert old in lines[line - 1], f"line {line} of {fixture} has no {old!r}"
        lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path = tmp_path / "var" / "disklayout.conf"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def refused(tmp_path: Path, saved: Path, line: int, pattern: str) -> UserError:
    config = tmp_path / "etc"
    config.mkdir(exist_ok=True)
    with pytest.raises(UserError) as caught:
        load(config, saved)
    message = caught.value.message
    assert f"disklayout.conf:{line}: " in message, message
    assert re.search(pattern, message), message
    assert caught.value.hint, "the error says what to do"
    return caught.value


GPT = "gpt_lvm.conf"
MSDOS = "msdos_logical.conf"
RAID = "raid1_lvm.conf"

CASES = [
    # (fixture, line, old, new, the line named, what the message says)
    pytest.param(GPT, 17, "536870912 2097152", "536870912 1572864", 17, r"sda2 .*overlaps /dev/sda1", id="overlap"),
    pytest.param(GPT, 18, "68179460096", "68719476736", 18, r"sda3 ends at .*past the end", id="past-end"),
    pytest.param(GPT, 18, "68179460096", "68180492288", 18, r"GPT backup", id="into-gpt-backup"),
    pytest.param(GPT, 16, "1048576 1048576", "1048576 0", 16, r"sda1 starts at byte 0", id="start-0"),
    pytest.param(GPT, 17, "536870912 2097152", "536870912 2097153", 17, r"whole 512-byte sectors", id="unaligned"),
    pytest.param(GPT, 18, "68179460096", "1" + "0" * 30, 18, r"more than any device", id="size-10^30"),
    pytest.param(GPT, 17, "536870912 2097152", "-1 2097152", 17, r"size is -1 bytes", id="size-negative"),
    pytest.param(GPT, 17, "536870912 2097152", "５３６８７０９１２ 2097152", 17, r"ASCII digits", id="fullwidth"),
    pytest.param(GPT, 33, " / ext4", " /../../etc ext4", 33, r"'/\.\./\.\./etc'", id="mount-escapes"),
    pytest.param(GPT, 32, " /home xfs", " home xfs", 32, r"'home' is not an absolute", id="mount-relative"),
    pytest.param(GPT, 38, "", "fs /dev/sda2 /srv xfs", 38, r"sda2 would hold a xfs .* already holds a vfat",
                 id="two-mkfs"),
    pytest.param(GPT, 38, "", "swap /dev/sda2 uuid= label=", 38, r"sda2 would hold swap", id="mkswap-over-fs"),
    pytest.param(GPT, 38, "", "fs /dev/sda3 /data xfs", 38, r"sda3 would hold a xfs .* LVM physical volume",
                 id="mkfs-on-pv"),
    pytest.param(GPT, 28, "21474836480b", "10995116277760b", 28, r"vg0/home .* larger than its volume group",
                 id="lv-bigger-than-vg"),
    pytest.param(GPT, 28, "21474836480b", "34359738368b", 29, r"logical volumes of vg0 need", id="lvs-sum"),
    pytest.param(GPT, 33, " / ext4", " /srv ext4", 13, r"no root file system", id="no-root"),
    pytest.param(GPT, 34, "/dev/sda2 ", "/dev/sdz9 ", 34, r"needs /dev/sdz9, which the disk layout does not",
                 id="reference-to-nothing"),
    pytest.param(MSDOS, 11, "logical none", "primary none", 11, r"overlaps", id="primary-over-extended"),
    pytest.param(MSDOS, 20, "", "part /dev/sda 1048576 62819139584 logical none /dev/sda8 1a2b3c4d-08", 20,
                 r"overlaps /dev/sda7", id="logicals-overlap"),
    pytest.param(MSDOS, 9, "53687091200 540016640 logical", "1048576 4096 logical", 9,
                 r"logical partition /dev/sda5 is not inside the extended", id="logical-outside"),
    pytest.param(RAID, 26, "raid-devices=2", "raid-devices=-1", 26, r"raid-devices must be at least 1",
                 id="raid-devices-negative"),
    pytest.param(RAID, 26, "raid-devices=2", "raid-devices=3", 26, r"lists 2 devices for raid-devices=3",
                 id="raid-devices-mismatch"),
    pytest.param(RAID, 47, "", "fs /dev/sdb2 /srv ext4", 47, r"sdb2 would hold a ext4 .* member of /dev/md0",
                 id="mkfs-on-raid-member"),
    pytest.param(RAID, 41, "blocksize=4096", "blocksize=4097", 41, r"blocksize=4097", id="ext-blocksize"),
]


@pytest.mark.parametrize(("fixture", "line", "old", "new", "named", "pattern"), CASES)
def test_recovery_refuses_an_invalid_layout_naming_its_line(
    tmp_path: Path, fixture: str, line: int, old: str, new: str, named: int, pattern: str
) -> None:
    refused(tmp_path, edited(tmp_path, fixture, line, old, new), named, pattern)


def test_five_primaries_on_msdos(tmp_path: Path) -> None:
    text = (FIXTURES / "layout" / "rear_example_b.conf").read_text()
    text += "part /dev/sda 1048576 182000000000 primary none /dev/sda5\n"
    path = tmp_path / "disklayout.conf"
    path.write_text(text)
    line = len(text.splitlines())
    refused(tmp_path, path, line, r"5 primary and extended partitions; an msdos partition table holds 4")


def test_a_crypt_source_cannot_also_hold_a_file_system(tmp_path: Path) -> None:
    path = edited(tmp_path, "luks_lvm.conf", 34, "", "fs /dev/nvme0n1p3 /srv ext4")
    refused(tmp_path, path, 34, r"nvme0n1p3 would hold a ext4 .* LUKS device under")


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = edited(tmp_path, GPT, 33, " / ext4", " /../x ext4")
    text = path.read_text().replace("536870912 2097152", "536870912 0", 1)
    path.write_text(text)
    error = refused(tmp_path, path, 17, r"starts at byte 0")
    assert "disklayout.conf:33: " in error.message


@pytest.mark.parametrize("path", LAYOUTS, ids=lambda p: p.name)
def test_every_shipped_layout_is_valid_and_plans(path: Path) -> None:
    layout = read_layout(path)
    assert problems(layout, need_root=path.name not in WITHOUT_ROOT) == ()
    build_plan(layout)


@pytest.mark.parametrize("scenario", CAPTURES, ids=lambda p: p.name)
def test_every_recorded_capture_is_valid_and_plans(scenario: Path) -> None:
    layout = capture_all(RecordedProbe(scenario)).layout
    validate(layout)
    build_plan(layout)


def test_the_excerpt_without_root_is_refused_for_that_alone(tmp_path: Path) -> None:
    found = problems(read_layout(FIXTURES / "layout" / "rear_example_c.conf"))
    assert [p.what for p in found] == ["no file system is mounted at / (the layout has no root file system)"]


HOSTILE = "$(touch${IFS}/tmp/pwned)';`id`\"\\*"


def test_hostile_labels_and_paths_stay_one_word_in_the_plan(tmp_path: Path) -> None:
    """Labels, UUIDs and mount points come from the layout verbatim; each is exactly one argument when
    the rendered command runs in bash (printed here instead of run)."""
    text = (FIXTURES / "layout" / GPT).read_text()
    text = text.replace("label=root", f"label={HOSTILE}").replace(" /home xfs", f" /home/{HOSTILE} xfs")
    text = text.replace("uuid=9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a label=", f"uuid=9d8c7b6a label={HOSTILE}")
    layout = parse_layout(text)
    validate(layout)
    assert any(isinstance(r, Fs) and r.label == HOSTILE for r in layout.active)
    assert any(isinstance(r, Swap) and r.label == HOSTILE for r in layout.active)
    plan = build_plan(layout, target_root=str(tmp_path / "target"))
    checked = 0
    for step in plan.steps:
        for command in step.commands:
            if not any(HOSTILE in a for a in command.argv):
                continue
            echo = Command(("printf", "%s\\0", *command.argv))
            out = subprocess.run(["bash", "-c", render_command(echo)], capture_output=True, check=True, text=True)
            assert out.stdout.split("\0")[:-1] == list(command.argv)
            checked += 1
    assert checked >= 3, "the label, the swap label and the mount point reach commands"
    assert not Path("/tmp/pwned").exists()

"""A seeded mutator over every shipped disk layout: parse -> validate -> plan gives a clear UserError or a plan
that an independent check of the plan itself finds sound; never another exception, never a plan from a layout
that cannot be recreated.

The check of the plan looks only at what the plan would do (mount targets, which steps write which devices,
the sfdisk scripts, the numbers on command lines, LV sizes against their VG), not at the validator's code.
"""

from __future__ import annotations

import itertools
import os
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.layout.disklayout import parse_layout
from rearbuild.layout.model import Disk, Layout, LvmGrp
from rearbuild.layout.validate import MAX_BYTES, validate
from rearbuild.recover.plan import Plan, StepKind, build_plan

FIXTURES = Path(__file__).parents[2] / "fixtures" / "layout"
SEED = 9
CASES = 400
TARGET = "/mnt/local"
# The sfdisk system ids of an extended partition (sfdisk(8), fdisk's type list: 05, 0f, 85).
_EXTENDED_IDS = frozenset({"5", "f", "85"})
_MAX_MBR_SLOT = 4

NUMBERS = ["0", "-1", "1", "511", "512", "4097", "10" + "0" * 29, str(2**63), str(2**64), "-" + "9" * 20,
           "１２３", "٣", "²", "1e3", "+5", "0x10", "1_000", "NaN", "Infinity"]  # fmt: skip
WORDS = ["/../../etc", "etc", "/", ".", "..", "/srv/../..", "$(reboot)", "'", "/dev/sdz9", "/dev/sda", "/dev/sda2",
         "/dev/sda3", "/dev/md0", "primary", "logical", "extended", "none", "raid-devices=-1", "raid-devices=3",
         "spare-devices=-2", "devices=/dev/sda2", "label=", "uuid=", "#", "fs", "part", "disk", "swap", "lvmvol",
         "lvmdev", "crypt", "msdos", "gpt", "loop", "unknown", "xfs", "ext4", "vfat", "btrfs", "thin,sparse",
         "mirrors:3", "stripes:0", "blocksize=3000", "reserved_blocks=99%", "max_mounts=-9"]  # fmt: skip


def _digits(rng: random.Random, text: str) -> str:
    runs = list(re.finditer(r"[0-9]+", text))
    if not runs:
        return text
    run = rng.choice(runs)
    n = int(run.group())
    choice = rng.choice([
        rng.choice(NUMBERS), str(n + rng.choice([-1, 1, 512, -512, 1048576])), str(n * 2), str(n // 2),
        str(n * 1024), run.group().translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)}),
    ])  # fmt: skip
    return text[: run.start()] + choice + text[run.end() :]


def _records(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line and not line.startswith("#")]


def mutate(rng: random.Random, text: str, others: list[str]) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        records = _records(lines)
        if not records:
            break
        i = rng.choice(records)
        words = lines[i].split(" ")
        j = rng.randrange(len(words))
        op = rng.randrange(9)
        if op <= 2:
            words[j] = _digits(rng, words[j])
        elif op == 3:
            words[j] = rng.choice(WORDS)
        elif op == 4:
            words[j] = rng.choice(lines[rng.choice(records)].split(" "))
        elif op == 5 and len(words) > 1:
            del words[j]
        elif op == 6:
            lines.insert(rng.choice(records), lines[i])
        elif op == 7:
            del lines[i]
            continue
        else:
            other = rng.choice(others).splitlines()
            lines.insert(i, rng.choice([other[k] for k in _records(other)]))
        lines[i] = " ".join(words)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# What a sound plan looks like, judged from the plan


def plan_faults(layout: Layout, plan: Plan) -> list[str]:
    faults: list[str] = []
    targets = [t for _device, t in plan.mounts]
    for target in targets:
        if os.path.normpath(target) != target or not (target == TARGET or target.startswith(TARGET + "/")):
            faults.append(f"mounts outside the target: {target}")
    if TARGET not in targets:
        faults.append("mounts nothing at the target root")
    writers = Counter(d for s in plan.steps if s.kind in _WRITERS for d in s.destroys)
    faults += [f"{device} is written by {n} steps" for device, n in writers.items() if n > 1]
    sizes = {r.device: r.size for r in layout.active if isinstance(r, Disk)}
    for disk in plan.disks:
        if not 0 < disk.needed <= min(sizes.get(disk.device, 0), MAX_BYTES):
            faults.append(f"{disk.device} needs {disk.needed} bytes of a {sizes.get(disk.device)}-byte disk")
    for step in plan.steps:
        for command in step.commands:
            if any(c.isdigit() and not c.isascii() for a in _parsed(command.argv) for c in a):
                faults.append(f"non-ASCII digits on a command line: {command.argv}")
            if command.argv[0] == "sfdisk" and command.stdin is not None:
                faults += _table_faults(command.stdin)
            if command.argv[:2] == ("mdadm", "--create"):
                faults += _mdadm_faults(command.argv)
            if command.argv[0] in ("mkfs.ext2", "mkfs.ext3", "mkfs.ext4") and "-b" in command.argv:
                block = int(command.argv[command.argv.index("-b") + 1])
                if block & (block - 1) or not 1024 <= block <= 65536:
                    faults.append(f"mke2fs -b {block}")
    return faults + _lv_faults(layout, plan)


def _parsed(argv: tuple[str, ...]) -> list[str]:
    """The arguments a tool reads as names or numbers: not labels, mount points or subvolume paths (any text)."""
    labels = {i + 1 for i, a in enumerate(argv) if a in ("-L", "-n", "--label")}
    return [a for i, a in enumerate(argv) if i not in labels and not a.startswith((TARGET, "/tmp/rearbuild-btrfs"))]


_WRITERS = frozenset({StepKind.MKFS, StepKind.MKSWAP, StepKind.PV, StepKind.CRYPT, StepKind.RAID})
_PART_LINE = re.compile(r"^\S+?(\d+) : start=(\d+), size=(\d+), type=(\w+)", re.MULTILINE)


def _table_faults(script: str) -> list[str]:
    dos = "label: dos" in script
    found = [(int(n), int(s), int(z), t.lower()) for n, s, z, t in _PART_LINE.findall(script)]
    faults = [f"partition {n} start {s} size {z}" for n, s, z, _t in found if s <= 0 or z <= 0]
    outer = [p for p in found if not dos or p[0] <= _MAX_MBR_SLOT]
    inner = [p for p in found if dos and p[0] > _MAX_MBR_SLOT]
    if dos and len(outer) > _MAX_MBR_SLOT:
        faults.append("more than 4 primary partitions")
    for group in (outer, inner):
        ordered = sorted(group, key=lambda p: p[1])
        pairs = itertools.pairwise(ordered)
        faults += [f"partitions {a[0]} and {b[0]} overlap" for a, b in pairs if b[1] < a[1] + a[2]]
    boxes = [p for p in outer if p[3] in _EXTENDED_IDS]
    for n, s, z, _t in inner:
        if not any(b[1] < s and s + z <= b[1] + b[2] for b in boxes):
            faults.append(f"logical partition {n} outside the extended one")
    return faults


def _mdadm_faults(argv: tuple[str, ...]) -> list[str]:
    options = dict(a.removeprefix("--").split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    members = [a for a in argv[3:] if a.startswith("/")]
    raid, spare = int(options.get("raid-devices", "0")), int(options.get("spare-devices", "0"))
    return [] if raid >= 1 and len(members) == raid + spare else [f"mdadm {argv}"]


def _lv_faults(layout: Layout, plan: Plan) -> list[str]:
    vgs = {r.vg_name: r for r in layout.active if isinstance(r, LvmGrp)}
    used: Counter[str] = Counter()
    for step in plan.steps:
        argv = step.commands[0].argv if step.kind is StepKind.LV else ()
        if "--size" in argv:
            copies = 1 + (int(argv[argv.index("--mirrors") + 1]) if "--mirrors" in argv else 0)
            used[argv[-1]] += int(argv[argv.index("--size") + 1].removesuffix("b")) * copies
    faults = []
    for name, total in used.items():
        vg = vgs.get(name)
        limit = (vg.size_kib or 0) * 1024 if vg is not None else 0
        if limit and total > limit:
            faults.append(f"LVs of {name} need {total} bytes of {limit}")
    return faults


# ---------------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    tried: int = 0
    clean_errors: int = 0
    valid_plans: int = 0
    crashes: list[str] = field(default_factory=list)
    invalid_plans: list[str] = field(default_factory=list)


def run(cases: int, seed: int, step: Callable[[str], Plan] | None = None) -> Figures:
    texts = [p.read_text() for p in sorted(FIXTURES.glob("*.conf"))]
    rng = random.Random(seed)
    figures = Figures()
    for number in range(cases):
        text = mutate(rng, rng.choice(texts), texts)
        figures.tried += 1
        try:
            layout = parse_layout(text)
            validate(layout)
            plan = build_plan(layout, target_root=TARGET, keyfile_exists=lambda _path: False)
        except UserError:
            figures.clean_errors += 1
            continue
        except Exception as exc:  # any other exception is what the fuzz looks for
            figures.crashes.append(f"case {number}: {type(exc).__name__}: {exc}\n{text}")
            continue
        faults = plan_faults(layout, plan)
        if faults:
            figures.invalid_plans.append(f"case {number}: {'; '.join(faults)}\n{text}")
        else:
            figures.valid_plans += 1
    return figures


def test_mutated_layouts_give_a_clear_error_or_a_sound_plan() -> None:
    figures = run(CASES, SEED)
    print(f"fuzz: {figures.tried} tried, {figures.clean_errors} clean errors, {figures.valid_plans} valid plans, "
          f"{len(figures.crashes)} crashes, {len(figures.invalid_plans)} invalid plans")  # fmt: skip
    assert figures.crashes == []
    assert figures.invalid_plans == []
    assert figures.tried == CASES
    # The mutator must reach both ends, or it tests nothing.
    assert figures.clean_errors > CASES // 4 and figures.valid_plans > CASES // 20


def test_the_plan_check_finds_what_the_validator_refuses() -> None:
    """The independent check is not blind: a plan built from an invalid layout without validation fails it."""
    text = (FIXTURES / "gpt_lvm.conf").read_text().replace(" / ext4", " /../../etc ext4")
    text = text.replace("lvmvol /dev/vg0 home 21474836480b", "lvmvol /dev/vg0 home 10995116277760b")
    layout = parse_layout(text)
    faults = plan_faults(layout, build_plan(layout, target_root=TARGET))
    assert any("outside the target" in f for f in faults)
    assert any("LVs of vg0" in f for f in faults)

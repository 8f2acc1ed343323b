"""The plan of ReaR's `mountonly` workflow: open, assemble, activate and mount what the disk layout describes,
without creating anything (repairing a system from the rescue system: fsck, a broken boot loader, chroot).

It is derived from the recreation plan (rearbuild.recover.plan), so both agree on device names, mount points,
options and order: partition tables, PVs, LVs, file systems, swap and subvolumes are not touched; MD arrays are
assembled instead of created, LUKS mappings opened instead of formatted, volume groups activated instead of
created; the mounts are the same. No step destroys anything.
"""

from __future__ import annotations

import dataclasses

from rearbuild.recover.plan import LVM_CONFIG, Command, Helper, Plan, Step, StepKind

# Step ids of their own: a mount done by this plan is not taken for one done by recover's (planscript's markers).
_PREFIX = "mountonly-"


def _waits(step: Step) -> tuple[Command, ...]:
    return tuple(c for c in step.commands if c.helper is Helper.WAIT_DEV)


def _raid(step: Step) -> Step:
    create = step.commands[0]  # mdadm --create DEVICE ... MEMBERS (plan._raid); the members are what it destroys
    device = create.argv[2]
    assemble = Command(("mdadm", "--assemble", "--run", device, *step.destroys))
    return Step(f"{_PREFIX}{step.id}", step.component, step.kind,
                f"Assemble {device} from {', '.join(step.destroys)}", (assemble, *_waits(step)))  # fmt: skip


def _crypt(step: Step) -> Step:
    opened = tuple(c for c in step.commands if c.argv[:2] == ("cryptsetup", "open"))
    source, mapping = opened[0].argv[-2:]  # cryptsetup open ... SOURCE MAPPING (plan._crypt)
    return Step(f"{_PREFIX}{step.id}", step.component, step.kind, f"Open {source} as {mapping}",
                (*opened, *_waits(step)), passphrase_for=step.passphrase_for, passphrase_once=True)  # fmt: skip


def _vg(step: Step) -> Step:
    # lvm vgcreate --config C --physicalextentsize Nk NAME PVS... (plan._vg): NAME follows the extent size
    argv = step.commands[0].argv
    name = argv[argv.index("--physicalextentsize") + 2]
    activate = Command(("lvm", "vgchange", "--config", LVM_CONFIG, "--activate", "y", name))
    return Step(f"{_PREFIX}{step.id}", step.component, step.kind, f"Activate the volume group {name}", (activate,))


def _lv(step: Step) -> Step:
    return Step(f"{_PREFIX}{step.id}", step.component, step.kind, f"Wait for {step.component}", _waits(step))


def mount_plan(plan: Plan) -> Plan:
    """The steps of `plan` that open and mount, none that create; the same disks, target and source."""
    steps: list[Step] = []
    for step in plan.steps:
        match step.kind:
            case StepKind.RAID:
                steps.append(_raid(step))
            case StepKind.CRYPT:
                steps.append(_crypt(step))
            case StepKind.VG:
                steps.append(_vg(step))
            case StepKind.LV:
                steps.append(_lv(step))
            case StepKind.MOUNT:
                steps.append(dataclasses.replace(step, id=f"{_PREFIX}{step.id}"))
            case StepKind.WIPE | StepKind.PARTITION | StepKind.PV | StepKind.MKFS | StepKind.MKSWAP | \
                    StepKind.SUBVOLUMES:  # fmt: skip
                pass
    return dataclasses.replace(plan, steps=tuple(steps))

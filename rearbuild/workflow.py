"""Workflows and their stages (ReaR's lib/*-workflow.sh, study §1.3).

A workflow is a sequence of stages; a stage runs the recipes found for it (rearbuild.recipe). A stage marked
required that has no recipe makes the workflow fail before anything runs: a workflow must not pretend success.
"""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass
from typing import NoReturn

from rearbuild.errors import UserError


class _Arguments(argparse.ArgumentParser):
    """A workflow's own arguments: a mistake is a UserError before anything runs, not a usage text and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")


class Locking(enum.Enum):
    """How a workflow shares the machine with other rearbuild runs (ReaR's LOCKLESS/SIMULTANEOUS lists)."""

    EXCLUSIVE = "exclusive"  # one at a time
    NONE = "none"  # read-only workflows: dump, help, checklayout
    SIMULTANEOUS = "simultaneous"  # may run beside others: mkbackuponly, restoreonly


@dataclass(frozen=True)
class Stage:
    name: str  # a directory below recipes/, e.g. "layout/save"
    required: bool = True


def _stages(*names: str) -> tuple[Stage, ...]:
    # "init" runs first in every staged workflow (ReaR: SourceStage init); it may be empty.
    return (Stage("init", required=False), *(Stage(n.rstrip("?"), not n.endswith("?")) for n in names))


_RESCUE = ("prep", "layout/save", "rescue", "build", "pack", "output")
_RECOVER = ("setup", "verify", "layout/prepare", "layout/recreate", "restore", "finalize", "wrapup")


class Workflow(enum.Enum):
    HELP = "help"
    DUMP = "dump"
    IMAGE = "image"
    MKRESCUE = "mkrescue"
    MKBACKUP = "mkbackup"
    MKBACKUPONLY = "mkbackuponly"
    SAVELAYOUT = "savelayout"
    CHECKLAYOUT = "checklayout"
    COLLECT = "collect"
    BUILD = "build"
    PUBLISH = "publish"
    FETCH = "fetch"
    RECOVER = "recover"
    RESTOREONLY = "restoreonly"
    FORMAT = "format"
    LAYOUTONLY = "layoutonly"
    MOUNTONLY = "mountonly"
    FINALIZEONLY = "finalizeonly"
    SHELL = "shell"
    INSTALL = "install"
    WRITE = "write"

    @classmethod
    def parse(cls, name: str) -> Workflow:
        if name in _REAR_ONLY:
            raise UserError(f"ReaR's workflow {name!r} is not in rearbuild: {_REAR_ONLY[name]}",
                            hint="see README.md, section ReaR's workflows")  # fmt: skip
        try:
            return cls(name)
        except ValueError:
            raise UserError(
                f"no workflow {name!r}",
                hint="workflows: " + ", ".join(w.value for w in cls) + " (rearbuild help)",
            ) from None

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def locking(self) -> Locking:
        if self in (Workflow.HELP, Workflow.DUMP, Workflow.CHECKLAYOUT, Workflow.FETCH, Workflow.SHELL,
                    Workflow.INSTALL):  # fmt: skip
            return Locking.NONE
        if self in (Workflow.MKBACKUPONLY, Workflow.RESTOREONLY):
            return Locking.SIMULTANEOUS
        return Locking.EXCLUSIVE

    @property
    def needs_build_dir(self) -> bool:
        return self not in (Workflow.HELP, Workflow.DUMP, Workflow.SHELL, Workflow.INSTALL)

    @property
    def quiet(self) -> bool:
        """Prints nothing when nothing happened (run from cron: `checklayout || mkrescue` mails only a change):
        its finish line and the warnings of the layout capture, which savelayout/mkrescue show, go to the log."""
        return self is Workflow.CHECKLAYOUT

    @property
    def restores(self) -> bool:
        """Whether the workflow restores the backup (then the backup method's verify stage checks the archive)."""
        return self in (Workflow.RECOVER, Workflow.RESTOREONLY)

    @property
    def builds_image(self) -> bool:
        """Whether the workflow collects for and builds a rescue image (then it needs a kernel, modules, ...)."""
        return self in (Workflow.IMAGE, Workflow.MKRESCUE, Workflow.MKBACKUP, Workflow.COLLECT)

    @property
    def backs_up(self) -> bool:
        """Whether the workflow writes a backup (then BACKUP's method must be one rearbuild can restore)."""
        return self in (Workflow.MKBACKUP, Workflow.MKBACKUPONLY)

    @property
    def recreates_disks(self) -> bool:
        """recover and layoutonly recreate the disks (mountonly: with the plan's opening and mounting steps only);
        restoreonly restores into what is mounted."""
        return self in (Workflow.RECOVER, Workflow.LAYOUTONLY, Workflow.MOUNTONLY)

    @property
    def mounts_only(self) -> bool:
        """mountonly runs the disk plan's opening and mounting steps, none that create (recover.mountplan)."""
        return self is Workflow.MOUNTONLY

    @property
    def config_name(self) -> str:
        """The name used for $CONFIG_DIR/<workflow>.conf and $WORKFLOW; `image` is mkrescue."""
        return Workflow.MKRESCUE.value if self is Workflow.IMAGE else self.value

    def argument_parser(self) -> argparse.ArgumentParser:
        """The arguments after the workflow's name (ReaR passes them to the workflow function)."""
        parser = _Arguments(prog=f"rearbuild {self.value}", description=self.description)
        match self:
            case Workflow.COLLECT:
                parser.add_argument(
                    "-o",
                    "--output",
                    metavar="FILE",
                    help="where the manifest goes (default $VAR_DIR/recovery/manifest.json)",
                )
                parser.add_argument(
                    "--bundle",
                    metavar="PATH",
                    help="also write a bundle for `rearbuild build`: a directory, or one file if PATH ends in .tar",
                )
            case Workflow.BUILD:
                parser.add_argument("bundle", metavar="PATH", help="the bundle `rearbuild collect --bundle` wrote")
                parser.add_argument(
                    "--container",
                    action="store_true",
                    help="build inside the builder environment (the Containerfile) through a container engine",
                )
                parser.add_argument(
                    "--engine",
                    metavar="URL",
                    help="the container engine's API (default $CONTAINER_HOST, $DOCKER_HOST, the usual sockets)",
                )
                parser.add_argument(
                    "--wheelhouse",
                    metavar="DIR",
                    help="rearbuild's wheel and its dependencies' for the builder image (default: made from the "
                    "running rearbuild's checkout with pip wheel)",
                )
            case Workflow.PUBLISH:
                parser.add_argument("url", metavar="URL", help="s3://BUCKET/PREFIX, http(s)://HOST/PATH or "
                                    "oci://REGISTRY/REPO[:TAG]; OUTPUT_PREFIX is appended (not for oci)")  # fmt: skip
                parser.add_argument("files", metavar="FILE", nargs="*",
                                    help="what to publish (default: this host's last build's results)")  # fmt: skip
            case Workflow.FETCH:
                parser.add_argument("url", metavar="URL", help="where a set was published (publish prints it)")
                parser.add_argument("directory", metavar="DIR", nargs="?", default=".",
                                    help="where the files go (default: the current directory)")  # fmt: skip
            case Workflow.INSTALL:
                parser.add_argument("--root", metavar="DIR", default="/",
                                    help="install below DIR instead of / (a package build or an image)")  # fmt: skip
                parser.add_argument("--prefix", metavar="DIR", default="/usr/local",
                                    help="where the man page and completion go (default /usr/local)")  # fmt: skip
            case Workflow.RECOVER | Workflow.RESTOREONLY | Workflow.LAYOUTONLY | Workflow.MOUNTONLY | \
                    Workflow.FINALIZEONLY:  # fmt: skip
                parser.add_argument("--plan", action="store_true", help="print the disk plan, change nothing")
                parser.add_argument("--plan-file", metavar="FILE", help="run this (edited) plan instead")
                parser.add_argument("--demo", metavar="DIR", help="restore into DIR and touch no disk")
            case Workflow.FORMAT:
                # ReaR: rear format -- [--efi|--bios|--yes] DEVICE; each output method's recipes use what concerns it
                parser.add_argument("device", help="the USB disk or tape to format")
                parser.add_argument("-e", "--efi", action="store_true", help="UEFI boot only")
                parser.add_argument("-b", "--bios", action="store_true", help="BIOS boot only")
                parser.add_argument("-y", "--yes", action="store_true", help="do not ask before erasing DEVICE")
                parser.add_argument("-f", "--force", action="store_true", help="format a medium that is not removable")
            case Workflow.WRITE:
                parser.add_argument("device", help="the whole stick, e.g. /dev/sdb")
                parser.add_argument("image", nargs="?", help="ISO or disk image (default: this host's latest result)")
                parser.add_argument("-y", "--yes", action="store_true", help="do not ask before erasing DEVICE")
                parser.add_argument("-f", "--force", action="store_true",
                                    help="write to a device that is neither removable nor USB")  # fmt: skip
            case Workflow.DUMP | Workflow.HELP:
                parser.add_argument("variables", metavar="VARIABLE", nargs="*",
                                    help="show these variables' meaning, state and value")  # fmt: skip
            case _:
                pass
        return parser

    def parse_arguments(self, args: tuple[str, ...]) -> argparse.Namespace:
        # `rear format -- --efi DEV`: the `--` that kept rear's own options apart is not an end of options here
        words = list(args[1:] if args[:1] == ("--",) else args)
        return self.argument_parser().parse_args(words)

    def stages(self, *, backup_in_iso: bool = False, in_container: bool = False) -> tuple[Stage, ...]:
        """The stage sequence. backup_in_iso: BACKUP_URL=iso://, where mkbackup backs up before output.
        in_container: `build --container`, where the image is built and its results published by the container
        stage."""
        match self:
            case Workflow.IMAGE | Workflow.MKRESCUE:
                return _stages(*_RESCUE)
            case Workflow.MKBACKUP:
                if backup_in_iso:
                    return _stages("prep", "layout/save", "rescue", "build", "pack", "backup", "output")
                return _stages(*_RESCUE, "backup")
            case Workflow.MKBACKUPONLY:
                return _stages("prep", "layout/save", "backup")
            case Workflow.SAVELAYOUT:
                return _stages("layout/save")
            case Workflow.CHECKLAYOUT:
                return _stages("layout/precompare?", "prep", "layout/save", "layout/compare")
            case Workflow.COLLECT:
                return _stages("prep", "layout/save", "rescue")
            case Workflow.BUILD:
                # No host stage: everything comes from the bundle, loaded and verified first.
                if in_container:
                    return _stages("bundle", "container")
                return _stages("bundle", "build", "pack", "output")
            case Workflow.PUBLISH:
                return _stages("publish")
            case Workflow.FETCH:
                return _stages("fetch")
            case Workflow.RECOVER:
                return _stages(*_RECOVER)
            case Workflow.RESTOREONLY:
                return _stages("setup", "verify", "restore", "wrapup")
            case Workflow.FORMAT:
                return _stages("format")
            case Workflow.LAYOUTONLY | Workflow.MOUNTONLY:
                # verify loads the disk plan; the backup method's archive checks skip (Workflow.restores)
                return _stages("setup", "verify", "layout/prepare", "layout/recreate", "wrapup")
            case Workflow.FINALIZEONLY:
                # verify loads the layout and the device mapping finalize patches with
                return _stages("setup", "verify", "finalize", "wrapup")
            case Workflow.WRITE:
                return _stages("write")
            case Workflow.HELP | Workflow.DUMP | Workflow.SHELL | Workflow.INSTALL:
                return ()


# ReaR 2.7's workflows rearbuild does not have, each with what to do instead.
_REAR_ONLY = {
    "mkboot": "use `rearbuild mkrescue` (the layout is saved with it)",
    "mkopalpba": "TCG Opal pre-boot authentication images are not supported",
    "opaladmin": "TCG Opal disk administration is not supported; use sedutil-cli",
    "validate": "use `rearbuild -s mkbackup` (runs the prep checks) and `rearbuild dump`",
    "udev": "run `rearbuild mkrescue` from your own udev rule or the installed timer",
}

_DESCRIPTIONS = {
    Workflow.HELP: "print this help; help VARIABLE or help WORKFLOW: its meaning, default and arguments",
    Workflow.DUMP: "print the facts and every variable with the file that set it (dump VARIABLE: its meaning, "
    "state and value); exit 1 on problems prep would refuse",
    Workflow.IMAGE: "build the rescue image(s) of this host (the everyday name for mkrescue)",
    Workflow.MKRESCUE: "build the rescue image(s) of this host",
    Workflow.MKBACKUP: "build the rescue image(s) and back up this host",
    Workflow.MKBACKUPONLY: "back up this host without building a rescue image",
    Workflow.SAVELAYOUT: "save the disk layout of this host",
    Workflow.CHECKLAYOUT: "compare the saved and the current disk layout; exit 1 when it changed",
    Workflow.COLLECT: "collect what a rescue image of this host needs into a manifest (-o FILE)",
    Workflow.BUILD: "build the rescue image(s) of another host from its bundle (collect --bundle PATH)",
    Workflow.PUBLISH: "publish results with their sha256 and metadata to s3://, http(s):// or oci:// (URL [FILE...])",
    Workflow.FETCH: "download a published set and verify every sha256 (URL [DIR])",
    Workflow.RECOVER: "recover this machine (in the rescue system)",
    Workflow.RESTOREONLY: "restore the backup only, into the mounted target",
    Workflow.FORMAT: "format a USB disk or tape as rescue medium",
    Workflow.LAYOUTONLY: "recreate the disk layout and mount it at /mnt/local, restore nothing (rescue system)",
    Workflow.MOUNTONLY: "open LUKS, assemble MD/LVM and mount the saved layout at /mnt/local, create nothing "
    "(rescue system: repair)",
    Workflow.FINALIZEONLY: "finalize a restored system mounted at /mnt/local: identities, initramfs, boot loader",
    Workflow.SHELL: "an interactive bash with the run's configuration (every variable) and ReaR's functions",
    Workflow.INSTALL: "install the man page, bash completion, systemd timer and cron example (--root DIR)",
    Workflow.WRITE: "write an ISO or disk image to a USB stick, verified (DEVICE [IMAGE])",
}

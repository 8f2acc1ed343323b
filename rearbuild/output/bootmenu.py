"""The boot menu of the rescue ISO: one model, rendered for isolinux (BIOS) and for GRUB (UEFI).

The entries mirror ReaR's `make_syslinux_config`/`create_grub2_cfg`: the rescue system, the automatic
recovery (`auto_recover` plus ISO_RECOVER_MODE on the kernel command line) and "boot the first disk";
ISO_DEFAULT chooses which one starts when the timeout runs out.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from rearbuild.errors import UserError


class Entry(enum.Enum):
    """A menu entry: its label (isolinux `label`, GRUB `--id`) and the title a user sees."""

    RESCUE = ("rescue", "Recovery system")
    AUTOMATIC = ("automatic", "Automatic Recover")
    BOOTHD = ("boothd0", "Boot first disk")

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def title(self) -> str:
        return self.value[1]


class IsoDefault(enum.Enum):
    """ReaR's ISO_DEFAULT: which entry boots when nobody touches the keyboard."""

    BOOTHD = "boothd"
    MANUAL = "manual"
    AUTOMATIC = "automatic"

    @property
    def entry(self) -> Entry:
        return _DEFAULT_ENTRY[self]

    @classmethod
    def parse(cls, value: str) -> IsoDefault:
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(member.value for member in cls)
            raise UserError(
                f"ISO_DEFAULT={value!r} is not one of {choices}", hint=f"set ISO_DEFAULT to one of {choices}"
            ) from None


_DEFAULT_ENTRY = {
    IsoDefault.BOOTHD: Entry.BOOTHD,
    IsoDefault.MANUAL: Entry.RESCUE,
    IsoDefault.AUTOMATIC: Entry.AUTOMATIC,
}


@dataclass(frozen=True)
class SerialConsole:
    """The serial port the boot loaders talk on (unit 0 is ttyS0 / COM1)."""

    unit: int = 0
    speed: int = 115200

    @classmethod
    def from_cmdline(cls, cmdline: Sequence[str]) -> SerialConsole | None:
        """The port of the first console=ttyS<N>[,<speed>...] kernel parameter, so that the boot menu appears where
        the kernel and the rescue shell will talk; None without one (isolinux and GRUB know only PC ports, ttyS)."""
        for word in cmdline:
            match = _SERIAL_CONSOLE.fullmatch(word)
            if match:
                # no speed: the kernel's default, 9600 (Documentation/admin-guide/serial-console.rst)
                return cls(unit=int(match.group(1)), speed=int(match.group(2) or 9600))
        return None


@dataclass(frozen=True)
class BootMenu:
    """Everything the boot loader configurations say.

    kernel, initrd, marker: absolute paths inside the ISO. marker is a file only this ISO carries; GRUB
    finds the ISO by it. timeout_ds: time until the default entry boots, in 1/10 s (isolinux's unit);
    None waits for ever. cmdline: kernel parameters of every Linux entry (console=... and the like).
    """

    kernel: str
    initrd: str
    marker: str
    cmdline: tuple[str, ...] = ()
    default: IsoDefault = IsoDefault.BOOTHD
    timeout_ds: int | None = 50
    recover_mode: str | None = None
    serial: SerialConsole | None = SerialConsole()
    title: str = "Relax-and-Recover (rearbuild) rescue system"

    def __post_init__(self) -> None:
        for path in (self.kernel, self.initrd, self.marker):
            if not path.startswith("/") or _UNSAFE_PATH.search(path):
                raise UserError(f"boot menu path {path!r} must be absolute and contain no blanks or quotes")
        for arg in self.cmdline:
            if not arg or _BLANK.search(arg):
                raise UserError(
                    f"kernel parameter {arg!r} is empty or contains blanks",
                    hint="isolinux cannot quote kernel parameters: give one word per parameter",
                )
        if self.recover_mode is not None and not _WORD.fullmatch(self.recover_mode):
            raise UserError(f"ISO_RECOVER_MODE={self.recover_mode!r} must be a single word, e.g. unattended")
        if self.timeout_ds is not None and self.timeout_ds < 0:
            raise UserError(f"boot menu timeout {self.timeout_ds} must not be negative")
        if _UNSAFE_TITLE.search(self.title):
            raise UserError(f"boot menu title {self.title!r} must be one line without quotes or $")

    @property
    def automatic_cmdline(self) -> tuple[str, ...]:
        mode = (self.recover_mode,) if self.recover_mode else ()
        return (*self.cmdline, "auto_recover", *mode)


_BLANK = re.compile(r"\s")
_SERIAL_CONSOLE = re.compile(r"console=ttyS([0-9]+)(?:,([0-9]+)[^ ]*)?")
_WORD = re.compile(r"[A-Za-z0-9_.-]+")
_UNSAFE_PATH = re.compile(r"[\s\"'$;\\]")
_UNSAFE_TITLE = re.compile(r"[\n\r\"'$\\]")
# Characters GRUB's shell-like parser takes literally (GRUB manual, "Shell-like scripting": quoting).
_GRUB_PLAIN = re.compile(r"[A-Za-z0-9_.,:=/+@%-]+")


def _grub_quote(arg: str) -> str:
    if _GRUB_PLAIN.fullmatch(arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def _grub_args(args: Sequence[str]) -> str:
    return " ".join(_grub_quote(arg) for arg in args)


class Templates:
    """The boot menu templates of one output (images/<output>/ under SHARE_DIR): jinja2, strict about names."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir():
            raise UserError(f"the boot menu templates {directory} do not exist", hint="check --share-dir")
        self.directory = directory
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # boot loader configurations, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def _render(self, name: str, **context: object) -> str:
        return self._env.get_template(name).render(Entry=Entry, **context)

    def isolinux_cfg(self, menu: BootMenu) -> str:
        """isolinux.cfg for the BIOS boot (menu.c32, chain.c32 for the first disk)."""
        # isolinux has no "boot immediately": its timeout 0 means "wait for ever", so the shortest is 1/10 s.
        timeout = 0 if menu.timeout_ds is None else max(1, menu.timeout_ds)
        return self._render(
            "isolinux.cfg.j2",
            menu=menu,
            isolinux_timeout=timeout,
            rescue_cmdline=" ".join(menu.cmdline),
            automatic_cmdline=" ".join(menu.automatic_cmdline),
        )

    def grub_cfg(self, menu: BootMenu) -> str:
        """/boot/grub/grub.cfg for the UEFI boot; GRUB counts whole seconds, -1 waits for ever."""
        timeout = -1 if menu.timeout_ds is None else math.ceil(menu.timeout_ds / 10)
        return self._render(
            "grub.cfg.j2",
            menu=menu,
            grub_timeout=timeout,
            rescue_cmdline_grub=_grub_args(menu.cmdline),
            automatic_cmdline_grub=_grub_args(menu.automatic_cmdline),
        )

    def disk_grub_cfg(self, menus: Sequence[BootMenu]) -> str:
        """grub.cfg of a USB medium or RAWDISK image (images/usb/): one rescue and one automatic entry per kept
        rescue system, newest first; the first menu's timeout, default and serial console apply."""
        if not menus:
            raise UserError("a boot menu needs at least one rescue system")
        first = menus[0]
        timeout = -1 if first.timeout_ds is None else math.ceil(first.timeout_ds / 10)
        entries = [(m, _grub_args(m.cmdline), _grub_args(m.automatic_cmdline)) for m in menus]
        return self._render("grub.cfg.j2", menu=first, grub_timeout=timeout, entries=entries)

    def grub_early_cfg(self, marker: str) -> str:
        """The configuration built into the EFI GRUB: find the ISO by marker, then read its grub.cfg."""
        if not marker.startswith("/") or _UNSAFE_PATH.search(marker):
            raise UserError(f"marker path {marker!r} must be absolute and contain no blanks or quotes")
        return self._render("grub-early.cfg.j2", marker=marker)
